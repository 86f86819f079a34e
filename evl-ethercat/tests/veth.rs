//! ethercrab over a veth pair, on evl: the emulated subdevices (tests/emulator) answer on the
//! far end, in a network namespace the test makes. Needs root; skipped with a message
//! otherwise.
//!
//! Init to OP, then 10,000 process-data cycles at 1 kHz from an evl `Interval`: each cycle
//! writes a fresh value to every device's outputs, and reads it back from its inputs (the
//! emulator wires outputs to inputs) with the expected working counter. The cycles after
//! warm-up allocate nothing on the executor thread and, on the EVL core, switch it in-band 0
//! times. The 10,000-cycle test takes the backend's own frame path (direct socket on the
//! host, the in-band relay on EVL); a 2,000-cycle one takes the relay on either backend; a
//! 10,000-cycle one takes EtherCAT over UDP on VLAN 100 (`FramePath::OobUdp`: the core's
//! out-of-band packet socket at both ends on EVL, with 0 in-band switches of the receive
//! thread too; the in-band socket on the host).

mod emulator;

use emulator::netns::Veth;
use ethercrab::{MainDevice, MainDeviceConfig, PduStorage, SubDeviceState, Timeouts};
use evl::time::{self, MissedTicks};
use evl::Executor;
use evl_ethercat::{FramePath, OobRxStats, RelayStats, TxRx, TxRxStats};
use std::rc::Rc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const DEVICES: usize = 2;
const CYCLES: u32 = 10_000;
const RELAY_CYCLES: u32 = 2_000;
const UDP_CYCLES: u32 = 10_000;
/// The VLAN the UDP path runs on (the EVL core diverts IPv4-in-VLAN only).
const VLAN: u16 = 100;
const WARM_UP: u32 = 100;

fn value(cycle: u32, device: usize) -> u32 {
    cycle.wrapping_mul(0x9E37_79B9) ^ (device as u32) << 28
}

/// What one run of the cycle test measured.
struct Outcome {
    allocs: usize,
    inband_switches: Option<u64>,
    stats: TxRxStats,
    relay: Option<RelayStats>,
    /// The UDP path's receive thread, stopped after the cycles (its in-band switches cover
    /// its whole receive loop: init and the cycles).
    oob_rx: Option<OobRxStats>,
}

/// The executor thread's switches to the in-band stage so far (`None` on the host backend).
fn inband_switches() -> Option<u64> {
    evl::core::Thread::current_core_stats()
        .expect("core stats")
        .map(|s| s.inband_switches)
}

