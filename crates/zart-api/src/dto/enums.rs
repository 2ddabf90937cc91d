//! Documentation twins of the core enums: they give the OpenAPI document the accepted
//! values. Fields keep the core types (whose serde form is the wire form); a unit test
//! checks that each twin lists exactly the core's values.

use serde::Serialize;
use utoipa::ToSchema;

/// The lifecycle state of an execution.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ExecutionStatus {
    Scheduled,
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// The state of one step.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StepStatus {
    Scheduled,
    Running,
    Completed,
    Dead,
}

/// What a journal entry records.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StepKind {
    Step,
    Sleep,
    WaitForEvent,
    Spawn,
    Child,
    Now,
    Uuid,
    Random,
}

/// Why a run was started.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RunTrigger {
    Initial,
    Restart,
    SelectiveRerun,
}

/// The outcome of one step attempt.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum AttemptStatus {
    Running,
    Completed,
    Failed,
}

/// The class of an execution failure.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[allow(missing_docs)]
pub enum ErrorKind {
    #[serde(rename = "step_failed")]
    StepFailed,
    #[serde(rename = "handler_error")]
    Handler,
    #[serde(rename = "panic")]
    Panic,
    #[serde(rename = "non_determinism")]
    NonDeterminism,
    #[serde(rename = "deadline_exceeded")]
    DeadlineExceeded,
    #[serde(rename = "event_timeout")]
    EventTimeout,
    #[serde(rename = "invalid_input")]
    InvalidInput,
    #[serde(rename = "unknown_task")]
    UnknownTask,
    #[serde(rename = "child_failed")]
    ChildFailed,
}

/// Sort field of the execution list.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub enum SortBy {
    ScheduledAt,
    Status,
    TaskName,
}

/// Sort direction of the execution list.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    use utoipa::PartialSchema;

    fn schema_values<T: PartialSchema>() -> Vec<String> {
        let RefOr::T(Schema::Object(object)) = T::schema() else {
            panic!("expected an inline enum schema");
        };
        let values = object.enum_values.expect("an enum lists its values");
        values
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    fn core_values<T: Copy + std::fmt::Display>(all: &[T]) -> Vec<String> {
        all.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn documented_enums_list_exactly_the_core_values() {
        use zart_core as core;
        assert_eq!(
            schema_values::<super::ExecutionStatus>(),
            core_values(core::ExecutionStatus::ALL)
        );
        assert_eq!(
            schema_values::<super::StepStatus>(),
            core_values(core::StepStatus::ALL)
        );
        assert_eq!(
            schema_values::<super::StepKind>(),
            core_values(core::StepKind::ALL)
        );
        assert_eq!(
            schema_values::<super::RunTrigger>(),
            core_values(core::RunTrigger::ALL)
        );
        assert_eq!(
            schema_values::<super::AttemptStatus>(),
            core_values(core::AttemptStatus::ALL)
        );
        assert_eq!(
            schema_values::<super::ErrorKind>(),
            core_values(core::ErrorKind::ALL)
        );
    }

    #[test]
    fn documented_sort_values_parse_in_core() {
        for v in schema_values::<super::SortBy>() {
            assert!(v.parse::<zart_core::SortBy>().is_ok(), "{v}");
        }
        for v in schema_values::<super::SortOrder>() {
            assert!(v.parse::<zart_core::SortOrder>().is_ok(), "{v}");
        }
    }
}
