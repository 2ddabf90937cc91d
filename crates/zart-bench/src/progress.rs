//! Progress messages on stderr, so stdout carries only the result.

use std::time::Instant;

/// Prints progress lines to stderr, stamped with the time since the run began.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    began: Instant,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// A reporter whose clock starts now.
    pub fn new() -> Self {
        Self {
            began: Instant::now(),
        }
    }

    /// Prints one line.
    pub fn note(&self, message: impl std::fmt::Display) {
        eprintln!("[{:>7.2}s] {message}", self.began.elapsed().as_secs_f64());
    }
}
