//! `fieldbus`: a 1 kHz cyclic exchange between a master (the evl `Runtime`'s main executor)
//! and a simulated slave device on another thread, over an evl-core [`Xbuf`].
//!
//! Every cycle the master sends a request frame (its cycle counter and 16 bytes of outputs)
//! and waits, with `evl::time::timeout_at(deadline + --timeout-us, ...)`, for the slave's
//! response frame carrying the same cycle counter. The master awaits the xbuf through
//! [`evl::io::XbufStream`]: the task hands its waker to the executor's reactor, which watches
//! the xbuf's descriptor in the executor's one wait, so the executor thread never blocks on
//! the xbuf (no helper thread either). Its `read` is cancel-safe, so a timeout loses no byte:
//! a frame that comes after its cycle's timeout stays in the master's receive buffer and is
//! classified when it is parsed in a later cycle.
//!
//! The slave answers from an ordinary thread with blocking reads, and injects faults
//! (seeded, reproducible): it drops a response, delays it past the master's timeout, or
//! flips a payload bit after computing the CRC.
//!
//! Frame (little-endian): `magic 0xEB 0x90 | cycle u32 | len u16 | payload[len] | crc u16`,
//! the CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of everything before it.
//!
//! Each master cycle ends as exactly one of: **ok** (the matching response came in time),
//! **late** (it came after the timeout, seen in a later cycle), **lost** (never came, or came
//! corrupt: `corrupt` counts the frames that failed their CRC). So `ok + late + lost ==
//! cycles`.

use crate::args::{usage_err, ExampleError, Parser, Result, RtOpts};
use crate::hist::{Histogram, Stats};
use crate::report::{self, us};
use crate::rt::{allocs_text, AllocWindow, Placement};
use core::time::Duration;
use evl::core::xbuf::{Xbuf, XbufEnd};
use evl::core::{Clock, ErrorKind};
use evl::io::XbufStream;
use evl::time::{interval_at, timeout_at, Instant, MissedTicks};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// First two bytes of every frame.
pub const MAGIC: [u8; 2] = [0xEB, 0x90];
/// Header bytes before the payload.
pub const HEADER: usize = 8;
/// Largest payload.
pub const MAX_PAYLOAD: usize = 64;
/// Largest frame.
pub const MAX_FRAME: usize = HEADER + MAX_PAYLOAD + 2;

const fn crc_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u16; 256] = crc_table();

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final
/// XOR. `crc16_ccitt(b"123456789") == 0x29B1`.
pub fn crc16_ccitt(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[((crc >> 8) as u8 ^ b) as usize]
    })
}

/// Writes a frame into `out`; returns its length. Panics if `payload` is longer than
/// [`MAX_PAYLOAD`] or `out` shorter than the frame (callers size both statically).
pub fn encode(cycle: u32, payload: &[u8], out: &mut [u8]) -> usize {
    assert!(payload.len() <= MAX_PAYLOAD, "payload too long");
    let n = HEADER + payload.len() + 2;
    out[..2].copy_from_slice(&MAGIC);
    out[2..6].copy_from_slice(&cycle.to_le_bytes());
    out[6..8].copy_from_slice(&(payload.len() as u16).to_le_bytes());
    out[HEADER..HEADER + payload.len()].copy_from_slice(payload);
    let crc = crc16_ccitt(&out[..HEADER + payload.len()]);
    out[n - 2..n].copy_from_slice(&crc.to_le_bytes());
    n
}

/// What the front of a receive buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A whole, valid frame: its cycle, payload range, and bytes to consume.
    Frame {
        /// The cycle counter.
        cycle: u32,
        /// Where the payload is in the buffer.
        payload: (usize, usize),
        /// Frame length.
        len: usize,
    },
    /// A whole frame whose CRC failed (consume `len` bytes).
    Corrupt {
        /// Frame length.
        len: usize,
    },
    /// Bytes that cannot start a frame (consume them to resynchronise).
    Garbage {
        /// How many.
        len: usize,
    },
    /// Not enough bytes yet.
    Incomplete,
}

