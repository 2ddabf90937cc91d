//! The [`conformance_suite!`](crate::conformance_suite) macro and the list of every
//! behaviour it instantiates.

/// Expands to one `#[test]` per store behaviour, in a module named `conformance`
/// (or the name given with `mod NAME = FACTORY`).
///
/// `FACTORY` is an expression evaluating to a closure that returns a future of
/// `Option<S>` where `S: Into<TestStore>` (an `Arc<dyn Store>` or a
/// [`TestStore`](crate::TestStore) with a guard). It is called once per test, so
/// every test gets a fresh store; `None` skips the test with a notice. Items of the
/// calling module are visible to the factory (the generated module does
/// `use super::*`).
///
/// ```ignore
/// zart_store_tests::conformance_suite!(|| async { Some(make_store().await) });
/// zart_store_tests::conformance_suite!(mod in_memory = || async { Some(make_memory_store()) });
/// ```
#[macro_export]
macro_rules! conformance_suite {
    (mod $module:ident = $factory:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!($factory);
        }
    };
    ($factory:expr) => {
        $crate::conformance_suite!(mod conformance = $factory);
    };
}

/// One named test running `$crate::$area::$name` against a fresh store.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    ($factory:expr, $area:ident :: $name:ident) => {
        #[test]
        fn $name() {
            $crate::run_conformance_test(stringify!($name), $factory, $crate::$area::$name);
        }
    };
}

