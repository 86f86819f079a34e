//! # evl-core — the EVL core's elements as plain Rust types
//!
//! One type per EVL element, with the meaning it has in EVL/libevl, usable from any thread,
//! served by one of two backends chosen at start ([`backend`]): the real EVL core, or stock /
//! PREEMPT_RT Linux (`host`). This crate knows nothing of futures; it is the only crate of the
//! workspace that makes system calls.
//!
//! | module | element |
//! |---|---|
//! | [`time`] | [`Clock`] (monotonic, realtime), absolute [`Timestamp`]s, sleep-until |
//! | [`thread`] | [`Thread`] attachment: name, SCHED_FIFO priority, CPU affinity, mlockall |
//! | [`timer`] | [`Timer`]: fd-backed one-shot/periodic timer, overrun counts |
//! | [`sem`] | [`Semaphore`]: counting, pollable |
//! | [`flags`] | [`Flags`]: 32-bit event group, wait for any/all bits, pollable |
//! | [`mutex`] | [`Mutex`]: priority-inheriting lock |
//! | [`event`] | [`Event`]: condition variable gated by a [`Mutex`] |
//! | [`lock`] | [`RawLock`]: a one-word lock with no element (`const`), for rare slow paths |
//! | [`poll`] | [`PollSet`]: wait for many fds at once |
//! | [`io`] | reads and writes on fds that keep the caller on its stage (`oob_read`/`oob_write` on EVL) |
//! | [`doorbell`] | [`Doorbell`]: coalescing, async-signal-safe wake-up with a pollable fd |
//! | [`proxy`] | [`Proxy`]: non-blocking byte channel to an ordinary fd |
//! | [`xbuf`] | [`Xbuf`]: bidirectional byte buffer between real-time and ordinary threads |
//! | [`observable`] | [`Observable`]: publish/subscribe notifications with a backlog |
//! | [`packet`] | [`PacketSocket`]: raw Ethernet frames of one EtherType (EVL: the core's oob packet socket) |
//! | [`stage`] | stage-switch detection: in-band demotions of attached threads, per cause |
//! | [`process`] | process-level calls of the upper layers: fd flags, termination signals |
//! | [`name`] | element names, private/public [`Visibility`] |
//! | [`error`] | the one [`Error`] type and its [`ErrorKind`]s |
//!
//! Steady-state operations (wait, signal, post, poll, timer reads) allocate nothing; creating
//! an element may.

pub mod backend;
pub mod doorbell;
pub mod error;
pub mod event;
pub mod flags;
pub mod io;
pub mod lock;
pub mod mutex;
pub mod name;
pub mod observable;
pub mod packet;
pub mod poll;
pub mod process;
pub mod proxy;
pub mod sem;
pub mod stage;
pub mod thread;
pub mod time;
pub mod timer;
pub mod xbuf;

pub use backend::Backend;
pub use doorbell::Doorbell;
pub use error::{Error, ErrorKind, Result};
pub use event::Event;
pub use flags::{Flags, FlagsMode};
pub use lock::RawLock;
pub use mutex::{Mutex, MutexGuard};
pub use name::Visibility;
pub use observable::{Notice, Notification, Observable, Subscriber};
pub use packet::{FramePath, OobUnavailable, PacketSocket};
pub use poll::{PollEvent, PollFlags, PollSet};
pub use proxy::{Proxy, ProxyWrite};
pub use sem::Semaphore;
pub use thread::{CoreStats, CpuSet, SchedPolicy, Thread, ThreadConfig};
pub use time::{Clock, Timestamp};
pub use timer::{Start, Timer};
pub use xbuf::{Xbuf, XbufEnd};
