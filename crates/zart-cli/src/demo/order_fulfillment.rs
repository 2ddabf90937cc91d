//! `order-fulfillment`: the tour of the engine in one workflow — memoized steps, a
//! retried step, a durable sleep and a wait for an external event with a timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zart::{Ctx, RetryPolicy, StepOptions, TaskError, TaskResult};

/// The task name.
pub(super) const NAME: &str = "order-fulfillment";
/// The event that reports the shipment.
const SHIPMENT_EVENT: &str = "shipment_ready";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Input {
    order_id: String,
    amount: f64,
    #[serde(default = "default_settle_ms")]
    settle_ms: u64,
    #[serde(default = "default_shipment_timeout_secs")]
    shipment_timeout_secs: u64,
}

fn default_settle_ms() -> u64 {
    1000
}

fn default_shipment_timeout_secs() -> u64 {
    3600
}

/// The payload of the `shipment_ready` event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shipment {
    tracking_number: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Output {
    order_id: String,
    transaction_id: String,
    tracking_number: String,
}

/// Validates, charges, reserves, lets the warehouse settle, then waits for the
/// shipment. A shipment that does not arrive in time fails the execution with the
/// wait's timeout error, which names `shipment_ready`.
pub(super) async fn run(ctx: Ctx, input: Input) -> TaskResult<Output> {
    let order_id = input.order_id.clone();
    ctx.step("validate-address", || async { Ok(true) }).await?;
    let transaction_id = process_payment(&ctx, &input).await?;
    ctx.step("reserve-inventory", || {
        let order_id = order_id.clone();
        async move { Ok(format!("reservation-{order_id}")) }
    })
    .await?;
    ctx.sleep("warehouse-settle", Duration::from_millis(input.settle_ms))
        .await;
    let timeout = Duration::from_secs(input.shipment_timeout_secs);
    let shipment: Shipment = ctx.wait_for_event(SHIPMENT_EVENT, timeout).await?;
    Ok(Output {
        order_id,
        transaction_id,
        tracking_number: shipment.tracking_number,
    })
}

/// Charges the order; a declined (non-positive) amount is a permanent failure, any
/// other failure would be retried with exponential backoff.
async fn process_payment(ctx: &Ctx, input: &Input) -> TaskResult<String> {
    let retry = RetryPolicy::exponential(Duration::from_millis(200), Duration::from_secs(10), 5);
    let amount = input.amount;
    ctx.step_with(
        "process-payment",
        StepOptions::retry(retry),
        || async move {
            if !(amount.is_finite() && amount > 0.0) {
                return Err(TaskError::permanent(format!(
                    "payment declined: amount must be a positive number, got {amount}"
                )));
            }
            Ok(format!("txn-{}", uuid::Uuid::new_v4()))
        },
    )
    .await
}