/// Parses the front of `buf`. A frame with an impossible length counts as garbage (one byte
/// is dropped and the search for the magic goes on); a frame with a possible length but a bad
/// CRC is consumed whole.
pub fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Incomplete;
    }
    if buf[0] != MAGIC[0] || (buf.len() > 1 && buf[1] != MAGIC[1]) {
        let skip = (1..buf.len())
            .find(|&i| buf[i] == MAGIC[0] && buf.get(i + 1).is_none_or(|&b| b == MAGIC[1]))
            .unwrap_or(buf.len());
        return Parsed::Garbage { len: skip };
    }
    if buf.len() < HEADER {
        return Parsed::Incomplete;
    }
    let plen = u16::from_le_bytes([buf[6], buf[7]]) as usize;
    if plen > MAX_PAYLOAD {
        return Parsed::Garbage { len: 1 };
    }
    let len = HEADER + plen + 2;
    if buf.len() < len {
        return Parsed::Incomplete;
    }
    let crc = u16::from_le_bytes([buf[len - 2], buf[len - 1]]);
    if crc16_ccitt(&buf[..len - 2]) != crc {
        return Parsed::Corrupt { len };
    }
    Parsed::Frame {
        cycle: u32::from_le_bytes([buf[2], buf[3], buf[4], buf[5]]),
        payload: (HEADER, HEADER + plen),
        len,
    }
}

/// A receive buffer of fixed size that frames are parsed out of.
#[derive(Debug)]
pub struct RxBuf {
    buf: [u8; 1024],
    fill: usize,
}

impl Default for RxBuf {
    fn default() -> Self {
        RxBuf {
            buf: [0; 1024],
            fill: 0,
        }
    }
}

impl RxBuf {
    /// The free space to read into.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.fill..]
    }
    /// `n` bytes were read into [`RxBuf::space`].
    pub fn filled(&mut self, n: usize) {
        self.fill = (self.fill + n).min(self.buf.len());
    }
    /// The next item at the front, consumed; `None` when more bytes are needed.
    pub fn next_item(&mut self) -> Option<(Parsed, [u8; MAX_PAYLOAD], usize)> {
        let p = parse(&self.buf[..self.fill]);
        let (consume, payload, plen) = match p {
            Parsed::Incomplete => {
                if self.fill == self.buf.len() {
                    // Cannot happen with frames of at most MAX_FRAME bytes; recover anyway.
                    self.fill = 0;
                }
                return None;
            }
            Parsed::Frame {
                payload: (a, b),
                len,
                ..
            } => {
                let mut pl = [0u8; MAX_PAYLOAD];
                pl[..b - a].copy_from_slice(&self.buf[a..b]);
                (len, pl, b - a)
            }
            Parsed::Corrupt { len } | Parsed::Garbage { len } => (len, [0; MAX_PAYLOAD], 0),
        };
        self.buf.copy_within(consume..self.fill, 0);
        self.fill -= consume;
        Some((p, payload, plen))
    }
}

/// Usage text.
pub fn usage() -> String {
    format!(
        "\
usage: fieldbus [options]

A cyclic frame exchange between a master task (evl runtime) and a simulated slave
thread over an xbuf, with per-cycle timeouts and injected faults.

  --duration-s S     run for S seconds (default 2)
  --period-us N      cycle period (default 1000 = 1 kHz)
  --timeout-us N     per-cycle response timeout after the cycle's deadline (default: half the period)
  --payload N        request payload bytes, 0-{MAX_PAYLOAD} (default 16)
  --drop-pct P       the slave drops P % of its responses (default 0.2)
  --late-pct P       it delays P % past the master's timeout (default 0.2)
  --corrupt-pct P    it flips a payload bit in P % (default 0.2)
  --seed N           fault pattern seed (default 1)
  --quiet            no histograms
  -h, --help         this text
Real-time placement (default SCHED_FIFO 80 for the master; the slave thread runs one below):
{}",
        RtOpts::USAGE
    )
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Run length.
    pub duration: Duration,
    /// Cycle period.
    pub period: Duration,
    /// Response timeout after each cycle's deadline.
    pub timeout: Duration,
    /// Request payload bytes.
    pub payload: usize,
    /// Fault rates, parts per million: drop, late, corrupt.
    pub drop_ppm: u32,
    /// See `drop_ppm`.
    pub late_ppm: u32,
    /// See `drop_ppm`.
    pub corrupt_ppm: u32,
    /// Fault seed.
    pub seed: u64,
    /// Placement request.
    pub rt: RtOpts,
    /// Less output.
    pub quiet: bool,
}

