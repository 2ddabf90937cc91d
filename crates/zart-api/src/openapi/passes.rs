//! Passes over the generated document for what holds for every route alike, so that
//! a new route cannot forget it: the 401 of guarded routes, the length limits of the
//! path parameters, and the links from a started execution to what can follow.

use serde_json::{json, Map, Value};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{Ref, Schema};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr};

/// The path of the route that starts executions, relative to the API prefix.
pub(super) const START_PATH: &str = "/executions";
/// Where a started execution's id is in the answer to a start.
const STARTED_ID: &str = "$response.body#/durableExecutionId";

/// The operations reachable with a started execution's id: link name, operation id
/// (the handler's name), description.
const FOLLOW_UPS: [(&str, &str, &str); 5] = [
    ("get", "get_execution", "The execution"),
    ("wait", "wait_execution", "Wait until it is terminal"),
    ("cancel", "cancel_execution", "Cancel it"),
    ("event", "post_event", "Deliver an event to it"),
    (
        "detail",
        "execution_detail",
        "Its runs, steps and attempts (admin)",
    ),
];

/// Adds a 401 to every operation that does not allow anonymous calls (the health
/// checks declare `security: [{}]`).
pub(super) fn document_unauthorized(doc: &mut Document) {
    let anonymous = vec![SecurityRequirement::default()];
    for operation in operations(doc) {
        if operation.security.as_ref() == Some(&anonymous) {
            continue;
        }
        let response = ResponseBuilder::new()
            .description("Missing or wrong bearer token (when the server requires one)")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .insert("401".to_owned(), RefOr::T(response));
    }
}

/// States on every path parameter, all ids and names, the client's limit: 1 to
/// [`zart::MAX_NAME_CHARS`] characters.
pub(super) fn limit_path_parameters(doc: &mut Document) {
    for operation in operations(doc) {
        let parameters = operation.parameters.iter_mut().flatten();
        for parameter in parameters.filter(|p| p.parameter_in == ParameterIn::Path) {
            if let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema {
                schema.min_length = Some(1);
                schema.max_length = Some(zart::MAX_NAME_CHARS);
            }
        }
    }
}

/// Links the answers of `POST /executions` (201 and 200), at `start_path` in `doc`,
/// to the operations that take the started execution's id. Written as JSON: utoipa
/// 5's `Link` serializes `operation_id` where OpenAPI says `operationId`.
pub(super) fn link_start_to_follow_ups(doc: &mut Value, start_path: &str) {
    let links: Map<String, Value> = FOLLOW_UPS
        .iter()
        .map(|(name, operation_id, description)| {
            let link = json!({
                "operationId": operation_id,
                "parameters": {"executionId": STARTED_ID},
                "description": description,
            });
            ((*name).to_owned(), link)
        })
        .collect();
    let responses = doc
        .pointer_mut(&format!(
            "/paths/{}/post/responses",
            pointer_token(start_path)
        ))
        .and_then(Value::as_object_mut);
    for (status, response) in responses.into_iter().flatten() {
        if status == "200" || status == "201" {
            response["links"] = Value::Object(links.clone());
        }
    }
}

/// `text` as one JSON-pointer token (RFC 6901: `~` is `~0`, `/` is `~1`).
fn pointer_token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

/// Every operation of the document.
fn operations(doc: &mut Document) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(item_operations)
}

fn item_operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}
