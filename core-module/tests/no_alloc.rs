//! The steady-state paths of the elements allocate nothing: a counting global allocator
//! counts the allocations made by the measuring thread while it waits, signals, polls and
//! reads timers (blocking and non-blocking paths both).

use evl_core::backend::{self, Backend, Selection};
use evl_core::poll::PollFlags;
use evl_core::timer::Start;
use evl_core::*;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: evl_alloc_count::CountingAlloc = evl_alloc_count::CountingAlloc;

/// Allocations made by this thread while running `f`.
/// Waits, locks and poll sets need an attached thread (the EVL core's rule, on both backends).
fn attach() -> evl_core::Thread {
    evl_core::Thread::attach(evl_core::ThreadConfig::new("no-alloc").lock_memory(false)).unwrap()
}

fn allocations(f: impl FnOnce()) -> u64 {
    evl_alloc_count::allocations_in(f) as u64
}

fn soon(ms: u64) -> Timestamp {
    Clock::Monotonic
        .now()
        .saturating_add(Duration::from_millis(ms))
}

#[test]
fn counting_allocator_sees_allocations() {
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);
}

#[test]
fn steady_state_element_paths_allocate_nothing() {
    backend::select(Selection::Force(Backend::Host)).unwrap();
    let _me = attach();
    let sem = Semaphore::new(0).unwrap();
    let flags = Flags::new(0).unwrap();
    let mutex = Mutex::new().unwrap();
    let event = Event::new().unwrap();
    let timer = Timer::new(Clock::Monotonic).unwrap();
    let ps = PollSet::new().unwrap();
    ps.add(sem.poll_fd(), PollFlags::IN, 1).unwrap();
    ps.add(flags.poll_fd(), PollFlags::IN, 2).unwrap();
    ps.add(timer.as_fd(), PollFlags::IN, 3).unwrap();
    let mut out = [PollEvent::default(); 4];
    timer
        .set(
            Start::After(Duration::from_micros(200)),
            Some(Duration::from_micros(200)),
        )
        .unwrap();

    let mut run = || {
        for _ in 0..200 {
            sem.put().unwrap();
            ps.wait(&mut out, None).unwrap();
            sem.try_get().unwrap();
            sem.put().unwrap();
            sem.get_until(soon(1000)).unwrap();
            assert_eq!(sem.try_get().unwrap_err().kind(), ErrorKind::WouldBlock);
            flags.post(0b101).unwrap();
            flags.try_wait(0b1, FlagsMode::Any).unwrap();
            flags.wait(0b100, FlagsMode::All).unwrap();
            flags.broadcast(0b10).unwrap();
            flags.wait_until(0, FlagsMode::Any, soon(1000)).unwrap();
            let mut g = mutex.lock().unwrap();
            event.signal().unwrap();
            event.broadcast().unwrap();
            let _ = event.wait_until(&mut g, Clock::Monotonic.now());
            drop(g);
            drop(mutex.try_lock().unwrap());
            timer.read().unwrap();
            let _ = timer.try_read();
            let _ = Clock::Monotonic.now();
            let _ = ps.wait(&mut out, Some(Clock::Monotonic.now()));
        }
    };
    run(); // warm-up: thread-locals, lazily initialised statics
    assert_eq!(allocations(&mut run), 0);
}

#[test]
fn blocking_waits_woken_by_another_thread_allocate_nothing() {
    backend::select(Selection::Force(Backend::Host)).unwrap();
    let _me = attach();
    let sem = Arc::new(Semaphore::new(0).unwrap());
    let flags = Arc::new(Flags::new(0).unwrap());
    let (s2, f2) = (sem.clone(), flags.clone());
    let poster = std::thread::spawn(move || {
        for _ in 0..400 {
            while s2.value() >= 0 {
                std::thread::yield_now();
            }
            s2.put().unwrap();
            f2.post(1).unwrap();
        }
    });
    let wait_round = || {
        sem.get().unwrap();
        flags.wait(1, FlagsMode::Any).unwrap();
    };
    for _ in 0..200 {
        wait_round();
    }
    let n = allocations(|| (0..200).for_each(|_| wait_round()));
    poster.join().unwrap();
    assert_eq!(n, 0);
}
