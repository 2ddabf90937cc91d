// Not shipped with Zart: its Swagger UI page loads swagger-ui-bundle.js.
