//! Fieldbus: a 1 kHz cyclic frame exchange between a master task and a simulated slave device
//! on another thread, over an EVL cross-buffer (xbuf), with a per-cycle timeout, a CRC on
//! every frame and injected faults.
//!
//! ```text
//! cargo run --release --example fieldbus -- [--duration-s 2] [--period-us 1000]
//!     [--timeout-us 500] [--drop-pct 0.2] [--late-pct 0.2] [--corrupt-pct 0.2]
//! ```
//! Each cycle the master (the body of `main`, on a real-time executor) sends a request frame
//! and awaits the response carrying the same cycle number until `deadline + --timeout-us`.
//! It awaits the xbuf through `evl::io::XbufStream`: the executor's one wait watches the
//! xbuf, so the thread never blocks on it. The stream's `read` is cancel-safe: a response
//! that comes after its cycle's timeout stays buffered and is classified in a later cycle.
//! The slave answers from an ordinary thread with blocking reads and, seeded and
//! reproducible, drops a response, delays it past the timeout, or flips a bit after the CRC.
//!
//! Frame (little-endian): `0xEB 0x90 | cycle u32 | len u16 | payload[len] | crc u16`, the
//! CRC-16/CCITT-FALSE of everything before it. Every cycle ends as exactly one of **ok** (in
//! time), **late** (after the timeout, seen in a later cycle) or **lost** (never, or corrupt).

use crc::{Crc, CRC_16_IBM_3740};
use evl::core::thread::{SchedPolicy, Thread, ThreadConfig};
use evl::core::xbuf::{Xbuf, XbufEnd};
use evl::core::{Clock, ErrorKind};
use evl::io::XbufStream;
use evl::time::{interval_at, timeout_at, Instant, MissedTicks};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Counts allocations per thread: the report shows the master's loop makes none.
#[global_allocator]
static ALLOC: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

const USAGE: &str = "\
usage: fieldbus [--duration-s S (default 2)] [--period-us N (default 1000)]
                [--timeout-us N (default: half the period)]
                [--drop-pct P] [--late-pct P] [--corrupt-pct P] (faults the slave injects, default 0.2 each)";

const MAGIC: [u8; 2] = [0xEB, 0x90];
const HEADER: usize = 8;
const MAX_PAYLOAD: usize = 64;
const MAX_FRAME: usize = HEADER + MAX_PAYLOAD + 2;
/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), alias CRC-16/IBM-3740: a table computed at
/// compile time, no allocation per checksum.
const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

#[derive(Clone, Copy)]
struct Args {
    duration: Duration,
    period: Duration,
    timeout: Duration,
    drop_pct: f64,
    late_pct: f64,
    corrupt_pct: f64,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut args = Args {
        duration: Duration::from_secs(2),
        period: Duration::from_micros(1000),
        timeout: Duration::ZERO,
        drop_pct: 0.2,
        late_pct: 0.2,
        corrupt_pct: 0.2,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("duration-s") => {
                let s: f64 = p.value()?.parse()?;
                if !(s > 0.0 && s <= 86_400.0) {
                    return Err("--duration-s must be between 0 and 86400".into());
                }
                args.duration = Duration::from_secs_f64(s);
            }
            Long("period-us") => args.period = Duration::from_micros(p.value()?.parse()?),
            Long("timeout-us") => args.timeout = Duration::from_micros(p.value()?.parse()?),
            Long("drop-pct") => args.drop_pct = p.value()?.parse()?,
            Long("late-pct") => args.late_pct = p.value()?.parse()?,
            Long("corrupt-pct") => args.corrupt_pct = p.value()?.parse()?,
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if args.period < Duration::from_micros(50) {
        return Err("--period-us must be at least 50".into());
    }
    if args.timeout.is_zero() {
        args.timeout = args.period / 2;
    }
    if args.timeout >= args.period {
        return Err("--timeout-us must be shorter than the period".into());
    }
    let pcts = [args.drop_pct, args.late_pct, args.corrupt_pct];
    if pcts.iter().any(|p| !(0.0..=100.0).contains(p)) || pcts.iter().sum::<f64>() > 100.0 {
        return Err("fault percentages must be 0 to 100, together at most 100".into());
    }
    Ok(args)
}

/// Writes a frame into `out`; returns its length.
fn encode(cycle: u32, payload: &[u8], out: &mut [u8; MAX_FRAME]) -> usize {
    let n = HEADER + payload.len();
    out[..2].copy_from_slice(&MAGIC);
    out[2..6].copy_from_slice(&cycle.to_le_bytes());
    out[6..8].copy_from_slice(&(payload.len() as u16).to_le_bytes());
    out[HEADER..n].copy_from_slice(payload);
    let crc = CRC16.checksum(&out[..n]);
    out[n..n + 2].copy_from_slice(&crc.to_le_bytes());
    n + 2
}

/// What the front of a receive buffer holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Parsed {
    /// A valid frame for `cycle`, `len` bytes long.
    Frame { cycle: u32, len: usize },
    /// A whole frame whose CRC failed.
    Corrupt { len: usize },
    /// A byte that cannot start a frame (dropped to resynchronise).
    Garbage,
}

