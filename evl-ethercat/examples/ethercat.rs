//! An EtherCAT cyclic loop on evl: ethercrab discovers the subdevices, takes them to OP, and
//! exchanges process data every period from an evl `Interval`; the report has cycle
//! lateness, round-trip time and working-counter errors as histograms.
//!
//! ```text
//! ethercat --interface IF | --emulate N   [--period-us 1000] [--duration-s 10]
//!          [--priority 80] [--cpu N] [--samples] [--pdu-timeout-ms 30] [--udp]
//! ```
//! - `--interface IF`: the NIC the EtherCAT segment hangs off (root or CAP_NET_RAW, plus
//!   CAP_SYS_NICE for the priority). Real hardware:
//!   `sudo target/release/examples/ethercat --interface enp2s0 --cpu 2`.
//! - `--emulate N`: no hardware: makes a network namespace with a veth pair, runs N emulated
//!   digital I/O subdevices (tests/emulator) on the far end, and runs against the near end
//!   (root). Outputs are wired to inputs there, so each cycle's read-back is checked too:
//!   `sudo target/release/examples/ethercat --emulate 2`.
//! - `--udp`: EtherCAT over UDP on the core's out-of-band packet socket
//!   (`FramePath::OobUdp`): `--interface` must then be a VLAN device (EVL: one on an
//!   oob-capable NIC), the subdevices must accept EtherCAT over UDP; with `--emulate`, VLAN
//!   100 on the veth and the emulator answering in kind (oob socket on EVL).
//! - `--samples`: print one line per cycle (`lateness_ns rtt_ns wkc_ok`) instead of the report
//!   (for the side-by-side comparison, `ethercat-compare`).
//!
//! Priority and CPU are flags, so the runtime is built with `Runtime::builder()` rather than
//! `#[evl::main]` (whose priority and CPU are constants); it is the same runtime.

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use ethercrab::{MainDevice, MainDeviceConfig, PduStorage, Timeouts};
use evl::time::{self, Instant, MissedTicks};
use evl::{ExecutorConfig, Runtime};
use evl_ethercat::{FramePath, TxRx};
use hdrhistogram::Histogram;
use std::rc::Rc;
use std::time::Duration;

const MAX_SUBDEVICES: usize = 16;
const MAX_PDI: usize = 256;
static PDU_STORAGE: PduStorage<16, { PduStorage::element_size(1100) }> = PduStorage::new();

#[derive(Debug, Clone)]
struct Opts {
    interface: Option<String>,
    emulate: usize,
    period: Duration,
    duration: Duration,
    priority: u8,
    cpu: Option<usize>,
    samples: bool,
    pdu_timeout: Duration,
    udp: bool,
}

const USAGE: &str = "ethercat --interface IF | --emulate N  [--period-us 1000] [--duration-s 10] \
[--priority 80] [--cpu N] [--samples] [--pdu-timeout-ms 30] [--udp]";

