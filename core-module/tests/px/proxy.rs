//! Behaviour of `Proxy`: order, drops under a stalled target, flush,
//! concurrent writers, broken targets, argument errors, and no allocation when writing.

use evl_core::proxy::{Proxy, ProxyWrite};
use evl_core::{Clock, ErrorKind, Visibility};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use evl_alloc_count::allocations_in;

// ---- helpers ----

/// A pipe as (read end, write end), optionally sized.
fn pipe(size: Option<usize>) -> (File, File) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (r, w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    if let Some(size) = size {
        // SAFETY: F_SETPIPE_SZ with an int on a pipe we own.
        let rc = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, size as libc::c_int) };
        assert!(rc >= size as libc::c_int);
    }
    (r, w)
}

/// Reads `r` to end of file on a thread; the result comes back through the handle.
fn read_to_end_on_thread(mut r: File) -> std::thread::JoinHandle<Vec<u8>> {
    super::spawn(move || {
        let mut v = Vec::new();
        r.read_to_end(&mut v).expect("read the target pipe");
        v
    })
}

fn soon(secs: u64) -> evl_core::Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_secs(secs))
}

/// A byte pattern that shows reordering or loss: byte i of message m.
fn message(m: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (m * 31 + i * 7) as u8).collect()
}

// ---- tests ----

pub fn delivers_every_byte_in_order_through_a_pipe(_evl: bool) {
    let (r, w) = pipe(None);
    let reader = read_to_end_on_thread(r);
    let proxy = Proxy::new(&w, 64 * 1024).unwrap();
    assert!(proxy.capacity() >= 64 * 1024);
    let mut expected = Vec::new();
    for m in 0..400 {
        let msg = message(m, 1 + m % 61);
        // 400 messages of at most 61 bytes: far below the capacity, so nothing may drop.
        let wr = proxy.write(&msg).unwrap();
        assert_eq!(
            wr,
            ProxyWrite {
                written: msg.len(),
                dropped: 0
            }
        );
        expected.extend_from_slice(&msg);
    }
    proxy.flush(Some(soon(30))).unwrap();
    assert_eq!(proxy.dropped(), 0);
    drop(proxy);
    drop(w);
    assert_eq!(reader.join().unwrap(), expected);
}

pub fn delivers_to_a_file_and_flush_means_delivered(_evl: bool) {
    let path = std::env::temp_dir().join(format!("evl-proxy-test.{}.out", std::process::id()));
    let file = File::create(&path).unwrap();
    let proxy = Proxy::new(&file, 16 * 1024).unwrap();
    drop(file); // the proxy holds its own duplicate
    let mut expected = Vec::new();
    for m in 0..100 {
        let msg = message(m, 100);
        assert_eq!(proxy.write(&msg).unwrap().written, 100);
        expected.extend_from_slice(&msg);
    }
    proxy.flush(Some(soon(30))).unwrap();
    // Flushed: everything is in the file before the proxy goes.
    assert_eq!(std::fs::read(&path).unwrap(), expected);
    drop(proxy);
    std::fs::remove_file(&path).unwrap();
}

pub fn stalled_target_drops_and_delivers_exactly_the_accepted_parts(_evl: bool) {
    let (r, w) = pipe(Some(4096)); // a target nobody reads for now
    let proxy = Proxy::new(&w, 4096).unwrap();
    let sizes = [100, 1000, 5000, 37, 4096, 9000];
    let mut accepted = Vec::new();
    let (mut offered, mut written, mut dropped) = (0usize, 0usize, 0usize);
    let mut fully_dropped = 0;
    for m in 0..100_000 {
        let msg = message(m, sizes[m % sizes.len()]);
        let wr = proxy.write(&msg).unwrap();
        assert_eq!(wr.written + wr.dropped, msg.len(), "message {m}");
        accepted.extend_from_slice(&msg[..wr.written]);
        offered += msg.len();
        written += wr.written;
        dropped += wr.dropped;
        if wr.written == 0 {
            fully_dropped += 1;
            if fully_dropped >= 50 {
                break;
            }
            // Let the drainer reach the stall on a slow machine.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(
        fully_dropped >= 50,
        "a stalled target must make writes drop"
    );
    assert_eq!(written + dropped, offered);
    assert_eq!(proxy.dropped(), dropped as u64);
    // Bounded: the pipe to the target and the proxy's buffer hold what was accepted.
    assert!(
        written <= 4096 + proxy.capacity() + 16 * 1024 + 4096,
        "{written}"
    );

    // Unstall the target: exactly the accepted bytes arrive, in order.
    let reader = read_to_end_on_thread(r);
    proxy.flush(Some(soon(30))).unwrap();
    drop(proxy);
    drop(w);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), accepted.len());
    assert!(
        got == accepted,
        "the delivered bytes differ from the accepted parts"
    );
}

