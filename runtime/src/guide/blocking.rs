//! What may block, and on what.
//!
//! "Block" means wait for another thread or for the kernel. In steady state none of these
//! allocates.
//!
//! | call | blocks? | on what |
//! |---|---|---|
//! | [`Executor::block_on`](crate::Executor::block_on), [`block_on`](crate::block_on), [`Runtime::block_on`](crate::Runtime::block_on) | yes: that is their job | the executor's one wait, a reactor turn (EVL: the out-of-band poll wait; host: epoll), only when no task is runnable; `Runtime::block_on` then joins its executor threads |
//! | dropping an [`Executor`](crate::Executor) | briefly | it cancels and runs every task to completion; a wake or spawn still half-way on another thread is waited for on its doorbell, never spun on |
//! | `.await` on timers, [`io`](crate::io) readiness and elements, [`sync::Notified`](crate::sync::Notified), [`JoinHandle`](crate::JoinHandle), [`shutdown::requested`](crate::shutdown::requested) | never blocks the thread | the task returns Pending; the executor's one wait covers it |
//! | [`spawn`](crate::spawn), [`spawn_local`](crate::spawn_local), [`Spawner`](crate::Spawner) spawns, static-pool spawns, `Waker::wake`, [`JoinHandle::abort`](crate::JoinHandle::abort) | never | compare-and-swaps (slot claim, task state, inbox push, pool list push) and at most one doorbell `write` (out-of-band on EVL) |
//! | [`sync::Notify::notify_one`](crate::sync::Notify::notify_one), [`sync::Notify::notify_waiters`](crate::sync::Notify::notify_waiters), polling a `Notified` with the same waker | never | atomic operations; may do the waiter-list work of operations racing on the same `Notify` (bounded by what they added) and calls the released waiters' wakers |
//! | dropping a still-waiting `Notified`, polling it with a different waker, `notify_waiters` racing a `notify_one` nobody has handed on yet | only while another thread is inside that `Notify`'s list work | an evl-core [`RawLock`](crate::core::lock): host, a priority-inheriting futex; EVL, out-of-band sleeps for an attached thread, in-band ones for a plain thread |
//! | [`sync`](crate::sync) channels and locks (`mpsc`, `oneshot`, `watch`, `broadcast`, `Mutex`, `RwLock`, `Semaphore`, `Barrier`) | `.await` never blocks the thread; a few paths take a `RawLock` briefly | per call in the RT-safety table of [`sync`](crate::sync): atomics on the common paths; queueing a waiter, handing permits to a waiter, `watch`'s value and `broadcast`'s ring under an evl-core `RawLock` (as above) |
//! | `AsyncSemaphore::put`, `AsyncFlags::post`/`broadcast` (evl-core `Semaphore::put`, `Flags::post`) | host: only when contended | host: the element's priority-inheriting futex lock, held for a few memory operations; EVL: never (a user-space compare-and-swap or one out-of-band call) |
//! | evl-core waits (`Semaphore::get`, `Flags::wait`, `Event::wait`, `Mutex::lock`, `Timer::read`, `PollSet::wait`, blocking xbuf reads and writes) | yes, by design | the element, in the kernel (out-of-band on EVL; `Mutex` with priority inheritance) |
//! | evl-core `PollSet::add`/`modify`/`remove`/`wait` on the EVL backend | only when two threads use one set at once | its table's `RawLock` (out-of-band sleeps) |
//! | `Doorbell::ring`, [`shutdown::request`](crate::shutdown::request) | never | one non-blocking `write` |
//! | dropping the last `JoinHandle` or `Waker` of a finished task | never | runs the output's `Drop` on that thread, and frees the slot with a compare-and-swap |
//! | [`bridge`](crate::bridge) real-time ends: `RtSender::try_send`, `RtReceiver::recv`/`try_recv` | never | a full ring is `Full` or drops the oldest; at most one proxy write (out-of-band on EVL) when the in-band peer sleeps; per-end table in [`bridge`](crate::bridge#rt-safety) |
//! | [`bridge`](crate::bridge) in-band ends: `Receiver::recv`, `Sender::send` | yes, by design | `ppoll` on the wake-up pipe (in-band code) |
//! | `tracing` events and spans under [`trace::RtSubscriber`](crate::trace::RtSubscriber) on a thread with a ring | never | a record into the thread's ring (a full ring drops and counts); table in [`trace`](crate::trace#rt-safety) |
//!
//! First uses that still do set-up work on the calling thread: the first
//! [`shutdown::requested`](crate::shutdown::requested) creates the shutdown doorbell (an element: in-band on EVL), and
//! the first out-of-band blocking wait on an xbuf end opens its poll group.

// Documentation only.