/// Parses the command line.
pub fn parse_args(args: &[String]) -> Result<Options> {
    let mut o = Options {
        duration: Duration::from_secs(2),
        period: Duration::from_millis(1),
        timeout: Duration::ZERO,
        payload: 16,
        drop_ppm: 2_000,
        late_ppm: 2_000,
        corrupt_ppm: 2_000,
        seed: 1,
        rt: RtOpts::fifo(80),
        quiet: false,
    };
    let mut timeout_us: Option<u64> = None;
    let pct = |p: &mut Parser<'_>, flag: &str| -> Result<u32> {
        let v: f64 = p.in_range(flag, 0.0, 100.0)?;
        Ok((v * 10_000.0).round() as u32)
    };
    let mut p = Parser::new(args);
    while let Some(flag) = p.next_flag()? {
        if o.rt.parse_flag(flag, &mut p)? {
            continue;
        }
        match flag {
            "--duration-s" => o.duration = p.seconds(flag, 86_400.0)?,
            "--period-us" => o.period = Duration::from_micros(p.in_range(flag, 50, 1_000_000)?),
            "--timeout-us" => timeout_us = Some(p.in_range(flag, 1, 10_000_000)?),
            "--payload" => o.payload = p.in_range(flag, 0, MAX_PAYLOAD)?,
            "--drop-pct" => o.drop_ppm = pct(&mut p, flag)?,
            "--late-pct" => o.late_ppm = pct(&mut p, flag)?,
            "--corrupt-pct" => o.corrupt_ppm = pct(&mut p, flag)?,
            "--seed" => o.seed = p.value(flag)?,
            "--quiet" => o.quiet = true,
            other => return usage_err(format!("unknown option {other}")),
        }
    }
    if o.drop_ppm as u64 + o.late_ppm as u64 + o.corrupt_ppm as u64 > 1_000_000 {
        return usage_err("--drop-pct + --late-pct + --corrupt-pct must not exceed 100");
    }
    o.timeout = match timeout_us {
        Some(t) => Duration::from_micros(t),
        None => o.period / 2,
    };
    if o.timeout >= o.period {
        return usage_err("--timeout-us must be shorter than the period");
    }
    Ok(o)
}

/// What the slave did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaveStats {
    /// Valid requests received.
    pub requests: u64,
    /// Responses sent intact and at once.
    pub replied: u64,
    /// Responses dropped on purpose.
    pub dropped: u64,
    /// Responses delayed past the master's timeout on purpose.
    pub delayed: u64,
    /// Responses sent with a flipped bit on purpose.
    pub corrupted: u64,
    /// Requests that failed their CRC or garbage bytes (should stay 0).
    pub bad_requests: u64,
}

/// What the run saw.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Where the master ran.
    pub placement: String,
    /// Cycle period.
    pub period: Duration,
    /// Master cycles run.
    pub cycles: u64,
    /// Cycles answered in time.
    pub ok: u64,
    /// Cycles answered after their timeout.
    pub late: u64,
    /// Cycles never (validly) answered.
    pub lost: u64,
    /// Frames that failed their CRC.
    pub corrupt: u64,
    /// Cycles the master's interval skipped (Tick::missed).
    pub missed_ticks: u64,
    /// Requests that did not fit the xbuf.
    pub tx_full: u64,
    /// Valid responses for cycles too old to classify, duplicates, or from the future.
    pub stray: u64,
    /// Garbage bytes skipped while resynchronising.
    pub garbage_bytes: u64,
    /// Response time of the in-time responses (send to parsed).
    pub rtt: Stats,
    /// The master's wakeup lateness.
    pub lateness: Stats,
    /// What the slave did.
    pub slave: SlaveStats,
    /// Heap allocations the master's loop made after its first cycle (`None` without a
    /// counting allocator).
    pub allocs: Option<u64>,
}

#[derive(Debug, Default)]
struct Master {
    window: AllocWindow,
    cycles: u64,
    ok: u64,
    late: u64,
    lost: u64,
    corrupt: u64,
    missed_ticks: u64,
    tx_full: u64,
    stray: u64,
    garbage_bytes: u64,
    /// Bit k set: cycle `cycles - k` is counted lost (for reclassifying it as late).
    lost_mask: u64,
}

