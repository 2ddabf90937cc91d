//! The PostgreSQL test database, from the environment.

/// `ZART_TEST_POSTGRES_URL`, or `None` after printing a notice that the PostgreSQL
/// tests are skipped. With `ZART_REQUIRE_POSTGRES=1` a missing URL panics instead, so
/// CI cannot skip them silently.
pub fn postgres_url() -> Option<String> {
    match std::env::var("ZART_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("ZART_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("ZART_REQUIRE_POSTGRES=1 but ZART_TEST_POSTGRES_URL is not set");
            }
            eprintln!("ZART_TEST_POSTGRES_URL is not set: skipping PostgreSQL tests");
            None
        }
    }
}