/// What a target pipe made with `pipe(Some(4096))` holds. Accepting more leaves bytes the
/// drainer cannot deliver while nobody reads. (How much more a proxy accepts depends on when
/// its drainer ran: a pipe with a partly used last page does not poll writable, so a drainer
/// that moved a small first chunk waits with it; only "more than the target holds" is
/// certain.)
const TARGET_ROOM: usize = 4096;

pub fn flush_times_out_on_a_stalled_target(_evl: bool) {
    let (r, w) = pipe(Some(4096));
    let proxy = Proxy::new(&w, 4096).unwrap();
    // Accept more than the target pipe can hold: then flush cannot complete.
    let msg = [7u8; 1024];
    let mut accepted = 0;
    let start = Instant::now();
    while accepted <= TARGET_ROOM {
        let n = proxy.write(&msg).unwrap().written;
        accepted += n;
        if n == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the proxy never accepted more than its target holds"
        );
    }
    let start = Instant::now();
    let deadline = Clock::Monotonic
        .now()
        .saturating_add(Duration::from_millis(100));
    let e = proxy.flush(Some(deadline)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(Clock::Monotonic.now() >= deadline);
    assert!(start.elapsed() < Duration::from_secs(20));
    // Unstall and finish cleanly.
    let reader = read_to_end_on_thread(r);
    proxy.flush(Some(soon(30))).unwrap();
    drop(proxy);
    drop(w);
    reader.join().unwrap();
}

pub fn drop_returns_even_when_the_target_never_reads(_evl: bool) {
    let (r, w) = pipe(Some(4096));
    let proxy = Proxy::new(&w, 4096).unwrap();
    // Accept more than the target can hold, so that the drainer is stuck with bytes.
    let msg = [1u8; 512];
    let (mut accepted, start) = (0, Instant::now());
    while accepted <= TARGET_ROOM {
        let n = proxy.write(&msg).unwrap().written;
        accepted += n;
        if n == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the proxy never accepted more than its target holds"
        );
    }
    while proxy.write(&msg).unwrap().written > 0 {}
    let start = Instant::now();
    drop(proxy); // must give up on the stalled target after its grace period
    assert!(start.elapsed() < Duration::from_secs(30));
    drop((r, w));
}

pub fn concurrent_writers_lose_nothing_when_not_full(_evl: bool) {
    const THREADS: usize = 4;
    const RECORDS: usize = 250;
    const LEN: usize = 16;
    let (r, w) = pipe(None);
    let reader = read_to_end_on_thread(r);
    // 4 * 250 * 16 = 16000 bytes: a 64 KiB buffer never fills.
    let proxy = Proxy::new(&w, 64 * 1024).unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let proxy = &proxy;
            s.spawn(move || {
                let _a = super::attach_test_thread();
                for seq in 0..RECORDS {
                    let rec = format!("T{t}:{seq:010}\n");
                    let rec = format!("{rec:>LEN$}");
                    assert_eq!(rec.len(), LEN);
                    let wr = proxy.write(rec.as_bytes()).unwrap();
                    assert_eq!(wr.written, LEN);
                }
            });
        }
    });
    proxy.flush(Some(soon(30))).unwrap();
    assert_eq!(proxy.dropped(), 0);
    drop(proxy);
    drop(w);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), THREADS * RECORDS * LEN);
    let mut next = [0usize; THREADS];
    for rec in got.chunks(LEN) {
        let rec = std::str::from_utf8(rec).unwrap().trim();
        let (t, seq) = rec[1..].split_once(':').expect("an intact record");
        let (t, seq): (usize, usize) = (t.parse().unwrap(), seq.parse().unwrap());
        assert_eq!(seq, next[t], "records of thread {t} out of order");
        next[t] += 1;
    }
    assert_eq!(next, [RECORDS; THREADS]);
}