impl Master {
    /// Handles one parsed item during cycle `self.cycles`; true when it answers that cycle.
    fn handle(&mut self, p: Parsed) -> bool {
        match p {
            Parsed::Frame { cycle, .. } => {
                let cur = self.cycles;
                let c = cycle as u64;
                if c == cur {
                    return true;
                }
                let age = cur.wrapping_sub(c);
                if c < cur && age < 64 && self.lost_mask & (1 << age) != 0 {
                    self.lost_mask &= !(1 << age);
                    self.lost -= 1;
                    self.late += 1;
                } else {
                    self.stray += 1;
                }
            }
            Parsed::Corrupt { .. } => self.corrupt += 1,
            Parsed::Garbage { len } => self.garbage_bytes += len as u64,
            Parsed::Incomplete => {}
        }
        false
    }
}

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn slave(
    end: XbufEnd,
    o: Options,
    placement: Placement,
    stop: Arc<AtomicBool>,
) -> evl::Result<SlaveStats> {
    // Best effort: a slave that cannot get its priority still answers.
    let _attached = placement.attach("fieldbus-slave").ok();
    let mut st = SlaveStats::default();
    let mut rx = RxBuf::default();
    let mut tx = [0u8; MAX_FRAME];
    let mut rng = Xorshift(o.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let delay = o.timeout + o.period / 5;
    let mut inputs = [0u8; 24];
    loop {
        let deadline = Clock::Monotonic
            .now()
            .saturating_add(Duration::from_millis(100));
        match end.read_until(rx.space(), deadline) {
            Ok(n) => rx.filled(n),
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::Interrupted => {
                if stop.load(Relaxed) {
                    return Ok(st);
                }
                continue;
            }
            Err(e) if e.kind() == ErrorKind::Closed => return Ok(st),
            Err(e) => return Err(e),
        }
        while let Some((p, payload, plen)) = rx.next_item() {
            let Parsed::Frame { cycle, .. } = p else {
                st.bad_requests += 1;
                continue;
            };
            st.requests += 1;
            // Inputs: the first 8 output bytes echoed, then a simulated sensor reading.
            let k = plen.min(8);
            inputs[..8].fill(0);
            inputs[..k].copy_from_slice(&payload[..k]);
            let sensor = ((cycle as f64) * 0.01).sin();
            inputs[8..16].copy_from_slice(&sensor.to_le_bytes());
            inputs[16..24].copy_from_slice(&(st.requests).to_le_bytes());
            let n = encode(cycle, &inputs, &mut tx);
            let r = (rng.next() % 1_000_000) as u32;
            let (d, l, c) = (o.drop_ppm, o.late_ppm, o.corrupt_ppm);
            if r < d {
                st.dropped += 1;
                continue;
            } else if r < d + l {
                st.delayed += 1;
                std::thread::sleep(delay);
            } else if r < d + l + c {
                st.corrupted += 1;
                let bit = (rng.next() % (8 * inputs.len() as u64)) as usize;
                tx[HEADER + bit / 8] ^= 1 << (bit % 8);
            } else {
                st.replied += 1;
            }
            match end.write(&tx[..n]) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Closed => return Ok(st),
                Err(e) => return Err(e),
            }
        }
    }
}

async fn master(
    end: XbufEnd,
    o: &Options,
    m: &mut Master,
    rtt: &mut Histogram,
    lateness: &mut Histogram,
) -> evl::Result<()> {
    let stream = XbufStream::new(end)?;
    let mut rx = RxBuf::default();
    let mut tx = [0u8; MAX_FRAME];
    let mut outputs = [0u8; MAX_PAYLOAD];
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + o.duration;
    let mut iv = interval_at(start, o.period)?.with_policy(MissedTicks::Skip);
    loop {
        let t = iv.tick().await?;
        if t.deadline >= end || evl::shutdown::is_requested() {
            break;
        }
        m.window.begin(); // from the first cycle on (a no-op after)
        lateness.record(t.lateness.as_nanos() as u64);
        m.missed_ticks += t.missed;
        m.cycles += 1;
        m.lost_mask <<= 1;
        let cycle = m.cycles as u32;
        // Outputs: a ramp and the cycle counter.
        outputs[..4].copy_from_slice(&cycle.to_le_bytes());
        outputs[4..8].copy_from_slice(&((m.cycles % 1000) as f32 / 1000.0).to_le_bytes());
        let n = encode(cycle, &outputs[..o.payload], &mut tx);
        // Read the clock before the write: the slave may answer (and, on one CPU, run)
        // before the write returns.
        let sent = Instant::now();
        match stream.end().try_write(&tx[..n]) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => m.tx_full += 1,
            Err(e) => return Err(e),
        }
        // Parse what is buffered, read more until this cycle's answer or the timeout.
        let answered = timeout_at(t.deadline + o.timeout, async {
            loop {
                while let Some((p, _, _)) = rx.next_item() {
                    if m.handle(p) {
                        return Ok(());
                    }
                }
                match stream.read(rx.space()).await {
                    Ok(k) => rx.filled(k),
                    Err(e) => return Err::<(), evl::Error>(e),
                }
            }
        })
        .await;
        match answered {
            Ok(Ok(())) => {
                m.ok += 1;
                rtt.record((Instant::now() - sent).as_nanos() as u64);
            }
            Ok(Err(e)) => return Err(e),
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                m.lost += 1;
                m.lost_mask |= 1;
            }
            Err(e) => return Err(e),
        }
    }
    m.window.end();
    Ok(())
}