/// Every behaviour of the suite. A new behaviour is added here and in its area file.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_tests!(@each $factory;
        executions::insert_creates_scheduled_execution_with_initial_run,
        executions::insert_same_id_returns_existing_unchanged,
        executions::insert_round_trips_payload_json,
        executions::insert_returns_the_stored_record,
        executions::reads_of_unknown_execution_are_none,
        executions::ping_succeeds_and_backend_is_named,
        executions::as_any_reaches_the_backend_store,
        executions::version_increments_on_every_state_change,
        executions::concurrent_inserts_of_same_id_create_once,
        migrations::migration_list_reports_every_schema_migration_in_order,
        claims::claim_increments_fence_and_marks_running,
        claims::claim_returns_task_payload_run_and_deadline,
        claims::claim_returns_the_trace_context_stored_at_insert,
        claims::claim_skips_executions_leased_by_others,
        claims::claim_takes_execution_whose_lease_expired,
        claims::claim_respects_due_at_and_limit,
        claims::claim_ignores_terminal_executions,
        claims::next_due_reports_earliest_due_or_lease_expiry,
        queues::queue_put_replaces_settings_and_reads_back,
        queues::queue_claim_respects_global_concurrency,
        queues::queue_claim_serves_only_the_queues_named,
        queues::queue_parked_execution_frees_its_slot,
        queues::queue_claims_by_priority_then_due_time,
        queues::queue_priority_aging_claims_long_waiting_work_first,
        queues::queue_rate_limit_caps_claims_per_period,
        queues::queue_rate_limit_survives_redeclaration,
        queues::queue_key_limit_skips_keys_at_their_limit,
        queues::queue_keys_are_served_round_robin,
        deduplication::dedup_returns_the_unfinished_holder,
        deduplication::dedup_is_scoped_to_the_queue,
        deduplication::dedup_ends_when_the_holder_finishes,
        deduplication::dedup_new_run_of_a_finished_holder_gives_up_the_id,
        deduplication::dedup_concurrent_starts_create_once,
        leases::stale_fence_cannot_save_step,
        leases::wrong_worker_cannot_write,
        leases::expired_lease_cannot_write,
        leases::guarded_write_on_unknown_execution_is_refused,
        leases::lease_renew_reports_lost_leases,
        leases::lease_renew_answers_a_stale_and_a_current_lease_once,
        leases::release_makes_execution_due_now,
        leases::waiting_for_reflects_lease_and_parked_state,
        parking::suspend_parks_until_wake_at,
        parking::suspend_with_past_wake_at_is_due_now,
        parking::suspend_without_wake_at_parks_until_woken,
        parking::suspend_on_event_with_pending_event_is_due_now,
        parking::suspend_on_event_ignores_events_of_other_names,
        parking::suspend_on_child_already_finished_is_due_now,
        parking::suspend_on_unfinished_child_parks,
        parking::finish_records_result_and_run_status,
        parking::finish_wakes_parent_waiting_on_child,
        parking::finish_does_not_wake_parent_parked_on_other_wait,
        steps::journal_load_orders_by_position,
        steps::step_save_round_trips_every_field,
        steps::step_save_upserts_and_records_attempts,
        steps::detail_includes_runs_steps_and_attempts,
        steps::completing_attempt_survives_later_saves,
        events::event_offered_before_wait_is_kept,
        events::events_are_consumed_fifo_per_name_exactly_once,
        events::event_consume_empty_changes_nothing,
        events::event_consume_with_lost_lease_keeps_event,
        events::event_offer_unknown_execution_is_not_found,
        events::event_offer_to_finished_execution_is_terminal,
        events::event_offer_wakes_parked_waiter,
        events::event_offer_does_not_disturb_leased_execution,
        events::concurrent_event_offers_are_all_kept,
        events::concurrent_consumes_take_each_event_once,
        inbox::event_offer_returns_increasing_sequences,
        inbox::event_offer_with_same_key_is_stored_once,
        inbox::event_offer_key_stored_before_finish_stays_duplicate,
        inbox::concurrent_keyed_offers_store_one,
        inbox::event_offer_past_inbox_limit_is_refused,
        inbox::event_list_pages_newest_first_with_consumption,
        children::child_spawn_creates_child_and_spawn_entry,
        children::child_spawn_stores_the_childs_trace_context,
        children::child_spawn_is_idempotent,
        children::child_spawn_with_lost_lease_creates_nothing,
        children::child_spawn_refuses_foreign_execution_with_child_id,
        children::cancel_cascades_to_children_and_bumps_fence,
        children::cancel_finished_execution_is_already_terminal,
        children::cancel_unknown_execution_is_not_found,
        children::cancel_of_child_wakes_parent_waiting_on_it,
        parent_close::finish_cancels_unfinished_children,
        parent_close::failed_parent_cancels_children,
        parent_close::abandoned_child_outlives_parent_finish,
        parent_close::cancel_skips_abandoned_children,
        listing::list_filters_sorts_and_pages,
        listing::list_search_is_literal_substring,
        listing::stats_counts_by_status,
        listing::activity_counts_created_and_finished_per_bucket,
        retention::purge_deletes_old_finished_executions_only,
        retention::purge_cutoff_is_exclusive,
        retention::purge_keeps_trees_with_unfinished_executions,
        retention::purge_deletes_finished_trees_whole,
        retention::purge_cutoffs_are_per_status,
        retention::purge_limit_counts_trees,
        signals::signals_work_on_insert_and_finished_on_finish,
        signals::signals_work_on_release,
        signals::signals_work_when_event_wakes_waiter,
        signals::signals_work_on_child_spawn_and_child_finish,
        signals::signals_finished_for_each_cancelled_execution,
        concurrency::concurrent_claims_never_double_lease,
        concurrency::concurrent_step_saves_all_commit,
        concurrency::concurrent_saves_with_attempts_are_all_durable,
        concurrency::stale_guards_among_concurrent_saves_fail_alone,
        concurrency::concurrent_saves_of_one_entry_all_apply,
        concurrent_writes::concurrent_inserts_with_duplicates_create_each_id_once,
        concurrent_writes::concurrent_finishes_are_durable_signalled_and_guarded_one_by_one,
        concurrent_writes::children_finished_together_wake_every_parked_parent,
        concurrent_writes::concurrent_offers_wake_the_parked_and_keep_order,
        concurrent_writes::parents_finished_together_cancel_their_unfinished_children,
        races::event_offered_while_suspending_is_never_missed,
        races::child_finishing_while_parent_suspends_is_never_missed,
        races::cancel_racing_children_finishing_completes_consistently,
        cancellation::dropped_reads_leave_the_store_readable,
        actions::step_retry_requeues_the_dead_step_and_reopens_the_execution,
        actions::step_retry_moves_the_fence_on,
        actions::step_retry_clears_what_the_execution_waited_for,
        actions::step_retry_by_name_takes_every_dead_occurrence_and_by_id_one,
        actions::step_retry_refuses_unknown_live_and_non_step_entries,
        actions::step_retry_refuses_completed_and_cancelled_executions,
        actions::actions_on_unknown_execution_are_not_found,
        actions::action_with_a_recorded_key_is_replayed,
        actions::applied_actions_appear_in_execution_detail,
        actions::purge_deletes_the_actions_of_purged_executions,
        reruns::restart_starts_a_new_run_with_an_empty_journal,
        reruns::restart_with_a_payload_runs_on_it,
        reruns::new_runs_follow_the_latest_run,
        reruns::restart_and_rerun_refuse_unfinished_executions,
        reruns::every_applied_action_signals_work,
        reruns::rerun_keeps_completed_steps_outside_the_effective_set,
        reruns::rerun_preserve_wins_and_dead_steps_rerun_by_default,
        reruns::rerun_of_unknown_steps_is_refused,
        action_races::concurrent_actions_on_one_execution_apply_once,
        action_races::concurrent_restarts_start_one_run,
        pauses::pause_create_stores_the_rule_and_signals_pauses,
        pauses::pause_list_shows_active_rules_oldest_first,
        pauses::pause_delete_resumes_parked_executions_and_signals,
        pauses::suspend_on_pause_rule_parks_until_it_expires,
        pauses::suspend_on_released_pause_rule_is_due_now,
        pauses::pause_delete_racing_suspension_never_leaves_it_parked,
        pauses::pause_delete_racing_many_suspensions_resumes_them_all,
        schedules::schedule_put_creates_then_finds_the_same_spec,
        schedules::schedule_put_conflicts_or_replaces_another_spec,
        schedules::schedule_put_paused_creates_it_paused,
        schedules::schedule_list_and_delete,
        schedules::schedule_due_lists_what_is_due_and_unpaused,
        schedules::schedule_pause_and_resume,
        schedules::schedule_fire_moves_the_cursor_once,
        schedules::schedule_trigger_leaves_the_cursor,
        schedules::concurrent_firings_of_one_slot_record_it_once,
        );
    };
    (@each $factory:expr; $($area:ident :: $name:ident,)+) => {
        $( $crate::__conformance_test!($factory, $area :: $name); )+
    };
}
