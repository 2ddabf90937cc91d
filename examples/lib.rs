//! Runnable examples of Zart live beside this file; see `cargo run --example`.