pub fn a_broken_target_is_reported(_evl: bool) {
    let (r, w) = pipe(None);
    drop(r); // nobody will ever read: the drainer gets EPIPE
    let proxy = Proxy::new(&w, 4096).unwrap();
    let _ = proxy.write(b"into the void\n");
    let start = Instant::now();
    let e = loop {
        match proxy.write(b"x") {
            Err(e) => break e,
            Ok(_) if start.elapsed() > Duration::from_secs(30) => panic!("no error reported"),
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(!e.hint().is_empty());
    assert_eq!(
        proxy.flush(Some(soon(30))).unwrap_err().kind(),
        ErrorKind::Closed
    );
}

pub fn bad_arguments_are_typed_errors(evl: bool) {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let e = Proxy::new(&null, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(!e.hint().is_empty());
    let e = Proxy::create(&null, 4096, Visibility::Public("bad/name")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    if evl {
        // Public proxies are an EVL feature.
        let name = super::unique("proxy-fine");
        let p = Proxy::create(&null, 4096, Visibility::Public(&name)).unwrap();
        let e = Proxy::create(&null, 4096, Visibility::Public(&name)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
        drop(p);
    } else {
        let e = Proxy::create(&null, 4096, Visibility::Public("fine-name")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.hint().contains("EVL backend"), "{e}");
    }
    assert_eq!(
        Proxy::new(&null, 1 << 40).unwrap_err().kind(),
        ErrorKind::CapacityExceeded
    );
    let p = Proxy::new(&null, 1).unwrap();
    assert_eq!(p.write(b"").unwrap(), ProxyWrite::default());
}

pub fn poll_fd_is_writable_while_there_is_room(_evl: bool) {
    let (r, w) = pipe(Some(4096));
    let proxy = Proxy::new(&w, 4096).unwrap();
    let writable = |p: &Proxy| {
        let mut pfd = libc::pollfd {
            fd: p.write_fd().as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    };
    assert!(writable(&proxy));
    // Fill until the drainer is stuck on the target and the buffer is full: then the fd is
    // not writable and a full page is refused.
    let start = Instant::now();
    loop {
        proxy.write(&[0u8; 4096]).unwrap();
        if !writable(&proxy) && proxy.write(&[0u8; 4096]).unwrap().written == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never filled");
        std::thread::sleep(Duration::from_millis(1));
    }
    let reader = read_to_end_on_thread(r);
    proxy.flush(Some(soon(30))).unwrap();
    assert!(writable(&proxy));
    drop(proxy);
    drop(w);
    reader.join().unwrap();
}

pub fn steady_state_write_and_flush_allocate_nothing(_evl: bool) {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let proxy = Proxy::new(&null, 64 * 1024).unwrap();
    let line = b"cycle 123456: overrun by 17 us\n";
    for _ in 0..100 {
        proxy.write(line).unwrap();
    }
    proxy.flush(Some(soon(30))).unwrap();
    let deadline = soon(30);
    let n = allocations_in(|| {
        for _ in 0..2000 {
            let _ = proxy.write(line);
        }
        let _ = proxy.flush(Some(deadline));
        let _ = proxy.dropped();
    });
    assert_eq!(n, 0, "proxy write/flush allocated");
    proxy.flush(Some(soon(30))).unwrap();
}

/// EVL only: a public proxy is a device under /dev/evl/proxy that anybody may open and write
/// to (in-band here); the bytes reach the creator's target.
pub fn evl_a_public_proxy_is_written_by_name(_evl: bool) {
    let (r, w) = pipe(None);
    let reader = read_to_end_on_thread(r);
    let name = super::unique("proxy");
    let proxy = Proxy::create(&w, 4096, Visibility::Public(&name)).unwrap();
    let path = format!("/dev/evl/proxy/{name}");
    assert!(std::path::Path::new(&path).exists(), "{path} missing");
    let mut by_name = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    proxy.write(b"from the handle\n").unwrap();
    proxy.flush(Some(soon(30))).unwrap();
    std::io::Write::write_all(&mut by_name, b"by name\n").unwrap();
    drop(by_name);
    // The opener's bytes are not counted by flush: give the relay a moment.
    std::thread::sleep(Duration::from_millis(200));
    proxy.flush(Some(soon(30))).unwrap();
    drop(proxy);
    drop(w);
    assert_eq!(reader.join().unwrap(), b"from the handle\nby name\n");
}
