//! Journaled values: the current time, UUIDs and random numbers, fixed once per run so
//! a replay sees the same values.

use serde::de::DeserializeOwned;
use serde::Serialize;
use zart_core::{StepKind, StepWrite, Timestamp};

use super::{in_flight, park, Ctx, Halt};

impl Ctx {
    /// The current time, recorded the first time the code reaches this call.
    pub async fn now(&self) -> Timestamp {
        self.journaled("zart.now", StepKind::Now, || self.now_wall())
            .await
    }

    /// A random UUID v4, recorded the first time the code reaches this call.
    pub async fn uuid(&self) -> uuid::Uuid {
        self.journaled("zart.uuid", StepKind::Uuid, uuid::Uuid::new_v4)
            .await
    }

    /// A random `f64` in `[0, 1)`, recorded the first time the code reaches this call.
    pub async fn random(&self) -> f64 {
        self.journaled("zart.random", StepKind::Random, rand::random::<f64>)
            .await
    }

    async fn journaled<T, F>(&self, name: &str, kind: StepKind, make: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        match self.record_value(name, kind, make).await {
            Ok(value) => value,
            Err(halt) => park(halt).await,
        }
    }

    async fn record_value<T, F>(&self, name: &str, kind: StepKind, make: F) -> Result<T, Halt>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        let reserved = self.reserve(name, kind)?;
        if let Some(rec) = &reserved.recorded {
            let value = rec.result.clone().unwrap_or_default();
            return serde_json::from_value(value).map_err(|e| {
                self.halt(Halt::Store {
                    message: format!("journaled {kind} is unreadable: {e}"),
                    release: false,
                })
            });
        }
        let value = make();
        let now = self.now_wall();
        let result = serde_json::to_value(&value).ok();
        let step = StepWrite::completed(reserved.header(now), result, now);
        in_flight(self, self.save(step, None)).await?;
        Ok(value)
    }
}
