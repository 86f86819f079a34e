//! Wakers are user code: waking, cloning or dropping one may run anything, including code
//! that re-enters the reactor (a `Drop` that deregisters an fd or cancels a timer). The
//! reactor must never be borrowed across such a call.

use evl::io::AsyncFd;
use evl::Executor;
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

#[path = "support/fds.rs"]
mod fds;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

/// What a waker owns: dropped (with whatever it holds) when its last clone goes, woken by
/// running `on_wake`.
struct Payload {
    /// Only dropped: with the last clone of the waker.
    _held: Option<Box<dyn std::any::Any>>,
    on_wake: RefCell<Option<Box<dyn FnOnce()>>>,
}

/// A waker over an `Rc<Payload>`: its clone, wake and drop run on this thread only (every
/// waker made here stays on the test's executor thread).
fn waker(p: Rc<Payload>) -> Waker {
    unsafe fn clone(d: *const ()) -> RawWaker {
        // SAFETY: `d` came from Rc::into_raw below and the Rc is alive (we hold a count).
        unsafe { Rc::increment_strong_count(d as *const Payload) };
        RawWaker::new(d, &VTABLE)
    }
    unsafe fn wake(d: *const ()) {
        // SAFETY: `d` came from Rc::into_raw in `waker` and this waker holds one strong count, so
        // the Payload is alive for wake_by_ref; drop_ then gives up that count, which `wake`
        // consumes (the waker is not used again).
        unsafe {
            wake_by_ref(d);
            drop_(d);
        }
    }
    unsafe fn wake_by_ref(d: *const ()) {
        // SAFETY: alive while this waker is.
        let p = unsafe { &*(d as *const Payload) };
        let f = p.on_wake.borrow_mut().take();
        if let Some(f) = f {
            f();
        }
    }
    unsafe fn drop_(d: *const ()) {
        // SAFETY: each waker holds one count, given up here.
        drop(unsafe { Rc::from_raw(d as *const Payload) });
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_);
    // SAFETY: the vtable functions keep the Rc's count right; the waker never leaves this
    // thread (the Rc is !Send), which the tests below make sure of.
    unsafe { Waker::from_raw(RawWaker::new(Rc::into_raw(p) as *const (), &VTABLE)) }
}

fn payload(
    held: Option<Box<dyn std::any::Any>>,
    on_wake: Option<Box<dyn FnOnce()>>,
) -> Rc<Payload> {
    Rc::new(Payload {
        _held: held,
        on_wake: RefCell::new(on_wake),
    })
}

#[test]
fn a_timer_waker_may_cancel_and_arm_timers_and_drop_fds_when_woken() {
    backend();
    if !fds::ordinary_fds("a_timer_waker_may_cancel_and_arm_timers_and_drop_fds_when_woken") {
        return;
    }
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = AsyncFd::new(a).unwrap();
        // A sleep whose waker, when the timer fires, drops another pending sleep (its Drop
        // cancels it in the wheel) and an fd registration (its Drop deregisters it).
        let other = Box::pin(evl::time::sleep(Duration::from_secs(3600)));
        let mut other = Some(other);
        // Arm `other`.
        poll_fn(|cx| {
            assert!(other.as_mut().unwrap().as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        assert_eq!(ex.reactor().timers(), 1);
        assert_eq!(ex.reactor().fds(), 1);
        let fired = Rc::new(std::cell::Cell::new(false));
        let f2 = fired.clone();
        let armed_in_wake = Rc::new(RefCell::new(None));
        let a2 = armed_in_wake.clone();
        let p = payload(
            None,
            Some(Box::new(move || {
                drop(other.take());
                drop(fd);
                // And arm a new one, from inside the reactor's fire loop.
                let mut s = Box::pin(evl::time::sleep(Duration::from_secs(3600)));
                let noop = &mut Context::from_waker(Waker::noop());
                assert!(s.as_mut().poll(noop).is_pending());
                *a2.borrow_mut() = Some(s);
                f2.set(true);
            })),
        );
        let w = waker(p);
        let mut s = Box::pin(evl::time::sleep(Duration::from_micros(100)));
        assert!(s.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        drop(w);
        // Wait until the timer fired and our waker ran (it wakes no task: poll in a loop).
        while !fired.get() {
            evl::yield_now().await;
        }
        assert_eq!(ex.reactor().timers(), 1, "the one armed in the wake");
        assert_eq!(ex.reactor().fds(), 0);
        drop(armed_in_wake.borrow_mut().take());
    });
    assert_eq!(ex.reactor().timers(), 0);
    assert_eq!(ex.reactor().fds(), 0);
    assert_eq!(ex.stats().panicked, 0);
}

#[test]
fn an_fd_waker_may_deregister_its_own_fd_and_arm_a_timer_when_woken() {
    backend();
    if !fds::ordinary_fds("an_fd_waker_may_deregister_its_own_fd_and_arm_a_timer_when_woken") {
        return;
    }
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let x = Rc::new(RefCell::new(Some(AsyncFd::new(a).unwrap())));
        let x2 = x.clone();
        let fired = Rc::new(std::cell::Cell::new(false));
        let f2 = fired.clone();
        let kept = Rc::new(RefCell::new(None));
        let k2 = kept.clone();
        let w = waker(payload(
            None,
            Some(Box::new(move || {
                // Woken from the reactor's dispatch of `x`'s readiness: drop `x` itself.
                drop(x2.borrow_mut().take());
                let mut s = Box::pin(evl::time::sleep(Duration::from_secs(3600)));
                assert!(s
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_pending());
                *k2.borrow_mut() = Some(s);
                f2.set(true);
            })),
        ));
        let pending = x
            .borrow()
            .as_ref()
            .unwrap()
            .poll_read_ready(&mut Context::from_waker(&w))
            .is_pending();
        assert!(pending);
        drop(w);
        std::io::Write::write_all(&mut b, b"!").unwrap();
        while !fired.get() {
            evl::yield_now().await;
        }
        assert!(x.borrow().is_none());
        assert_eq!(ex.reactor().fds(), 0);
        assert_eq!(ex.reactor().timers(), 1);
        drop(kept.borrow_mut().take());
    });
    assert_eq!(ex.reactor().timers(), 0);
    assert_eq!(ex.stats().panicked, 0);
}

#[test]
fn replacing_an_fd_waker_whose_drop_deregisters_another_fd_does_not_panic() {
    backend();
    if !fds::ordinary_fds("replacing_an_fd_waker_whose_drop_deregisters_another_fd_does_not_panic")
    {
        return;
    }
    let ex = Executor::new().unwrap();
    ex.block_on(async {
        let (a, _b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        let x = AsyncFd::new(a).unwrap();
        let y = AsyncFd::new(c).unwrap();
        // A waker that owns `y`: its last drop deregisters `y` from the same reactor.
        let w = waker(payload(Some(Box::new(y)), None));
        assert!(x.poll_read_ready(&mut Context::from_waker(&w)).is_pending());
        drop(w); // the reactor's clone is now the last one
                 // Another waker replaces it: the old one is dropped, `y` with it.
        assert!(x
            .poll_read_ready(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        assert_eq!(ex.reactor().fds(), 1, "y is gone, x stays");
    });
    assert_eq!(ex.reactor().fds(), 0);
    assert_eq!(ex.stats().panicked, 0);
}
