//! What the observable front end and its backends share: what an update sends ([`Notice`]),
//! what a subscriber reads ([`Notification`]), and the limits.

use crate::time::types::Timestamp;

/// The lowest tag an application may use; lower tags are reserved to the core (EVL sends its
/// health-monitoring diagnostics with them). EVL's `EVL_NOTICE_USER`.
pub const NOTICE_USER: u32 = 64;

/// The largest backlog a subscriber may ask for.
pub const MAX_BACKLOG: usize = 1 << 20;

/// What an update sends: a tag saying what the value is about, and the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Notice {
    /// What the value is about; at least [`NOTICE_USER`].
    pub tag: u32,
    /// The value (any 64-bit payload).
    pub value: u64,
}

impl Notice {
    /// A notice with `tag` (at least [`NOTICE_USER`]) and `value`.
    pub const fn new(tag: u32, value: u64) -> Self {
        Notice { tag, value }
    }
}

/// What a subscriber reads: a notice plus who sent it, when, and in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notification {
    /// The notice's tag.
    pub tag: u32,
    /// The notice's value.
    pub value: u64,
    /// Increases by one for each notice the observable delivered to at least one
    /// subscriber (notices sent while nobody is subscribed take no number, as in EVL); every
    /// subscriber sees the same serial for the same notice, so a gap in what one subscriber
    /// reads means it lost notices. (On the EVL backend a notice that found every backlog full
    /// takes a number too; the core's serial is 32-bit and is widened by counting wraps.)
    pub serial: u64,
    /// The kernel id of the issuing thread (its tid, which EVL calls the pid of a thread; the
    /// process id for a process's main thread).
    pub issuer: u32,
    /// When the update was received, on the monotonic clock; the same for every notice of
    /// one update (on the EVL backend: of each run of 64 notices of one update).
    pub date: Timestamp,
}