/// Runs the example with the command line `args`; prints the summary and returns it.
pub fn run(args: &[String]) -> Result<Summary> {
    let o = parse_args(args)?;
    let backend = evl::core::backend::current()?;
    let placement = Placement::probe(&o.rt)?;
    let (master_end, slave_end) = Xbuf::new(4096, 4096)?.into_ends();
    let stop = Arc::new(AtomicBool::new(false));
    let slave_thread = {
        let o = o.clone();
        let p = placement.with_priority(placement.priority().saturating_sub(1), None);
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("fieldbus-slave".into())
            .spawn(move || slave(slave_end, o, p, stop))
            .map_err(|e| ExampleError::Other(format!("cannot start the slave thread: {e}")))?
    };
    let rt = evl::Runtime::builder()
        .main(placement.executor("fieldbus-master"))
        .build();
    let mut m = Master::default();
    let mut rtt = Histogram::new();
    let mut lateness = Histogram::new();
    let result = rt.and_then(|rt| {
        let (m, rtt, lateness, o) = (&mut m, &mut rtt, &mut lateness, &o);
        rt.block_on(async move { master(master_end, o, m, rtt, lateness).await })
    });
    // The master's end is gone: the slave's next read says Closed.
    stop.store(true, Relaxed);
    let slave_stats = slave_thread
        .join()
        .map_err(|_| ExampleError::Other("the slave thread panicked".into()))?;
    result??;
    let slave = slave_stats?;
    let s = Summary {
        placement: placement.describe(),
        period: o.period,
        cycles: m.cycles,
        ok: m.ok,
        late: m.late,
        lost: m.lost,
        corrupt: m.corrupt,
        missed_ticks: m.missed_ticks,
        tx_full: m.tx_full,
        stray: m.stray,
        garbage_bytes: m.garbage_bytes,
        rtt: rtt.stats(),
        lateness: lateness.stats(),
        slave,
        allocs: m.window.total(),
    };
    print_summary(&s, backend, &o, &rtt, &lateness);
    Ok(s)
}

