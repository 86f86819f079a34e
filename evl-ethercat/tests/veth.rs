//! ethercrab over a veth pair, on evl: the emulated subdevices (tests/emulator) answer on the
//! far end, in a network namespace the test makes. Needs root; skipped with a message
//! otherwise.
//!
//! Init to OP, then 10,000 process-data cycles at 1 kHz from an evl `Interval`: each cycle
//! writes a fresh value to every device's outputs, and reads it back from its inputs (the
//! emulator wires outputs to inputs) with the expected working counter. The cycles after
//! warm-up allocate nothing on the executor thread.

mod emulator;

use emulator::netns::Veth;
use ethercrab::{MainDevice, MainDeviceConfig, PduStorage, SubDeviceState, Timeouts};
use evl::time::{self, MissedTicks};
use evl::Executor;
use evl_ethercat::TxRx;
use std::rc::Rc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const DEVICES: usize = 2;
const CYCLES: u32 = 10_000;
const WARM_UP: u32 = 100;

static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();

fn value(cycle: u32, device: usize) -> u32 {
    cycle.wrapping_mul(0x9E37_79B9) ^ (device as u32) << 28
}

#[test]
fn ethercrab_reaches_op_over_veth_and_loops_back_10000_cycles_without_allocating() {
    let mut net = match Veth::setup() {
        Ok(n) => n,
        Err(why) => {
            eprintln!("SKIPPED (needs root and iproute2 for a veth pair in a namespace): {why}");
            return;
        }
    };
    net.start_emulator(DEVICES)
        .expect("emulator on the far end");
    let ex = Executor::builder().slot_size(4096).build().unwrap();
    let host_if = net.host_if.clone();
    let (allocs, stats, cycles) = ex.block_on(async {
        let (tx, rx, pdu_loop) = PDU_STORAGE.try_split().expect("split once");
        let txrx = Rc::new(TxRx::open(&host_if).expect("packet socket"));
        let t2 = txrx.clone();
        let _io = ex
            .spawn_local(async move { t2.run(tx, rx).await.map(|_| ()) })
            .unwrap();
        // Values, not timing: a loaded machine may stall the emulator's thread for longer
        // than ethercrab's 30 ms default, which would fail the test for nothing.
        let timeouts = Timeouts {
            pdu: Duration::from_secs(2),
            ..Timeouts::default()
        };
        let md = MainDevice::new(pdu_loop, timeouts, MainDeviceConfig::default());
        let group = md
            .init_single_group::<DEVICES, 64>(evl_ethercat::ethercat_now)
            .await
            .expect("init");
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
        let mut allocs = 0;
        for cycle in 0..CYCLES {
            if cycle == WARM_UP {
                evl_alloc_count::start_counting();
            }
            tick.tick().await.unwrap();
            for (i, sd) in group.iter(&md).enumerate() {
                sd.outputs_raw_mut()
                    .copy_from_slice(&value(cycle, i).to_le_bytes());
            }
            let r = match group.tx_rx(&md).await {
                Ok(r) => r,
                Err(e) => panic!("tx_rx at cycle {cycle}: {e:?}; frames {:?}", txrx.stats()),
            };
            // Per device: +1 inputs read, +2 outputs written.
            assert_eq!(r.working_counter, 3 * DEVICES as u16, "cycle {cycle}");
            assert!(r.all_op(), "cycle {cycle}");
            for (i, sd) in group.iter(&md).enumerate() {
                let got = u32::from_le_bytes(sd.inputs_raw()[..4].try_into().unwrap());
                assert_eq!(got, value(cycle, i), "cycle {cycle}, device {i}");
            }
        }
        allocs += evl_alloc_count::stop_counting();
        (allocs, txrx.stats(), CYCLES)
    });
    let answered = net.stop().expect("emulator");
    eprintln!(
        "{cycles} cycles, {allocs} allocations after warm-up; frames: {stats:?}; emulator answered {answered}"
    );
    assert_eq!(allocs, 0, "allocations in {} cycles", CYCLES - WARM_UP);
    assert!(stats.sent >= u64::from(CYCLES));
    assert_eq!(stats.rejected, 0);
}