/// A fixed-size receive buffer that frames are parsed out of.
struct RxBuf {
    buf: [u8; 1024],
    fill: usize,
}

impl RxBuf {
    const fn new() -> Self {
        RxBuf {
            buf: [0; 1024],
            fill: 0,
        }
    }
    /// The free space to read into; then call `filled`.
    fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.fill..]
    }
    fn filled(&mut self, n: usize) {
        self.fill += n;
    }
    /// The item at the front and its payload, consumed; `None` until more bytes come.
    fn next(&mut self) -> Option<(Parsed, [u8; MAX_PAYLOAD])> {
        let b = &self.buf[..self.fill];
        let mut payload = [0; MAX_PAYLOAD];
        let (item, len) = if b.len() >= 2 && b[..2] != MAGIC || b.len() == 1 && b[0] != MAGIC[0] {
            (Parsed::Garbage, 1)
        } else if b.len() < HEADER {
            return None;
        } else {
            let plen = u16::from_le_bytes([b[6], b[7]]) as usize;
            let len = HEADER + plen + 2;
            if plen > MAX_PAYLOAD {
                (Parsed::Garbage, 1)
            } else if b.len() < len {
                return None;
            } else if CRC16.checksum(&b[..len - 2]) != u16::from_le_bytes([b[len - 2], b[len - 1]])
            {
                (Parsed::Corrupt { len }, len)
            } else {
                payload[..plen].copy_from_slice(&b[HEADER..HEADER + plen]);
                let cycle = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                (Parsed::Frame { cycle, len }, len)
            }
        };
        self.buf.copy_within(len..self.fill, 0);
        self.fill -= len;
        Some((item, payload))
    }
}

/// How the master's cycles ended, and what else it saw.
#[derive(Default)]
struct Master {
    cycles: u64,
    ok: u64,
    late: u64,
    lost: u64,
    corrupt: u64,
    stray: u64, // valid responses to no open cycle (duplicates, too old)
    garbage: u64,
    missed_ticks: u64,
    tx_full: u64,
    /// Bit k set: cycle `cycles - k` is counted lost (until its late response comes).
    lost_mask: u64,
}

impl Master {
    /// Accounts for one received item; true when it answers the current cycle.
    fn handle(&mut self, item: Parsed) -> bool {
        match item {
            Parsed::Frame { cycle, .. } if cycle as u64 == self.cycles => return true,
            Parsed::Frame { cycle, .. } => {
                let age = self.cycles.wrapping_sub(cycle as u64);
                if age < 64 && self.lost_mask & (1 << age) != 0 {
                    self.lost_mask &= !(1 << age);
                    self.lost -= 1;
                    self.late += 1;
                } else {
                    self.stray += 1;
                }
            }
            Parsed::Corrupt { .. } => self.corrupt += 1,
            Parsed::Garbage => self.garbage += 1,
        }
        false
    }
}

/// What the slave did.
#[derive(Default, Debug)]
struct Slave {
    requests: u64,
    replied: u64,
    dropped: u64,
    delayed: u64,
    corrupted: u64,
    bad: u64, // requests that failed their CRC (should stay 0)
}

/// The simulated device: answers each request with a sensor reading, injecting faults.
fn slave(end: XbufEnd, args: Args, stop: Arc<AtomicBool>) -> evl::Result<Slave> {
    // Best effort: one priority below the master's executor, else an ordinary thread.
    let cfg = ThreadConfig::new("fieldbus-slave").lock_memory(false);
    let _attached = Thread::attach(cfg.policy(SchedPolicy::Fifo(39))).ok();
    let (mut s, mut rx, mut tx) = (Slave::default(), RxBuf::new(), [0; MAX_FRAME]);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64; // xorshift64: the same faults every run
    let mut random_pct = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % 1_000_000) as f64 / 10_000.0
    };
    loop {
        let deadline = Clock::Monotonic
            .now()
            .saturating_add(Duration::from_millis(100));
        match end.read_until(rx.space(), deadline) {
            Ok(n) => rx.filled(n),
            Err(e) if e.kind() == ErrorKind::TimedOut && !stop.load(Relaxed) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Closed) => return Ok(s),
            Err(e) => return Err(e),
        }
        while let Some((item, _)) = rx.next() {
            let Parsed::Frame { cycle, .. } = item else {
                s.bad += 1;
                continue;
            };
            s.requests += 1;
            let mut inputs = [0; 16];
            inputs[..8].copy_from_slice(&(cycle as f64 * 0.01).sin().to_le_bytes());
            inputs[8..].copy_from_slice(&s.requests.to_le_bytes());
            let n = encode(cycle, &inputs, &mut tx);
            let r = random_pct();
            if r < args.drop_pct {
                s.dropped += 1;
                continue;
            } else if r < args.drop_pct + args.late_pct {
                s.delayed += 1;
                std::thread::sleep(args.timeout + args.period / 5);
            } else if r < args.drop_pct + args.late_pct + args.corrupt_pct {
                s.corrupted += 1;
                tx[HEADER + (cycle as usize % inputs.len())] ^= 0x10;
            } else {
                s.replied += 1;
            }
            match end.write(&tx[..n]) {
                Err(e) if e.kind() == ErrorKind::Closed => return Ok(s),
                r => {
                    r?;
                }
            }
        }
    }
}

