//! The reference for `ethercat-compare`: the same 1 kHz process-data cycle as evl-ethercat's
//! `ethercat --samples`, on ethercrab's own std set-up: its `tx_rx_task` (async-io on a raw
//! socket) on one smol thread, the cycle on another smol thread with an async-io interval,
//! both SCHED_FIFO at the same priority (and CPU, when given). Prints one line per cycle:
//! `lateness_ns round_trip_ns wkc_ok`.
//!
//! ```text
//! ethercrab-smol-baseline --interface IF [--period-us 1000] [--cycles N] [--priority 80] [--cpu N]
//!                         [--pdu-timeout-ms 30]
//! ```

use ethercrab::std::{ethercat_now, tx_rx_task};
use ethercrab::{MainDevice, MainDeviceConfig, PduStorage, Timeouts};
use smol::stream::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();

fn realtime(priority: i32, cpu: Option<usize>) {
    if priority > 0 {
        let p = libc::sched_param { sched_priority: priority };
        // SAFETY: a valid sched_param for the calling thread.
        let r = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &p) };
        if r != 0 {
            eprintln!("baseline: SCHED_FIFO refused ({r}); running at SCHED_OTHER");
        }
    }
    if let Some(c) = cpu {
        // SAFETY: an all-zero cpu_set_t is empty; CPU_SET and sched_setaffinity get valid
        // pointers of the right size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(c, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut interface, mut period, mut cycles, mut priority, mut cpu, mut pdu_ms) =
        (String::new(), 1000u64, 1000u64, 80i32, None, 30u64);
    while let Some(a) = args.next() {
        let mut v = || args.next().expect("a value after each flag");
        match a.as_str() {
            "--interface" => interface = v(),
            "--period-us" => period = v().parse().expect("--period-us N"),
            "--cycles" => cycles = v().parse().expect("--cycles N"),
            "--priority" => priority = v().parse().expect("--priority N"),
            "--cpu" => cpu = Some(v().parse().expect("--cpu N")),
            "--pdu-timeout-ms" => pdu_ms = v().parse().expect("--pdu-timeout-ms N"),
            other => panic!("unknown flag {other}"),
        }
    }
    let (tx, rx, pdu_loop) = PDU_STORAGE.try_split().expect("split once");
    let md = Arc::new(MainDevice::new(
        pdu_loop,
        Timeouts {
            pdu: Duration::from_millis(pdu_ms),
            ..Timeouts::default()
        },
        MainDeviceConfig::default(),
    ));
    let iface = interface.clone();
    std::thread::spawn(move || {
        realtime(priority, cpu);
        let task = tx_rx_task(&iface, tx, rx).expect("TX/RX task (raw socket)");
        let _ = smol::block_on(task);
    });
    realtime(priority, cpu);
    smol::block_on(async {
        let group = md
            .init_single_group::<16, 256>(ethercat_now)
            .await
            .expect("init");
        let group = group.into_op(&md).await.expect("OP");
        let expected: u16 = group
            .iter(&md)
            .map(|sd| {
                let io = sd.io_raw();
                2 * u16::from(!io.outputs().is_empty()) + u16::from(!io.inputs().is_empty())
            })
            .sum();
        let mut tick = async_io::Timer::interval(Duration::from_micros(period));
        let mut out = String::with_capacity(64 * cycles as usize);
        for cycle in 0..cycles {
            let Some(when) = tick.next().await else { break };
            let lateness = Instant::now().saturating_duration_since(when);
            let value = (cycle as u32).wrapping_mul(0x9E37_79B9);
            for sd in group.iter(&md) {
                for (k, b) in sd.outputs_raw_mut().iter_mut().enumerate() {
                    *b = (value >> (8 * (k % 4))) as u8;
                }
            }
            let start = Instant::now();
            let ok = matches!(group.tx_rx(&md).await, Ok(r) if r.working_counter == expected);
            let rtt = start.elapsed();
            use std::fmt::Write;
            let _ = writeln!(out, "{} {} {}", lateness.as_nanos(), rtt.as_nanos(), u8::from(ok));
        }
        print!("{out}");
    });
}