fn print_summary(
    s: &Summary,
    backend: evl::Backend,
    o: &Options,
    rtt: &Histogram,
    lat: &Histogram,
) {
    println!(
        "fieldbus: master on the evl runtime (backend {}, {}), slave thread, xbuf, period {} us, timeout {} us",
        backend,
        s.placement,
        us(s.period.as_nanos() as u64),
        us(o.timeout.as_nanos() as u64)
    );
    println!(
        "cycles {}: ok {}  late {}  lost {} (corrupt frames {})  [ok + late + lost = {}]",
        s.cycles,
        s.ok,
        s.late,
        s.lost,
        s.corrupt,
        s.ok + s.late + s.lost
    );
    println!(
        "master: missed ticks {}  tx ring full {}  stray responses {}  garbage bytes {}  heap allocations in the loop {}",
        s.missed_ticks,
        s.tx_full,
        s.stray,
        s.garbage_bytes,
        allocs_text(s.allocs)
    );
    let sl = &s.slave;
    println!(
        "slave: requests {}  replied {}  dropped {}  delayed {}  corrupted {}  bad requests {}",
        sl.requests, sl.replied, sl.dropped, sl.delayed, sl.corrupted, sl.bad_requests
    );
    for (name, st) in [
        ("response time", &s.rtt),
        ("master wakeup lateness", &s.lateness),
    ] {
        println!(
            "{name} (us): min {}  avg {}  p50 {}  p99 {}  p99.9 {}  max {}",
            us(st.min),
            report::us_f(st.avg),
            us(st.p50),
            us(st.p99),
            us(st.p999),
            us(st.max)
        );
    }
    if !o.quiet {
        print!(
            "{}",
            report::text_histogram(&[("response", rtt), ("lateness", lat)])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16_ccitt(b"123456789"), 0x29B1);
        assert_eq!(crc16_ccitt(b""), 0xFFFF);
    }

    #[test]
    fn frames_round_trip_and_corruption_is_caught() {
        let mut buf = [0u8; MAX_FRAME];
        let n = encode(0x0102_0304, b"hello", &mut buf);
        assert_eq!(n, HEADER + 5 + 2);
        assert_eq!(
            parse(&buf[..n]),
            Parsed::Frame {
                cycle: 0x0102_0304,
                payload: (HEADER, HEADER + 5),
                len: n
            }
        );
        for k in 0..n - 1 {
            assert_eq!(parse(&buf[..k]), Parsed::Incomplete, "prefix {k}");
        }
        buf[HEADER + 1] ^= 0x10;
        assert_eq!(parse(&buf[..n]), Parsed::Corrupt { len: n });
        assert_eq!(parse(&[1, 2, 0xEB, 0x90]), Parsed::Garbage { len: 2 });
        assert_eq!(parse(&[1, 2, 3]), Parsed::Garbage { len: 3 });
        let mut big = [0u8; HEADER];
        big[..2].copy_from_slice(&MAGIC);
        big[6..8].copy_from_slice(&1000u16.to_le_bytes());
        assert_eq!(parse(&big), Parsed::Garbage { len: 1 });
    }

    #[test]
    fn rx_buffer_splits_a_stream_into_frames() {
        let mut rx = RxBuf::default();
        let mut f = [0u8; MAX_FRAME];
        let mut stream = Vec::new();
        stream.extend_from_slice(&[0x00, 0x11]);
        let n = encode(7, b"abc", &mut f);
        stream.extend_from_slice(&f[..n]);
        let n = encode(8, b"", &mut f);
        f[3] ^= 1; // corrupt the cycle field
        stream.extend_from_slice(&f[..n]);
        let n = encode(9, &[0xEB; 10], &mut f);
        stream.extend_from_slice(&f[..n]);
        // Feed in small pieces.
        let mut seen = Vec::new();
        for chunk in stream.chunks(5) {
            rx.space()[..chunk.len()].copy_from_slice(chunk);
            rx.filled(chunk.len());
            while let Some((p, pl, plen)) = rx.next_item() {
                seen.push((p, pl[..plen].to_vec()));
            }
        }
        assert!(matches!(seen[0].0, Parsed::Garbage { len: 2 }));
        assert!(matches!(seen[1].0, Parsed::Frame { cycle: 7, .. }));
        assert_eq!(seen[1].1, b"abc");
        assert!(matches!(seen[2].0, Parsed::Corrupt { .. }));
        assert!(matches!(seen[3].0, Parsed::Frame { cycle: 9, .. }));
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn late_frames_are_reclassified() {
        let mut m = Master::default();
        let f = |c: u32| Parsed::Frame {
            cycle: c,
            payload: (0, 0),
            len: 10,
        };
        // Cycle 1 times out, cycle 2 gets cycle 1's late answer then its own.
        m.cycles = 1;
        m.lost_mask = 1;
        m.lost = 1;
        m.cycles = 2;
        m.lost_mask <<= 1;
        assert!(!m.handle(f(1)));
        assert_eq!((m.lost, m.late), (0, 1));
        assert!(m.handle(f(2)));
        assert!(!m.handle(f(1))); // a duplicate
        assert_eq!(m.stray, 1);
    }

    #[test]
    fn options() {
        let o = parse_args(&[]).unwrap();
        assert_eq!(o.timeout, Duration::from_micros(500));
        assert_eq!(o.drop_ppm, 2_000);
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(parse_args(&v(&["--drop-pct", "60", "--late-pct", "50"])).is_err());
        assert!(parse_args(&v(&["--timeout-us", "1000"])).is_err());
        assert!(parse_args(&v(&["--payload", "65"])).is_err());
    }
}