#[evl::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("fieldbus: {e}\n{USAGE}");
        std::process::exit(2)
    });
    let (master_end, slave_end) = Xbuf::new(4096, 4096)?.into_ends();
    let stop = Arc::new(AtomicBool::new(false));
    let slave = {
        let stop = stop.clone();
        std::thread::spawn(move || slave(slave_end, args, stop))
    };

    // The master. Everything its loop touches exists before the loop starts.
    let stream = XbufStream::new(master_end)?;
    let (mut m, mut rx, mut tx) = (Master::default(), RxBuf::new(), [0; MAX_FRAME]);
    let mut rtt = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
    let mut lateness = rtt.clone();
    let mut allocs_at_first_cycle = None;
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + args.duration;
    let mut tick = interval_at(start, args.period)?.with_policy(MissedTicks::Skip);
    loop {
        let t = tick.tick().await?;
        if t.deadline >= end || evl::shutdown::is_requested() {
            break;
        }
        allocs_at_first_cycle.get_or_insert_with(evl_alloc_count::thread_total);
        lateness.saturating_record(t.lateness.as_nanos() as u64);
        m.missed_ticks += t.missed;
        m.cycles += 1;
        m.lost_mask <<= 1;
        // Outputs: the cycle number and a ramp.
        let mut outputs = [0; 16];
        outputs[..8].copy_from_slice(&m.cycles.to_le_bytes());
        outputs[8..].copy_from_slice(&((m.cycles % 1000) as f64 / 1000.0).to_le_bytes());
        let n = encode(m.cycles as u32, &outputs, &mut tx);
        // The clock before the write: the slave may answer before the write returns.
        let sent = Instant::now();
        match stream.end().try_write(&tx[..n]) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => m.tx_full += 1,
            r => {
                r?;
            }
        }
        // Parse what is buffered; read more until this cycle's response, or the timeout.
        let response = timeout_at(t.deadline + args.timeout, async {
            loop {
                while let Some((item, _inputs)) = rx.next() {
                    if m.handle(item) {
                        return Ok(());
                    }
                }
                let k = stream.read(rx.space()).await?;
                rx.filled(k);
            }
        });
        match response.await {
            Ok(Ok(())) => {
                m.ok += 1;
                rtt.saturating_record((Instant::now() - sent).as_nanos() as u64);
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                m.lost += 1;
                m.lost_mask |= 1;
            }
            Ok(Err(e)) | Err(e) => return Err(e.into()),
        }
    }
    let allocs = evl_alloc_count::thread_total() - allocs_at_first_cycle.unwrap_or(0);
    drop(stream); // the slave's next read says Closed
    stop.store(true, Relaxed);
    let s = slave.join().map_err(|_| "the slave thread panicked")??;

    println!(
        "fieldbus: backend {}, master {:?}, period {} us, timeout {} us",
        evl::core::backend::current()?,
        evl::core::thread::current_policy()?,
        args.period.as_micros(),
        args.timeout.as_micros()
    );
    println!(
        "cycles {}  ok {}  late {}  lost {}  corrupt {}  (ok + late + lost = cycles)",
        m.cycles, m.ok, m.late, m.lost, m.corrupt
    );
    println!(
        "master: missed-ticks {}  tx-full {}  stray {}  garbage {}  allocations {}",
        m.missed_ticks, m.tx_full, m.stray, m.garbage, allocs
    );
    println!(
        "slave: requests {}  replied {}  dropped {}  delayed {}  corrupted {}  bad {}",
        s.requests, s.replied, s.dropped, s.delayed, s.corrupted, s.bad
    );
    for (name, h) in [("response", &rtt), ("lateness", &lateness)] {
        let us = |ns: u64| ns as f64 / 1000.0;
        println!(
            "{name} (us): count {}  min {:.1}  p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            h.len(),
            us(h.min()),
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            us(h.max())
        );
    }
    Ok(())
}