fn parse() -> Result<Opts, lexopt::Error> {
    use lexopt::prelude::*;
    let mut o = Opts {
        interface: None,
        emulate: 0,
        period: Duration::from_micros(1000),
        duration: Duration::from_secs(10),
        priority: 80,
        cpu: None,
        samples: false,
        pdu_timeout: Timeouts::default().pdu,
        udp: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("interface") | Short('i') => o.interface = Some(p.value()?.string()?),
            Long("emulate") => o.emulate = p.value()?.parse()?,
            Long("period-us") => o.period = Duration::from_micros(p.value()?.parse()?),
            Long("duration-s") => o.duration = Duration::from_secs_f64(p.value()?.parse()?),
            Long("priority") => o.priority = p.value()?.parse()?,
            Long("cpu") => o.cpu = Some(p.value()?.parse()?),
            Long("samples") => o.samples = true,
            Long("udp") => o.udp = true,
            Long("pdu-timeout-ms") => o.pdu_timeout = Duration::from_millis(p.value()?.parse()?),
            Long("help") | Short('h') => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if o.interface.is_none() && o.emulate == 0 {
        return Err("give --interface IF (hardware) or --emulate N (emulated subdevices)".into());
    }
    if o.period.is_zero() {
        return Err("--period-us must be positive".into());
    }
    Ok(o)
}

fn main() -> std::process::ExitCode {
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ethercat: {e}\nusage: {USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    // The emulator, when asked for: kept alive until the end.
    let mut net = None;
    let interface = match (&opts.interface, opts.emulate) {
        (Some(i), _) => i.clone(),
        (None, n) => {
            let mut v = match emulator::netns::Veth::setup() {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("ethercat: cannot make the emulator's namespace (root?): {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let started = if opts.udp {
                v.start_udp_emulator(n, 100)
            } else {
                v.start_emulator(n).map(|()| v.host_if.clone())
            };
            let i = match started {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("ethercat: emulator: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            net = Some(v);
            i
        }
    };
    let mut cfg = ExecutorConfig::new("ethercat")
        .priority(opts.priority)
        .slot_size(4096);
    if let Some(c) = opts.cpu {
        cfg = cfg.cpu(c);
    }
    let rt = Runtime::builder().handle_signals(true).main(cfg).build();
    let result = match rt {
        Ok(rt) => rt.block_on(run(opts.clone(), interface)),
        Err(e) => {
            eprintln!("ethercat: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    drop(net);
    match result {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("ethercat: {e}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ethercat: runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn hist() -> Histogram<u64> {
    // 1 ns .. 10 s, 3 significant digits: recording never allocates.
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds")
}

async fn run(opts: Opts, interface: String) -> Result<(), String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let (tx, rx, pdu_loop) = PDU_STORAGE
        .try_split()
        .map_err(|()| err("PDU storage", &"split twice"))?;
    let txrx = if opts.udp {
        TxRx::open_with(&interface, FramePath::oob_udp())
    } else {
        TxRx::open(&interface)
    };
    let txrx = Rc::new(txrx.map_err(|e| err("packet socket", &e))?);
    let t2 = txrx.clone();
    let io = evl::spawn_local(async move { t2.run(tx, rx).await.map(|_| ()) })
        .map_err(|e| err("spawning the TX/RX task", &e))?;
    let timeouts = Timeouts {
        pdu: opts.pdu_timeout,
        // A longer PDU timeout (a slow or emulated machine) bounds EEPROM reads too.
        eeprom: opts.pdu_timeout.max(Timeouts::default().eeprom),
        ..Timeouts::default()
    };
    let md = MainDevice::new(pdu_loop, timeouts, MainDeviceConfig::default());
    let group = md
        .init_single_group::<MAX_SUBDEVICES, MAX_PDI>(evl_ethercat::ethercat_now)
        .await
        .map_err(|e| err("discovering subdevices", &e))?;
    let group = group
        .into_op(&md)
        .await
        .map_err(|e| err("going to OP", &e))?;
    if !opts.samples {
        eprintln!("{} subdevice(s) on {interface}", group.len());
        for sd in group.iter(&md) {
            eprintln!(
                "  {:#06x} {} ({} in, {} out bytes)",
                sd.configured_address(),
                sd.name(),
                sd.io_raw().inputs().len(),
                sd.io_raw().outputs().len()
            );
        }
    }
    // The LRW's working counter when every subdevice answers: +2 per subdevice with outputs,
    // +1 per subdevice with inputs.
    let expected_wkc: u16 = group
        .iter(&md)
        .map(|sd| {
            let io = sd.io_raw();
            2 * u16::from(!io.outputs().is_empty()) + u16::from(!io.inputs().is_empty())
        })
        .sum();
    let (mut late, mut rtt) = (hist(), hist());
    let (mut wkc_errors, mut loop_errors, mut tx_errors) = (0u64, 0u64, 0u64);
    let cycles = (opts.duration.as_nanos() / opts.period.as_nanos()).max(1) as u64;
    let mut tick = time::interval(opts.period)
        .map_err(|e| err("interval", &e))?
        .with_policy(MissedTicks::Skip);
    // --samples: kept in memory (sized now) and printed after the loop, not written per cycle.
    let mut samples: Vec<(u64, u64, bool)> =
        Vec::with_capacity(if opts.samples { cycles as usize } else { 0 });
    let allocs_before = evl_alloc_count_probe();
    let switches_before = inband_switches();
    for cycle in 0..cycles {
        if evl::shutdown::is_requested() {
            break;
        }
        let t = tick.tick().await.map_err(|e| err("tick", &e))?;
        let value = (cycle as u32).wrapping_mul(0x9E37_79B9);
        for sd in group.iter(&md) {
            let mut o = sd.outputs_raw_mut();
            for (k, b) in o.iter_mut().enumerate() {
                *b = (value >> (8 * (k % 4))) as u8;
            }
        }
        let start = Instant::now();
        let r = group.tx_rx(&md).await;
        let round_trip = Instant::now() - start;
        let lateness = t.lateness.as_nanos() as u64;
        let ok = match r {
            Ok(r) if r.working_counter == expected_wkc => true,
            Ok(_) => {
                wkc_errors += 1;
                false
            }
            Err(_) => {
                tx_errors += 1;
                false
            }
        };
        if net_loopback(opts.emulate) && ok {
            for sd in group.iter(&md) {
                let io = sd.io_raw();
                if io.inputs()[..] != io.outputs()[..] {
                    loop_errors += 1;
                }
            }
        }
        if opts.samples {
            samples.push((lateness, round_trip.as_nanos() as u64, ok));
        }
        let _ = late.record(lateness.max(1));
        let _ = rtt.record((round_trip.as_nanos() as u64).max(1));
    }
    let allocs = evl_alloc_count_probe() - allocs_before;
    let switches = inband_switches().zip(switches_before).map(|(b, a)| b - a);
    let s = txrx.stats();
    io.abort();
    for (l, r, ok) in &samples {
        println!("{l} {r} {}", u8::from(*ok));
    }
    if !opts.samples {
        report(
            &opts,
            &late,
            &rtt,
            tick.missed(),
            wkc_errors,
            tx_errors,
            loop_errors,
        );
        eprintln!(
            "frames: {} sent, {} received, {} rejected; allocations on the loop's thread during the cycles: {allocs}",
            s.sent, s.received, s.rejected
        );
        eprintln!("frame path: {:?}", txrx.frame_path());
        if let Some(r) = txrx.relay_stats() {
            eprintln!("relay: {r:?}");
        }
        if let Some(r) = txrx.stop_receiver() {
            eprintln!("receive thread (its whole loop): {r:?}");
        }
        if let Some(n) = switches {
            eprintln!("in-band switches of the loop's thread during the cycles: {n}");
        }
        if opts.emulate > 0 {
            eprintln!("loop-back mismatches: {loop_errors}");
        }
    }
    Ok(())
}

/// The loop thread's switches to the in-band stage so far (EVL backend, attached thread).
fn inband_switches() -> Option<u64> {
    evl::core::Thread::current_core_stats()
        .ok()
        .flatten()
        .map(|s| s.inband_switches)
}

fn net_loopback(emulate: usize) -> bool {
    emulate > 0
}

/// Allocations this thread made so far (a counting allocator is installed below).
fn evl_alloc_count_probe() -> u64 {
    evl_alloc_count::thread_total()
}

#[global_allocator]
static ALLOC: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

fn row(name: &str, h: &Histogram<u64>) {
    let us = |v: u64| v as f64 / 1000.0;
    eprintln!(
        "{name:<14} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        us(h.min()),
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
        h.mean() / 1000.0
    );
}

fn report(
    o: &Opts,
    late: &Histogram<u64>,
    rtt: &Histogram<u64>,
    missed: u64,
    wkc_errors: u64,
    tx_errors: u64,
    loop_errors: u64,
) {
    eprintln!(
        "\n{} cycles of {} us (SCHED_FIFO {} requested{}), backend {}",
        late.len(),
        o.period.as_micros(),
        o.priority,
        o.cpu.map(|c| format!(", CPU {c}")).unwrap_or_default(),
        evl::core::backend::current()
            .map(|b| format!("{b:?}"))
            .unwrap_or_default()
    );
    eprintln!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "us", "min", "p50", "p99", "p99.9", "max", "mean"
    );
    row("lateness", late);
    row("round trip", rtt);
    eprintln!("\nlateness histogram (us, log2 buckets):");
    let mut lo = 0u64;
    let mut hi = 1000u64;
    while lo <= late.max() {
        let n = late.count_between(lo, hi.saturating_sub(1));
        if n > 0 {
            eprintln!(
                "  [{:>7.0}, {:>7.0})  {:>8}  {}",
                lo as f64 / 1000.0,
                hi as f64 / 1000.0,
                n,
                "#".repeat(((n as f64).log10() * 8.0).ceil().max(1.0) as usize)
            );
        }
        lo = hi;
        hi *= 2;
    }
    eprintln!(
        "\nworking-counter errors: {wkc_errors}, failed exchanges: {tx_errors}, missed ticks: {missed}{}",
        if loop_errors > 0 { " (loop-back mismatches, see below)" } else { "" }
    );
}
