//! The demo tasks `zart serve` registers (unless `--no-demo`), so that every feature
//! can be tried with curl or the CLI. Their behaviour is part of the product contract:
//! users and tests rely on the task names, payload keys (camelCase) and results.
//!
//! | task | payload | result |
//! |---|---|---|
//! | `echo` | any JSON | the payload |
//! | `order-fulfillment` | `{orderId, amount, settleMs = 1000, shipmentTimeoutSecs = 3600}` | `{orderId, transactionId, trackingNumber}` |
//! | `approval` | `{timeoutSecs = 3600}` | `{approved, by}` or `{approved: false, timedOut: true}` |
//! | `flaky` | `{failTimes, maxAttempts = 5}` | `{attempts}` |
//! | `fan-out` | `{items: [integers]}` | `{results: [...]}` |
//! | `countdown` | `{steps = 10, stepMs = 100}` | `{completed: steps}` |
//! | `heartbeat` | ignored | `{beat: executionId}`; the demo schedule `heartbeat` starts it every minute |

mod approval;
mod countdown;
mod echo;
mod fan_out;
mod flaky;
mod heartbeat;
mod order_fulfillment;

use zart::TaskRegistry;

/// The names of the demo tasks, in the order they are documented.
pub const DEMO_TASKS: &[&str] = &[
    echo::NAME,
    order_fulfillment::NAME,
    approval::NAME,
    flaky::NAME,
    fan_out::NAME,
    countdown::NAME,
    heartbeat::NAME,
];

/// Registers every demo task in `tasks`.
///
/// ```
/// let mut tasks = zart::TaskRegistry::new();
/// zart_cli::demo::register(&mut tasks);
/// assert!(tasks.contains("order-fulfillment"));
/// ```
pub fn register(tasks: &mut TaskRegistry) {
    tasks.register(echo::NAME, echo::run);
    tasks.register(order_fulfillment::NAME, order_fulfillment::run);
    tasks.register(approval::NAME, approval::run);
    tasks.register(flaky::NAME, flaky::run);
    tasks.register(fan_out::NAME, fan_out::run);
    tasks.register(countdown::NAME, countdown::run);
    tasks.register(heartbeat::NAME, heartbeat::run);
}

/// The demo schedules: `heartbeat` every minute (UTC), starting the task of the same
/// name.
pub fn schedules() -> Vec<zart::core::ScheduleSpec> {
    vec![zart::core::ScheduleSpec::cron(
        heartbeat::NAME,
        heartbeat::NAME,
        heartbeat::CRON,
    )]
}
