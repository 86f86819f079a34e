//! `Proxy`, `Xbuf` and `Observable` on the real EVL core: the behaviour cases of px/*.rs plus
//! EVL-only ones. Without `/dev/evl/control` every test says it was skipped and returns.

mod px;

px_tests!(crate::px::evl; proxy;
    delivers_every_byte_in_order_through_a_pipe,
    delivers_to_a_file_and_flush_means_delivered,
    stalled_target_drops_and_delivers_exactly_the_accepted_parts,
    flush_times_out_on_a_stalled_target,
    drop_returns_even_when_the_target_never_reads,
    concurrent_writers_lose_nothing_when_not_full,
    a_broken_target_is_reported,
    bad_arguments_are_typed_errors,
    poll_fd_is_writable_while_there_is_room,
    steady_state_write_and_flush_allocate_nothing,
    evl_a_public_proxy_is_written_by_name,
);

px_tests!(crate::px::evl; xbuf;
    bytes_round_trip_in_both_directions_across_threads,
    try_read_on_empty_and_try_write_on_full_would_block,
    read_until_times_out_at_the_deadline,
    a_blocked_read_wakes_when_bytes_arrive,
    fds_poll_readable_and_writable_exactly_when_operations_would_not_block,
    a_public_xbuf_opened_by_name_shares_the_creators_rings,
    creating_a_public_xbuf_twice_is_already_exists,
    bad_names_and_zero_sizes_are_invalid_arguments,
    dropping_one_end_closes_the_other_after_the_remaining_bytes,
    a_writer_blocked_on_a_full_ring_wakes_when_the_reader_end_goes,
    steady_state_try_write_and_try_read_allocate_nothing,
    evl_the_rt_end_needs_an_attached_thread,
);

px_tests!(crate::px::evl; observable;
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
    evl_a_public_observable_is_opened_by_name,
    evl_a_subscription_belongs_to_its_thread,
);
