//! `zart serve` with both tokens set still serves the OpenAPI document and Swagger UI
//! to anyone (they are how a caller learns to authenticate), and neither holds a token.

mod common;

use common::http::{ADMIN, API};
use common::{temp_db, Server, ServerOptions};
use reqwest::StatusCode;

const API_TOKEN: &str = "api-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789";

#[tokio::test]
async fn openapi_and_swagger_ui_need_no_token_and_hold_none() {
    let (_dir, db) = temp_db();
    let options = ServerOptions::default()
        .env("ZART_API_TOKEN", API_TOKEN)
        .env("ZART_ADMIN_TOKEN", ADMIN_TOKEN);
    let server = Server::start(&db, options).await;
    let anonymous = server.api();

    let doc = anonymous.get("/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK, "{doc:?}");
    assert!(doc.content_type.starts_with("application/json"), "{doc:?}");
    assert_eq!(
        doc.body["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let ui = anonymous.get("/swagger-ui/").await;
    assert_eq!(ui.status, StatusCode::OK);
    let init = anonymous.get("/swagger-ui/swagger-initializer.js").await;
    assert_eq!(init.status, StatusCode::OK);
    for reply in [&doc, &ui, &init] {
        let text = reply.body.to_string();
        assert!(!text.contains(API_TOKEN) && !text.contains(ADMIN_TOKEN));
    }

    let stats = format!("{API}/stats");
    assert_eq!(anonymous.get(&stats).await.status, StatusCode::UNAUTHORIZED);
    let pauses = format!("{ADMIN}/pause");
    assert_eq!(
        anonymous.get(&pauses).await.status,
        StatusCode::UNAUTHORIZED
    );
    let api = server.api().with_token(API_TOKEN);
    assert_eq!(api.get(&stats).await.status, StatusCode::OK);
    assert_eq!(api.get(&pauses).await.status, StatusCode::UNAUTHORIZED);
    let admin = server.api().with_token(ADMIN_TOKEN);
    assert_eq!(admin.get(&pauses).await.status, StatusCode::OK);
}
