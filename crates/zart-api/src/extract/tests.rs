use super::*;

fn list(pairs: &[(&str, &str)]) -> Result<ExecutionQuery, ApiError> {
    let query: String = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let params: ListParams = parse_query(&query);
    params.into_query()
}

fn parse_query<T: serde::de::DeserializeOwned>(query: &str) -> T {
    let uri: axum::http::Uri = format!("/x?{query}").parse().unwrap();
    axum::extract::Query::<T>::try_from_uri(&uri).unwrap().0
}

#[test]
fn list_defaults_match_the_contract() {
    let query = list(&[]).unwrap();
    assert_eq!(query, ExecutionQuery::default());
    assert_eq!(query.limit, 20);
    assert_eq!(query.sort_by, SortBy::ScheduledAt);
    assert_eq!(query.sort_order, SortOrder::Desc);
}

#[test]
fn list_parses_every_parameter() {
    let query = list(&[
        ("status", "failed"),
        ("taskName", "charge"),
        ("from", "2024-05-01T12:00:00Z"),
        ("to", "2024-05-02T12:00:00%2B02:00"),
        ("search", "abc"),
        ("sortBy", "taskName"),
        ("sortOrder", "asc"),
        ("limit", "1000"),
        ("offset", "40"),
    ])
    .unwrap();
    assert_eq!(query.status, Some(ExecutionStatus::Failed));
    assert_eq!(query.task_name.as_deref(), Some("charge"));
    assert_eq!(
        query.from.unwrap().to_rfc3339(),
        "2024-05-01T12:00:00+00:00"
    );
    assert_eq!(query.to.unwrap().to_rfc3339(), "2024-05-02T10:00:00+00:00");
    assert_eq!(query.search.as_deref(), Some("abc"));
    assert_eq!(query.sort_by, SortBy::TaskName);
    assert_eq!(query.sort_order, SortOrder::Asc);
    assert_eq!((query.limit, query.offset), (1000, 40));
}

#[test]
fn invalid_list_parameters_are_named_in_the_error() {
    for (name, value) in [
        ("status", "done"),
        ("from", "yesterday"),
        ("to", "2024-13-01"),
        ("sortBy", "id"),
        ("sortOrder", "up"),
        ("limit", "1001"),
        ("limit", "-1"),
        ("offset", "x"),
    ] {
        let err = list(&[(name, value)]).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(
            err.message().contains(name),
            "{name}={value}: {}",
            err.message()
        );
    }
}

#[test]
fn empty_list_parameters_count_as_absent() {
    assert_eq!(
        list(&[("status", ""), ("limit", "")]).unwrap(),
        ExecutionQuery::default()
    );
}

#[test]
fn wait_timeout_defaults_caps_and_accepts_the_alias() {
    let timeout = |q: &str| parse_query::<WaitParams>(q).timeout();
    assert_eq!(timeout("").unwrap(), MAX_WAIT);
    assert_eq!(timeout("timeoutSecs=5").unwrap(), Duration::from_secs(5));
    assert_eq!(timeout("timeout_secs=7").unwrap(), Duration::from_secs(7));
    assert_eq!(timeout("timeoutSecs=3600").unwrap(), MAX_WAIT);
    assert_eq!(timeout("timeoutSecs=10000000000000").unwrap(), MAX_WAIT);
    let beyond_u64 = "timeoutSecs=99999999999999999999999999";
    assert_eq!(timeout(beyond_u64).unwrap(), MAX_WAIT);
    assert!(timeout("timeoutSecs=-1").is_err());
    assert!(timeout("timeoutSecs=soon")
        .unwrap_err()
        .message()
        .contains("timeoutSecs"));
}

#[test]
fn run_id_accepts_an_index_or_a_run_id_of_the_same_execution() {
    let run = |v: &str| {
        DetailParams {
            run_id: Some(v.into()),
        }
        .run_index("ex:1")
    };
    assert_eq!(run("2").unwrap(), Some(2));
    assert_eq!(run("ex:1:3").unwrap(), Some(3));
    assert_eq!(DetailParams::default().run_index("ex").unwrap(), None);
    for bad in ["0", "two", "other:2", "ex:1:x"] {
        assert_eq!(
            run(bad).unwrap_err().status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[test]
fn json_content_types_are_recognized() {
    let check = |ct: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        content_type_is_json(&headers)
    };
    assert_eq!(check("application/json"), Some(true));
    assert_eq!(check("Application/JSON; charset=utf-8"), Some(true));
    assert_eq!(check("application/cloudevents+json"), Some(true));
    assert_eq!(check("text/plain"), Some(false));
    assert_eq!(content_type_is_json(&HeaderMap::new()), None);
}
