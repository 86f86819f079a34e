//! Behaviour of `Xbuf` on the host backend (the cases are in px/xbuf.rs; tests/evl_px.rs runs
//! them on the EVL core).

mod px;

px_tests!(crate::px::host; xbuf;
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
);
