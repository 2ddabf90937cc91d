//! Skipping a test that cannot run here (no test database), with a notice that names it.
//!
//! A skipped test passes, so the notice is the only trace it leaves: it names the test
//! and the reason, and goes to stderr, which `cargo test` shows with `--nocapture` and
//! for every failing test.

/// The running test's name as the test harness gives it (`module::test_name`).
///
/// The standard test harness runs each test on a thread named after it, so this works
/// from any test, the factory of a conformance test included, without passing the name
/// down. Outside such a thread (a test binary with `harness = false`, a thread of the
/// test's own) it is `"this test"`.
pub fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "this test".to_owned(),
    }
}

/// Prints the notice that `test` is skipped because of `reason`.
pub fn skip_notice(test: &str, reason: &str) {
    eprintln!("skipping {test}: {reason}");
}
