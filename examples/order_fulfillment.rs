//! Order fulfillment on embedded SQLite, end to end, unattended:
//!
//! ```text
//! cargo run --release --example order_fulfillment
//! ```
//!
//! The workflow validates the address, charges the card (a flaky payment gateway that
//! fails twice and is retried with exponential backoff), reserves inventory, sleeps
//! durably while the warehouse settles, then waits for a `shipment_ready` event, which
//! this program delivers itself a moment later, as a warehouse system would over HTTP.
//! Every step result is checkpointed: kill the program mid-way and run the workflow
//! again on the same database, and completed steps are not repeated.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use zart::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    amount_cents: u64,
    address: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shipment {
    tracking_number: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    order_id: String,
    transaction_id: String,
    reservation_id: String,
    tracking_number: String,
}

/// A payment gateway that times out on its first two calls.
#[derive(Clone, Default)]
struct FlakyGateway {
    calls: Arc<AtomicU32>,
}

impl FlakyGateway {
    async fn charge(&self, order: &Order) -> Result<String, TaskError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call <= 2 {
            println!("  payment gateway: timeout on call {call}, will retry");
            return Err(TaskError::retryable("payment gateway timed out"));
        }
        Ok(format!("txn-{}-{}", order.order_id, order.amount_cents))
    }
}

/// The workflow, declared as a type: it holds the gateway it charges, and its
/// input and output types are checked where it is started and awaited.
struct Fulfill {
    gateway: FlakyGateway,
}

impl Task for Fulfill {
    const NAME: &'static str = "order-fulfillment";
    type Input = Order;
    type Output = Receipt;

    async fn run(&self, ctx: Ctx, order: Order) -> TaskResult<Receipt> {
        // The handler runs again after every suspension (the sleep, the wait); completed
        // steps then return their journaled results without running.
        println!(
            "  handler running (run {}), replaying the journal",
            ctx.run_index()
        );
        ctx.step("validate-address", || {
            let address = order.address.clone();
            async move {
                if address.trim().is_empty() {
                    return Err(TaskError::permanent("empty shipping address"));
                }
                Ok(())
            }
        })
        .await?;

        let payment = StepOptions::retry(RetryPolicy::exponential(
            Duration::from_millis(100),
            Duration::from_secs(2),
            5,
        ));
        let transaction_id: String = ctx
            .step_with("process-payment", payment, || {
                let (gateway, order) = (self.gateway.clone(), order.clone());
                async move {
                    let txn = gateway.charge(&order).await?;
                    println!("  charged: {txn}");
                    Ok(txn)
                }
            })
            .await?;

        let reservation_id: String = ctx
            .step("reserve-inventory", || {
                let order_id = order.order_id.clone();
                async move { Ok(format!("res-{order_id}")) }
            })
            .await?;

        ctx.sleep("warehouse-settle", Duration::from_millis(500))
            .await;

        let shipment: Shipment = ctx
            .wait_for_event("shipment_ready", Duration::from_secs(60))
            .await?;

        Ok(Receipt {
            order_id: order.order_id,
            transaction_id,
            reservation_id,
            tracking_number: shipment.tracking_number,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::temp_dir().join(format!("zart-order-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    println!("database: {url}");

    let zart = Zart::builder(zart::connect(&url).await?)
        .add_task(Fulfill {
            gateway: FlakyGateway::default(),
        })
        .build();
    let worker = zart.start_worker(WorkerConfig::default());
    let client = zart.client();

    let order = Order {
        order_id: "A-1001".into(),
        amount_cents: 4999,
        address: "1 Main St".into(),
    };
    let started = client
        .start_task::<Fulfill>(order)
        .id("order-A-1001")
        .await?;
    let id = started.execution.id;
    println!("started execution {id}");

    // The warehouse system reports the shipment a moment later.
    let warehouse = client.clone();
    let event_id = id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        println!("  warehouse: shipment ready");
        let shipment = json!({"trackingNumber": "1Z999AA10123456784"});
        if let Err(e) = warehouse
            .offer_event(&event_id, "shipment_ready", shipment)
            .await
        {
            eprintln!("could not deliver the event: {e}");
        }
    });

    // A failed execution is an error carrying its structured error.
    let receipt: Receipt = client
        .wait_task::<Fulfill>(&id, Duration::from_secs(30))
        .await?;
    worker.shutdown(Duration::from_secs(5)).await;
    println!("\nreceipt:\n{}", serde_json::to_string_pretty(&receipt)?);

    let detail = client.detail(&id, None).await?;
    println!("\njournal:");
    for step in &detail.steps {
        println!(
            "  {:<24} {:<15} {:<10} attempts={}",
            step.step_id,
            step.kind.as_str(),
            step.status.as_str(),
            step.retry_attempt
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
