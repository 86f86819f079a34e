//! Side by side: the same process-data cycle over a veth pair to emulated subdevices, on evl
//! (`ethercat --samples`) and on ethercrab's own std set-up (smol, async-io, SCHED_FIFO at the
//! same priority: `evl-ethercat/baseline`), interleaved in blocks in one run; prints cycle
//! lateness and round-trip p50/p99/max of each and their ratios (evl / baseline).
//!
//! Run it with `tools/ethercat-bench.sh` (builds both, needs root):
//! ```text
//! ethercat-compare --baseline PATH [--blocks 6] [--block-cycles 2000] [--period-us 1000]
//!                  [--priority 80] [--cpu N] [--devices 2]
//! ```
//! Each block starts the program afresh (discovery, OP, then the cycles); only the cycles
//! are measured. Timing, not assertions: the machine is noisy, so the ratios are what to read.

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use hdrhistogram::Histogram;
use std::process::Command;

struct Side {
    late: Histogram<u64>,
    rtt: Histogram<u64>,
    bad: u64,
    cycles: u64,
}

impl Side {
    fn new() -> Self {
        let h = || Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("bounds");
        Side {
            late: h(),
            rtt: h(),
            bad: 0,
            cycles: 0,
        }
    }
    fn take(&mut self, out: &[u8]) {
        for line in String::from_utf8_lossy(out).lines() {
            let f: Vec<u64> = line
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [l, r, ok] = f[..] {
                let _ = self.late.record(l.max(1));
                let _ = self.rtt.record(r.max(1));
                self.bad += u64::from(ok == 0);
                self.cycles += 1;
            }
        }
    }
}

fn run(cmd: &mut Command, side: &mut Side, name: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{name}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    side.take(&out.stdout);
    Ok(())
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut baseline, mut blocks, mut block_cycles, mut period, mut prio, mut cpu, mut devices) =
        (None, 6u32, 2000u64, 1000u64, 80u32, None, 2usize);
    while let Some(a) = args.next() {
        let mut v = || args.next().ok_or(format!("a value after {a}"));
        let num = |s: String| s.parse::<u64>().map_err(|e| e.to_string());
        match a.as_str() {
            "--baseline" => baseline = Some(v()?),
            "--blocks" => blocks = num(v()?)? as u32,
            "--block-cycles" => block_cycles = num(v()?)?,
            "--period-us" => period = num(v()?)?,
            "--priority" => prio = num(v()?)? as u32,
            "--cpu" => cpu = Some(num(v()?)?),
            "--devices" => devices = num(v()?)? as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let baseline = baseline.ok_or("--baseline PATH (tools/ethercat-bench.sh builds it)")?;
    let evl_bin = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("ethercat");
    let mut net = emulator::netns::Veth::setup()?;
    net.start_emulator(devices)?;
    let iface = net.host_if.clone();
    let common = |c: &mut Command| {
        c.args(["--interface", &iface])
            .args(["--period-us", &period.to_string()])
            .args(["--priority", &prio.to_string()])
            // Both sides alike: long enough that a stalled emulator (a loaded machine)
            // delays a block instead of failing it.
            .args(["--pdu-timeout-ms", "1000"]);
        if let Some(n) = cpu {
            c.args(["--cpu", &n.to_string()]);
        }
    };
    let (mut evl, mut base) = (Side::new(), Side::new());
    let secs = (block_cycles * period) as f64 / 1e6;
    for b in 0..blocks {
        // Alternate which goes first, so neither always follows the other.
        let mut e = Command::new(&evl_bin);
        common(&mut e);
        e.args(["--samples", "--duration-s", &secs.to_string()]);
        let mut s = Command::new(&baseline);
        common(&mut s);
        s.args(["--cycles", &block_cycles.to_string()]);
        if b % 2 == 0 {
            run(&mut e, &mut evl, "evl")?;
            run(&mut s, &mut base, "baseline")?;
        } else {
            run(&mut s, &mut base, "baseline")?;
            run(&mut e, &mut evl, "evl")?;
        }
        eprintln!("block {}/{blocks} done", b + 1);
    }
    let answered = net.stop().map_err(|e| e.to_string())?;
    println!(
        "\n{devices} emulated subdevice(s) over veth, {} us period, SCHED_FIFO {prio}{}, {blocks} blocks of {block_cycles} cycles each side, interleaved ({answered} frames answered)",
        period,
        cpu.map(|c| format!(" on CPU {c}")).unwrap_or_default()
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>8}",
        "us", "p50", "p99", "max", "bad"
    );
    let us = |v: u64| v as f64 / 1000.0;
    for (name, side) in [("evl", &evl), ("ethercrab std + smol", &base)] {
        for (what, h) in [("lateness", &side.late), ("round trip", &side.rtt)] {
            println!(
                "{:<34} {:>10.1} {:>10.1} {:>10.1} {:>8}",
                format!("{name} {what}"),
                us(h.value_at_quantile(0.5)),
                us(h.value_at_quantile(0.99)),
                us(h.max()),
                if what == "lateness" { side.bad } else { 0 }
            );
        }
    }
    let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    for (what, a, b) in [
        ("lateness", &evl.late, &base.late),
        ("round trip", &evl.rtt, &base.rtt),
    ] {
        println!(
            "ratio evl/baseline {:<10} p50 {:.2}  p99 {:.2}  max {:.2}",
            what,
            ratio(a.value_at_quantile(0.5), b.value_at_quantile(0.5)),
            ratio(a.value_at_quantile(0.99), b.value_at_quantile(0.99)),
            ratio(a.max(), b.max())
        );
    }
    println!(
        "cycles measured: evl {}, baseline {}",
        evl.cycles, base.cycles
    );
    Ok(())
}
