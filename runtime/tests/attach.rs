//! An executor attaches the thread it runs on (both backends), and detaches it when the last
//! executor that attached it goes; a thread the application attached stays as it was; the
//! policy and CPU an ExecutorConfig asks for apply when it attaches the thread.

use evl::core::{Thread, ThreadConfig};
use evl::Executor;

/// The backend these tests run on: `EVL_BACKEND`, else auto-detected (the real core where
/// `/dev/evl` exists, the host backend elsewhere).
fn backend() {
    let _ = evl::core::backend::select(
        evl::core::backend::selection_from_env().expect("EVL_BACKEND is host, evl or auto"),
    );
}

/// Runs `f` on a fresh thread (attachment is per thread).
fn on_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

#[test]
fn an_executor_attaches_a_plain_thread_and_detaches_it_when_dropped() {
    backend();
    on_thread(|| {
        assert!(!Thread::is_attached());
        let ex = Executor::new().unwrap();
        assert!(Thread::is_attached(), "attached by the executor");
        assert!(ex.block_on(async { Thread::is_attached() }));
        drop(ex);
        assert!(!Thread::is_attached(), "detached with the executor");
        // And again: attaching twice in a thread's life works.
        let ex = Executor::new().unwrap();
        assert!(Thread::is_attached());
        drop(ex);
        assert!(!Thread::is_attached());
    });
}

#[test]
fn executors_on_one_thread_share_the_attachment_until_the_last_goes() {
    backend();
    on_thread(|| {
        let a = Executor::new().unwrap();
        let b = Executor::new().unwrap();
        drop(a);
        assert!(Thread::is_attached(), "b still needs the thread attached");
        assert_eq!(b.block_on(async { 7 }), 7);
        drop(b);
        assert!(!Thread::is_attached());
    });
}

#[test]
fn a_thread_the_application_attached_stays_attached() {
    backend();
    on_thread(|| {
        let me = Thread::attach(ThreadConfig::new("app").lock_memory(false)).unwrap();
        let ex = Executor::new().unwrap();
        drop(ex);
        assert!(
            Thread::is_attached(),
            "the executor did not attach it, so it keeps it"
        );
        drop(me);
        assert!(!Thread::is_attached());
    });
}

#[test]
fn attaching_keeps_the_threads_policy() {
    backend();
    on_thread(|| {
        let before = evl::core::thread::current_policy().unwrap();
        let ex = Executor::new().unwrap();
        assert_eq!(evl::core::thread::current_policy().unwrap(), before);
        drop(ex);
        assert_eq!(evl::core::thread::current_policy().unwrap(), before);
    });
}

#[test]
fn a_policy_asked_of_an_executor_on_a_plain_thread_is_applied_when_it_attaches() {
    backend();
    on_thread(|| {
        // SCHED_OTHER needs no privilege.
        let ex = evl::ExecutorConfig::new("other")
            .priority(0)
            .build()
            .unwrap();
        assert!(Thread::is_attached());
        assert_eq!(
            evl::core::thread::current_policy().unwrap(),
            evl::core::thread::SchedPolicy::Other
        );
        // A second executor on the now attached thread cannot ask for its own policy...
        let e = evl::ExecutorConfig::new("again")
            .priority(0)
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), evl::ErrorKind::InvalidArgument);
        assert!(e.hint().contains("attached to the core already"), "{e}");
        // ...but shares the attachment without one.
        let b = Executor::builder().build().unwrap();
        drop((ex, b));
        assert!(!Thread::is_attached());
    });
}
