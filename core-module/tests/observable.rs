//! Behaviour of `Observable` on the host backend (the cases are in px/observable.rs; tests/evl_px.rs runs
//! them on the EVL core).

mod px;

px_tests!(crate::px::host; observable;
    a_subscriber_sees_every_update_up_to_its_backlog_then_counts_losses,
    two_subscribers_each_see_everything,
    a_full_backlog_only_costs_its_own_subscriber,
    poll_fd_is_readable_exactly_while_notifications_are_pending,
    bad_tags_zero_backlog_and_public_names_are_typed_errors,
    without_subscribers_updates_reach_nobody_and_drop_unsubscribes,
    a_blocked_read_wakes_on_update_and_read_until_times_out,
    dropping_the_observable_closes_its_subscribers_after_their_backlog,
    concurrent_updaters_lose_nothing_within_the_backlog,
    steady_state_update_and_try_read_allocate_nothing,
);
