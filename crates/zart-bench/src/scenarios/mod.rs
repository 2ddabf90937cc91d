//! One module per scenario.

pub mod flow;
pub mod http;
pub mod latency;
pub mod scaleout;
pub mod schedules;
pub mod suspended;
pub mod throughput;
