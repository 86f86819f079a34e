//! Behaviour of `Proxy` on the host backend (the cases are in px/proxy.rs; tests/evl_px.rs runs
//! them on the EVL core).

mod px;

px_tests!(crate::px::host; proxy;
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
);
