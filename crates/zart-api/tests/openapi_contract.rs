//! The OpenAPI document, pinned: `/openapi.json` must equal `tests/contract/openapi.json`
//! (compared as JSON values, the package version left out). A change here is a change
//! of the documented contract; after a deliberate one, regenerate the file with
//! `ZART_BLESS_OPENAPI=1 cargo test -p zart-api --test openapi_contract`.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;

const PINNED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/contract/openapi.json");

#[tokio::test]
async fn openapi_document_matches_the_pinned_contract() {
    let t = app().await;
    let mut doc = t.get("/openapi.json").await.expect(StatusCode::OK);
    doc["info"]["version"] = Value::String("pinned".into());
    if std::env::var_os("ZART_BLESS_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
        std::fs::write(PINNED, text).expect("write the pinned document");
    }
    let pinned: Value =
        serde_json::from_str(&std::fs::read_to_string(PINNED).expect("the pinned document"))
            .expect("the pinned document is JSON");
    assert!(
        doc == pinned,
        "/openapi.json differs from {PINNED}:\n{}",
        serde_json::to_string_pretty(&doc).unwrap()
    );
}