/// Init to OP over a fresh veth pair, then `cycles` looped-back cycles through `path`
/// (`None`: what `TxRx::open` picks for the backend), asserting every cycle's values and
/// working counter. `None` when skipped (not root).
fn run_cycles(
    storage: &'static PduStorage<16, { PduStorage::element_size(1100) }>,
    path: Option<FramePath>,
    cycles: u32,
) -> Option<Outcome> {
    let mut net = match Veth::setup() {
        Ok(n) => n,
        Err(why) => {
            eprintln!("SKIPPED (needs root and iproute2 for a veth pair in a namespace): {why}");
            return None;
        }
    };
    let host_if = match path {
        Some(FramePath::OobUdp { .. }) => net
            .start_udp_emulator(DEVICES, VLAN)
            .expect("EtherCAT-over-UDP emulator on the far end"),
        _ => {
            net.start_emulator(DEVICES)
                .expect("emulator on the far end");
            net.host_if.clone()
        }
    };
    // SCHED_FIFO: on the EVL core a weak (SCHED_OTHER) attached thread is moved back
    // in-band after every out-of-band call, by design, so only a real-time one can show 0
    // switches. On the host, where FIFO may be refused, the default serves (values only).
    let ex = match Executor::builder().slot_size(4096).priority(10).build() {
        Ok(ex) => ex,
        Err(e) if evl::core::backend::current().ok() == Some(evl::Backend::Host) => {
            eprintln!("note: SCHED_FIFO refused ({e}); the executor runs at the default policy");
            Executor::builder().slot_size(4096).build().unwrap()
        }
        Err(e) => panic!("a SCHED_FIFO executor on the EVL core: {e}"),
    };
    let seen = net.seen.clone();
    let outcome = ex.block_on(async {
        let (tx, rx, pdu_loop) = storage.try_split().expect("split once");
        let txrx = match path {
            None => TxRx::open(&host_if),
            Some(p) => TxRx::open_with(&host_if, p),
        };
        let txrx = Rc::new(txrx.expect("frame path"));
        if let Some(p) = path {
            assert_eq!(txrx.frame_path(), p);
        }
        let t2 = txrx.clone();
        let _io = ex
            .spawn_local(async move { t2.run(tx, rx).await.map(|_| ()) })
            .unwrap();
        // Values, not timing: a loaded machine (or an emulated one, under qemu) may stall
        // the emulator's thread for longer than ethercrab's defaults (30 ms a PDU, 10 ms an
        // EEPROM read), which would fail the test for nothing.
        let timeouts = Timeouts {
            pdu: Duration::from_secs(2),
            eeprom: Duration::from_secs(2),
            ..Timeouts::default()
        };
        let md = MainDevice::new(pdu_loop, timeouts, MainDeviceConfig::default());
        let group = match md
            .init_single_group::<DEVICES, 64>(evl_ethercat::ethercat_now)
            .await
        {
            Ok(g) => g,
            Err(e) => panic!(
                "init: {e:?}; frames {:?}, relay {:?}, receive thread {:?}, emulator saw {} frames",
                txrx.stats(),
                txrx.relay_stats(),
                txrx.oob_rx_stats(),
                seen.load(std::sync::atomic::Ordering::Relaxed)
            ),
        };
        assert_eq!(group.len(), DEVICES, "subdevices discovered");
        let group = group.into_op(&md).await.expect("PRE-OP -> OP");
        for sd in group.iter(&md) {
            assert_eq!(sd.status().await.expect("AL status").0, SubDeviceState::Op);
            assert_eq!(sd.io_raw().outputs().len(), 4);
            assert_eq!(sd.io_raw().inputs().len(), 4);
        }
        let mut tick = time::interval(Duration::from_millis(1))
            .unwrap()
            .with_policy(MissedTicks::Skip);
        let mut switches_before = None;
        for cycle in 0..cycles {
            if cycle == WARM_UP {
                switches_before = inband_switches();
                evl_alloc_count::start_counting();
            }
            tick.tick().await.unwrap();
            for (i, sd) in group.iter(&md).enumerate() {
                sd.outputs_raw_mut()
                    .copy_from_slice(&value(cycle, i).to_le_bytes());
            }
            let r = match group.tx_rx(&md).await {
                Ok(r) => r,
                Err(e) => panic!(
                    "tx_rx at cycle {cycle}: {e:?}; frames {:?}, relay {:?}",
                    txrx.stats(),
                    txrx.relay_stats()
                ),
            };
            // Per device: +1 inputs read, +2 outputs written.
            assert_eq!(r.working_counter, 3 * DEVICES as u16, "cycle {cycle}");
            assert!(r.all_op(), "cycle {cycle}");
            for (i, sd) in group.iter(&md).enumerate() {
                let got = u32::from_le_bytes(sd.inputs_raw()[..4].try_into().unwrap());
                assert_eq!(got, value(cycle, i), "cycle {cycle}, device {i}");
            }
        }
        let allocs = evl_alloc_count::stop_counting();
        let inband_switches = match (switches_before, inband_switches()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        let oob_rx = txrx.stop_receiver();
        Outcome {
            allocs,
            inband_switches,
            stats: txrx.stats(),
            relay: txrx.relay_stats(),
            oob_rx,
        }
    });
    let answered = net.stop().expect("emulator");
    eprintln!(
        "{cycles} cycles on {host_if}, path {path:?}: {} allocations after warm-up, in-band switches of the \
         executor thread {:?}; frames {:?}; relay {:?}; receive thread {:?}; emulator \
         answered {answered}",
        outcome.allocs, outcome.inband_switches, outcome.stats, outcome.relay, outcome.oob_rx
    );
    assert_eq!(
        outcome.allocs,
        0,
        "allocations in {} cycles",
        cycles - WARM_UP
    );
    // On the EVL core the executor thread stays out-of-band through the cycles.
    assert_eq!(outcome.inband_switches.unwrap_or(0), 0, "in-band switches");
    assert!(outcome.stats.sent >= u64::from(cycles));
    assert_eq!(outcome.stats.rejected, 0);
    Some(outcome)
}

#[test]
fn ethercrab_reaches_op_over_veth_and_loops_back_10000_cycles_without_allocating() {
    // The backend's own path: direct on the host, the in-band relay on the EVL core.
    static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();
    run_cycles(&PDU_STORAGE, None, CYCLES);
}

#[test]
fn the_in_band_relay_path_loops_back_2000_cycles_without_allocating() {
    static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();
    let Some(out) = run_cycles(
        &PDU_STORAGE,
        Some(FramePath::Relay {
            ring: evl_ethercat::DEFAULT_RING,
        }),
        RELAY_CYCLES,
    ) else {
        return;
    };
    let relay = out.relay.expect("relay counters");
    // Every frame went through the relay thread, none dropped. (`from_wire` is counted
    // before the frame is passed on, `to_wire` before the reply can come back.)
    assert_eq!(relay.to_wire, out.stats.sent);
    assert!(relay.from_wire >= out.stats.received);
    assert_eq!(relay.dropped_ring_full + relay.dropped_socket_full, 0);
}

#[test]
fn the_udp_path_loops_back_10000_cycles_with_no_inband_switch_on_either_thread() {
    // EtherCAT over UDP on VLAN 100: on the EVL core the out-of-band packet socket at both
    // ends (0 in-band switches of the executor and of the receive thread); on the host the
    // same encapsulation, receive thread and hand-off over the in-band socket.
    static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();
    let Some(out) = run_cycles(&PDU_STORAGE, Some(FramePath::oob_udp()), UDP_CYCLES) else {
        return;
    };
    let rx = out.oob_rx.expect("receive thread counters");
    assert!(rx.ended, "the receive thread stopped");
    assert_eq!(rx.dropped_ring_full, 0);
    assert_eq!(rx.ignored, 0, "nothing but EtherCAT over UDP on the VLAN");
    // Every frame unwrapped was handed over and matched (counted before the hand-off).
    assert_eq!(rx.frames, out.stats.received + out.stats.ignored);
    assert_eq!(out.stats.received, out.stats.sent);
    if evl::core::backend::current().ok() == Some(evl::Backend::Evl) {
        assert_eq!(
            rx.inband_switches,
            Some(0),
            "in-band switches of the receive thread"
        );
        assert_eq!(out.inband_switches, Some(0));
    }
}

#[test]
fn the_udp_path_reports_a_missing_interface_and_a_stopped_receiver() {
    let ex = Executor::builder().slot_size(4096).build().unwrap();
    ex.block_on(async {
        let e = TxRx::open_with("nosuch0", FramePath::oob_udp()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        if evl::core::backend::current().ok() == Some(evl::Backend::Evl) {
            // The core's oob ports are VLAN devices: never a fall back to the in-band socket.
            let e = TxRx::open_with("lo", FramePath::oob_udp()).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
            return;
        }
        // SAFETY: geteuid has no memory effects.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED (needs root for a packet socket on lo)");
            return;
        }
        static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();
        let (tx, rx, _pdu_loop) = PDU_STORAGE.try_split().expect("split once");
        let txrx = Rc::new(TxRx::open_with("lo", FramePath::oob_udp()).expect("open on lo"));
        let t2 = txrx.clone();
        let io = ex
            .spawn_local(async move { t2.run(tx, rx).await.map(|_| ()) })
            .unwrap();
        evl::yield_now().await;
        let stats = txrx
            .stop_receiver()
            .expect("the UDP path has a receive thread");
        assert!(stats.ended);
        assert_eq!(stats.dropped_ring_full, 0);
        // The task sees the hand-off closed once the thread is gone.
        let e = io.await.expect("the task ran").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        assert!(txrx.relay_stats().is_none());
    });
}
