//! Layout and numbering of the raw EVL ABI at level 36 (`evl_core::backend::evl::abi36`).
//!
//! Every number below was derived by hand from the uapi headers of
//! `patch-6.10-dovetail-evl.patch` (GitHub steleman/xenomai-fc39, EVL_ABI_LEVEL 36) and is
//! written here as a literal, so that a wrong field type, a wrong field order, a wrong
//! `#[repr]` or a wrong ioctl encoding all fail a test.
//!
//! The EVL uapi structures use fixed-width fields (`__u32`, `__s32`, `__u64`, `long long`,
//! `int`) and carry user pointers as `__u64`, so their layout is the same on x86_64 and
//! aarch64 (both LP64, both aligning 64-bit integers on 8 bytes). The same literals therefore
//! hold on both; only the `prctl` system call number differs per architecture and has a test
//! per architecture. 32-bit targets are out of scope.
#![cfg(target_pointer_width = "64")]

use core::mem::{align_of, offset_of, size_of};
use evl_core::backend::evl::abi36::*;
use evl_core::backend::evl::ioctl;

/// Asserts size, alignment and the offset of every listed field.
macro_rules! layout {
    ($t:ty, size = $size:expr, align = $align:expr, { $($f:ident = $off:expr),* $(,)? }) => {{
        assert_eq!(size_of::<$t>(), $size, "size_of::<{}>()", stringify!($t));
        assert_eq!(align_of::<$t>(), $align, "align_of::<{}>()", stringify!($t));
        $(
            assert_eq!(
                offset_of!($t, $f),
                $off,
                "offset_of!({}, {})",
                stringify!($t),
                stringify!($f)
            );
        )*
    }};
}

/// Size of the type a field has, from an accessor closure.
fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Bytes of a struct that no listed field covers (the implicit padding).
macro_rules! padding {
    ($t:ty, { $($f:ident),* $(,)? }) => {{
        let fields = 0usize $(+ field_size(|s: &$t| &s.$f))*;
        size_of::<$t>() - fields
    }};
}

#[test]
fn core_info() {
    // struct evl_core_info {
    //     __u32 abi_base;      //  0
    //     __u32 abi_current;   //  4
    //     __u32 fpu_features;  //  8
    //     __u64 shm_size;      // 16 (4 bytes of implicit padding at 12)
    // };                       // 24, align 8
    layout!(EvlCoreInfo, size = 24, align = 8, {
        abi_base = 0, abi_current = 4, fpu_features = 8, shm_size = 16,
    });
    // The backend's CoreInfo is this very type.
    let info: evl_core::backend::evl::CoreInfo = EvlCoreInfo::default();
    assert_eq!(info.shm_size, 0);
}

#[test]
fn cpu_state() {
    // struct evl_cpu_state {
    //     __u32 cpu;        // 0
    //     __u64 state_ptr;  // 8 (4 bytes of implicit padding at 4)
    // };                    // 16, align 8
    layout!(EvlCpuState, size = 16, align = 8, { cpu = 0, state_ptr = 8 });
}

#[test]
fn element_ids_and_clone_req() {
    // struct evl_element_ids { __u32 minor; __u32 fundle; __u32 state_offset; };  // 12, align 4
    layout!(EvlElementIds, size = 12, align = 4, {
        minor = 0, fundle = 4, state_offset = 8,
    });
    // struct evl_clone_req {
    //     __u64 name_ptr;               //  0
    //     __u64 attrs_ptr;              //  8
    //     __u32 clone_flags;            // 16
    //     struct evl_element_ids eids;  // 20
    //     __u32 efd;                    // 32
    // };                                // 40 (4 bytes of tail padding), align 8
    layout!(EvlCloneReq, size = 40, align = 8, {
        name_ptr = 0, attrs_ptr = 8, clone_flags = 16, eids = 20, efd = 32,
    });
}

#[test]
fn time_types() {
    // struct __evl_timespec { long long tv_sec; long long tv_nsec; };  // 16, align 8
    layout!(EvlTimespec, size = 16, align = 8, { tv_sec = 0, tv_nsec = 8 });
    // struct __evl_itimerspec { struct __evl_timespec it_interval, it_value; };  // 32
    layout!(EvlItimerspec, size = 32, align = 8, { it_interval = 0, it_value = 16 });
    // struct evl_timerfd_setreq { __u64 value_ptr; __u64 ovalue_ptr; };  // 16, align 8
    layout!(EvlTimerfdSetReq, size = 16, align = 8, { value_ptr = 0, ovalue_ptr = 8 });
}

#[test]
fn evl_value_union() {
    // union evl_value { __s32 val; __s64 lval; void *ptr; };  // 8, align 8
    layout!(EvlValue, size = 8, align = 8, {});
    assert_eq!(EvlValue::from_i64(-5).lval(), -5);
    assert_eq!(EvlValue::from_i32(-2).val(), -2);
    assert_eq!(
        EvlValue::from_addr(0xdead_beef_0000).addr(),
        0xdead_beef_0000
    );
    assert_eq!(EvlValue::NIL, EvlValue::default());
    // `val` is the first four bytes of the word: the low half on a little-endian target.
    #[cfg(target_endian = "little")]
    {
        assert_eq!(EvlValue::from_i32(-2).lval(), 0x0000_0000_ffff_fffe);
        assert_eq!(EvlValue::from_i64(0x1_0000_0007).val(), 7);
    }
}

#[test]
fn sched_attrs() {
    // union { struct { struct __evl_timespec q; } rr; struct { int g; } quota;
    //         struct { int p; } tp; } sched_u;        // 16, align 8
    layout!(EvlSchedParam, size = 16, align = 8, {});
    let q = EvlTimespec::new(1, 500);
    assert_eq!(EvlSchedParam::rr(q).rr_quantum(), q);
    assert_eq!(EvlSchedParam::quota(7).quota_group(), 7);
    assert_eq!(EvlSchedParam::tp(-1).tp_partition(), -1);
    assert_eq!(EvlSchedParam::NONE, EvlSchedParam::default());
    // struct evl_sched_attrs {
    //     int sched_policy;    // 0
    //     int sched_priority;  // 4
    //     union {...} sched_u; // 8
    // };                       // 24, align 8
    layout!(EvlSchedAttrs, size = 24, align = 8, {
        sched_policy = 0, sched_priority = 4, sched_u = 8,
    });
}

#[test]
fn sched_control() {
    // struct evl_quota_ctlparam { enum evl_quota_ctlop op;
    //     union { {int tgid;} remove; {int tgid, quota, quota_peak;} set; {int tgid;} get; } u;
    // };  // 16, align 4: op 0, u.tgid 4, u.set.quota 8, u.set.quota_peak 12
    layout!(EvlQuotaCtlParam, size = 16, align = 4, {
        op = 0, tgid = 4, quota = 8, quota_peak = 12,
    });
    // struct evl_quota_ctlinfo { int tgid; int quota; int quota_peak; int quota_sum; };  // 16
    layout!(EvlQuotaCtlInfo, size = 16, align = 4, {
        tgid = 0, quota = 4, quota_peak = 8, quota_sum = 12,
    });
    // struct __evl_tp_window {
    //     struct __evl_timespec offset;    //  0
    //     struct __evl_timespec duration;  // 16
    //     int ptid;                        // 32
    // };                                   // 40 (4 bytes of tail padding), align 8
    layout!(EvlTpWindow, size = 40, align = 8, { offset = 0, duration = 16, ptid = 32 });
    // struct evl_tp_ctlparam { enum evl_tp_ctlop op; int nr_windows;
    //                          struct __evl_tp_window windows[0]; };  // 8, align 8
    layout!(EvlTpCtlParam, size = 8, align = 8, { op = 0, nr_windows = 4, windows = 8 });
    // struct evl_tp_ctlinfo { int nr_windows; struct __evl_tp_window windows[0]; };
    //                                                    // 8 (padding at 4), align 8
    layout!(EvlTpCtlInfo, size = 8, align = 8, { nr_windows = 0, windows = 8 });
    // evl_tp_paramlen(n) = sizeof(struct evl_tp_ctlparam) + n * sizeof(struct __evl_tp_window)
    assert_eq!(evl_tp_paramlen(0), 8);
    assert_eq!(evl_tp_paramlen(2), 88);
    assert_eq!(evl_tp_infolen(3), 128);
    // union evl_sched_ctlparam / evl_sched_ctlinfo: largest member is the 16-byte quota one.
    assert_eq!(EVL_SCHED_CTLPARAM_SIZE, 16);
    assert_eq!(EVL_SCHED_CTLINFO_SIZE, 16);
    // struct evl_sched_ctlreq { int policy; int cpu; __u64 param_ptr; __u64 info_ptr; }; // 24
    layout!(EvlSchedCtlReq, size = 24, align = 8, {
        policy = 0, cpu = 4, param_ptr = 8, info_ptr = 16,
    });
    assert_eq!(
        (SCHED_WEAK, SCHED_QUOTA, SCHED_TP, EVL_TP_IDLE),
        (43, 44, 45, -1)
    );
    assert_eq!(
        (
            EVL_QUOTA_ADD,
            EVL_QUOTA_REMOVE,
            EVL_QUOTA_FORCE_REMOVE,
            EVL_QUOTA_SET,
            EVL_QUOTA_GET
        ),
        (0, 1, 2, 3, 4)
    );
    assert_eq!(
        (
            EVL_TP_INSTALL,
            EVL_TP_UNINSTALL,
            EVL_TP_START,
            EVL_TP_STOP,
            EVL_TP_GET
        ),
        (0, 1, 2, 3, 4)
    );
    assert_eq!((EVL_CPU_OOB, EVL_CPU_ISOL, EVL_CPU_OFFLINE), (1, 2, 4));
}

#[test]
fn thread_shared_structs() {
    // struct evl_user_window { __u32 state; __u32 info; __u32 pp_pending; };  // 12, align 4
    layout!(EvlUserWindow, size = 12, align = 4, { state = 0, info = 4, pp_pending = 8 });
    // struct evl_thread_state {
    //     struct evl_sched_attrs eattrs;  //  0
    //     __u32 cpu;    // 24
    //     __u32 state;  // 28
    //     __u32 isw;    // 32
    //     __u32 csw;    // 36
    //     __u32 sc;     // 40
    //     __u32 rwa;    // 44
    //     __u64 xtime;  // 48
    // };                // 56, align 8
    layout!(EvlThreadState, size = 56, align = 8, {
        eattrs = 0, cpu = 24, state = 28, isw = 32, csw = 36, sc = 40, rwa = 44, xtime = 48,
    });
}

#[test]
fn thread_flags() {
    let state = [
        EVL_T_SUSP,
        EVL_T_PEND,
        EVL_T_DELAY,
        EVL_T_WAIT,
        EVL_T_READY,
        EVL_T_DORMANT,
        EVL_T_ZOMBIE,
        EVL_T_INBAND,
        EVL_T_HALT,
        EVL_T_BOOST,
        EVL_T_PTSYNC,
        EVL_T_RRB,
        EVL_T_ROOT,
        EVL_T_WEAK,
        EVL_T_USER,
        EVL_T_WOSS,
        EVL_T_WOLI,
        EVL_T_WOSX,
        EVL_T_PTRACE,
        EVL_T_OBSERV,
        EVL_T_HMSIG,
        EVL_T_HMOBS,
        EVL_T_WOSO,
    ];
    // Declared in the header as 0x00000001, 0x00000002, ... 0x00400000, one bit each in order.
    for (i, bit) in state.iter().enumerate() {
        assert_eq!(*bit, 1u32 << i, "state bit {i}");
    }
    assert_eq!(EVL_T_INBAND, 0x80);
    assert_eq!(EVL_T_WOSO, 0x0040_0000);
    let info = [
        (EVL_T_TIMEO, 0x1),
        (EVL_T_RMID, 0x2),
        (EVL_T_BREAK, 0x4),
        (EVL_T_KICKED, 0x8),
        (EVL_T_WCHAN, 0x10),
        // 0x20 is free in the header.
        (EVL_T_CANCELD, 0x40),
        (EVL_T_PIALERT, 0x80),
        (EVL_T_SCHEDP, 0x100),
        (EVL_T_BCAST, 0x200),
        (EVL_T_SIGNAL, 0x400),
        (EVL_T_SXALERT, 0x800),
        (EVL_T_PTSIG, 0x1000),
        (EVL_T_PTSTOP, 0x2000),
        (EVL_T_PTJOIN, 0x4000),
        (EVL_T_NOMEM, 0x8000),
    ];
    for (bit, want) in info {
        assert_eq!(bit, want);
    }
    let hm = [
        EVL_HMDIAG_SIGDEMOTE,
        EVL_HMDIAG_SYSDEMOTE,
        EVL_HMDIAG_EXDEMOTE,
        EVL_HMDIAG_WATCHDOG,
        EVL_HMDIAG_LKDEPEND,
        EVL_HMDIAG_LKIMBALANCE,
        EVL_HMDIAG_LKSLEEP,
        EVL_HMDIAG_STAGEX,
        EVL_HMDIAG_OVERRUN,
    ];
    assert_eq!(hm, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(SIGDEBUG, libc::SIGXCPU);
    assert_eq!(SIGDEBUG_MARKER, 0xfccf_0000);
    assert_eq!(SIGDEBUG_CAUSE_MASK, 0xff);
}

#[test]
fn monitor_structs() {
    // struct evl_monitor_attrs {
    //     __u32 clockfd;                 // 0
    //     __u32 type : 2, protocol : 4;  // 4
    //     __u32 initval;                 // 8
    // };                                 // 12, align 4
    layout!(EvlMonitorAttrs, size = 12, align = 4, {
        clockfd = 0, type_protocol = 4, initval = 8,
    });
    // struct evl_monitor_state {
    //     __u32 flags;                                              // 0
    //     union {
    //         struct { __u32 owner; __u32 ceiling;
    //                  __u32 recursive : 1, nesting : 31; } gate;    // 4, 8, 12
    //         struct { __u32 value; __u32 pollrefs;
    //                  __u32 gate_offset; } event;                   // 4, 8, 12
    //     } u;                                                      // 4
    // };                                                            // 16, align 4
    layout!(EvlMonitorState, size = 16, align = 4, { flags = 0, u = 4 });
    layout!(EvlMonitorStateUnion, size = 12, align = 4, { words = 0 });
    layout!(EvlMonitorGateState, size = 12, align = 4, {
        owner = 0, ceiling = 4, recursive_nesting = 8,
    });
    layout!(EvlMonitorEventState, size = 12, align = 4, {
        value = 0, pollrefs = 4, gate_offset = 8,
    });
    assert_eq!(MONITOR_STATE_FLAGS_OFFSET, 0);
    assert_eq!(GATE_OWNER_OFFSET, 4);
    assert_eq!(GATE_CEILING_OFFSET, 8);
    assert_eq!(GATE_RECURSIVE_NESTING_OFFSET, 12);
    assert_eq!(EVENT_VALUE_OFFSET, 4);
    assert_eq!(EVENT_POLLREFS_OFFSET, 8);
    assert_eq!(EVENT_GATE_OFFSET_OFFSET, 12);
    // struct evl_monitor_waitreq {
    //     __u64 timeout_ptr;  //  0
    //     __s32 gatefd;       //  8
    //     __s32 status;       // 12
    //     __s32 value;        // 16
    // };                      // 24 (4 bytes of tail padding), align 8
    layout!(EvlMonitorWaitReq, size = 24, align = 8, {
        timeout_ptr = 0, gatefd = 8, status = 12, value = 16,
    });
    // struct evl_monitor_unwaitreq { __s32 gatefd; };   // 4
    layout!(EvlMonitorUnwaitReq, size = 4, align = 4, { gatefd = 0 });
    // struct evl_monitor_trywaitreq { __s32 value; };   // 4
    layout!(EvlMonitorTryWaitReq, size = 4, align = 4, { value = 0 });
    // struct evl_monitor_binding {
    //     __u32 type : 2, protocol : 4;  // 0
    //     struct evl_element_ids eids;   // 4
    // };                                 // 16, align 4
    layout!(EvlMonitorBinding, size = 16, align = 4, { type_protocol = 0, eids = 4 });
}

#[test]
fn monitor_constants_and_bitfields() {
    assert_eq!((EVL_MONITOR_EVENT, EVL_MONITOR_GATE), (0, 1));
    assert_eq!(
        (EVL_EVENT_GATED, EVL_EVENT_COUNT, EVL_EVENT_MASK),
        (0, 1, 2)
    );
    assert_eq!((EVL_GATE_PI, EVL_GATE_PP), (0, 1));
    assert_eq!(
        (
            EVL_MONITOR_SIGNALED,
            EVL_MONITOR_BROADCAST,
            EVL_MONITOR_TARGETED
        ),
        (1, 2, 4)
    );
    assert_eq!(EVL_MONITOR_NOGATE, 0xffff_ffff);

    let a = EvlMonitorAttrs::new(3, EVL_MONITOR_EVENT, EVL_EVENT_MASK, 9);
    assert_eq!((a.clockfd, a.ty(), a.protocol(), a.initval), (3, 0, 2, 9));
    let g = EvlMonitorAttrs::new(0, EVL_MONITOR_GATE, EVL_GATE_PP, 50);
    assert_eq!((g.ty(), g.protocol()), (1, 1));
    // GCC on little-endian targets puts the first bit field in the low bits:
    // type in bits 0-1, protocol in bits 2-5; recursive in bit 0, nesting in bits 1-31.
    #[cfg(target_endian = "little")]
    {
        assert_eq!(g.type_protocol, 0b01_01);
        assert_eq!(a.type_protocol, 0b10_00);
        assert_eq!(monitor_type_protocol(3, 0xf), 0x3f);
        assert_eq!(EvlMonitorGateState::pack_recursive_nesting(true, 3), 0b111);
    }
    let b = EvlMonitorBinding {
        type_protocol: monitor_type_protocol(EVL_MONITOR_EVENT, EVL_EVENT_COUNT),
        eids: EvlElementIds::default(),
    };
    assert_eq!((b.ty(), b.protocol()), (EVL_MONITOR_EVENT, EVL_EVENT_COUNT));

    let gate = EvlMonitorGateState {
        owner: 0x8000_0010,
        ceiling: 42,
        recursive_nesting: EvlMonitorGateState::pack_recursive_nesting(true, 5),
    };
    assert!(gate.recursive());
    assert_eq!(gate.nesting(), 5);
    let u = EvlMonitorStateUnion::from_gate(gate);
    assert_eq!(u.gate(), gate);
    let ev = EvlMonitorEventState {
        value: 3,
        pollrefs: 1,
        gate_offset: EVL_MONITOR_NOGATE,
    };
    assert_eq!(EvlMonitorStateUnion::from_event(ev).event(), ev);
    assert_eq!(
        EvlMonitorStateUnion::from_event(ev).words,
        [3, 1, 0xffff_ffff]
    );
}

#[test]
fn poll_structs() {
    // struct evl_poll_ctlreq {
    //     __u32 action;             //  0
    //     __u32 fd;                 //  4
    //     __u32 events;             //  8
    //     union evl_value pollval;  // 16 (4 bytes of implicit padding at 12)
    // };                            // 24, align 8
    layout!(EvlPollCtlReq, size = 24, align = 8, {
        action = 0, fd = 4, events = 8, pollval = 16,
    });
    // struct evl_poll_event { __u32 fd; __u32 events; union evl_value pollval; };  // 16
    layout!(EvlPollEvent, size = 16, align = 8, { fd = 0, events = 4, pollval = 8 });
    // struct evl_poll_waitreq {
    //     __u64 timeout_ptr;  //  0
    //     __u64 pollset_ptr;  //  8
    //     int nrset;          // 16
    // };                      // 24 (4 bytes of tail padding), align 8
    layout!(EvlPollWaitReq, size = 24, align = 8, {
        timeout_ptr = 0, pollset_ptr = 8, nrset = 16,
    });
    assert_eq!(
        (EVL_POLL_CTLADD, EVL_POLL_CTLDEL, EVL_POLL_CTLMOD),
        (0, 1, 2)
    );
}

#[test]
fn proxy_xbuf_observable_structs() {
    // struct evl_proxy_attrs { __u32 fd; __u32 bufsz; __u32 granularity; };  // 12, align 4
    layout!(EvlProxyAttrs, size = 12, align = 4, { fd = 0, bufsz = 4, granularity = 8 });
    // struct evl_xbuf_attrs { __u32 i_bufsz; __u32 o_bufsz; };  // 8, align 4
    layout!(EvlXbufAttrs, size = 8, align = 4, { i_bufsz = 0, o_bufsz = 4 });
    // struct evl_notice { __u32 tag; union evl_value event; };  // 16 (padding at 4), align 8
    layout!(EvlNotice, size = 16, align = 8, { tag = 0, event = 8 });
    // struct evl_subscription { __u32 backlog_count; __u32 flags; };  // 8, align 4
    layout!(EvlSubscription, size = 8, align = 4, { backlog_count = 0, flags = 4 });
    // struct __evl_notification {
    //     __u32 tag;                   //  0
    //     __u32 serial;                //  4
    //     __s32 issuer;                //  8
    //     union evl_value event;       // 16 (4 bytes of implicit padding at 12)
    //     struct __evl_timespec date;  // 24
    // };                               // 40, align 8
    layout!(EvlNotification, size = 40, align = 8, {
        tag = 0, serial = 4, issuer = 8, event = 16, date = 24,
    });
    assert_eq!(
        (EVL_NOTIFY_ALWAYS, EVL_NOTIFY_ONCHANGE, EVL_NOTIFY_MASK),
        (0, 1, 1)
    );
    assert_eq!(EVL_NOTICE_USER, 64);
}

/// The structures have implicit padding exactly where the C structures have it, and none
/// elsewhere: every byte of the others is covered by a field.
#[test]
fn implicit_padding_matches_the_headers() {
    // No padding in the C structure.
    assert_eq!(padding!(EvlElementIds, { minor, fundle, state_offset }), 0);
    assert_eq!(padding!(EvlTimespec, { tv_sec, tv_nsec }), 0);
    assert_eq!(padding!(EvlItimerspec, { it_interval, it_value }), 0);
    assert_eq!(padding!(EvlTimerfdSetReq, { value_ptr, ovalue_ptr }), 0);
    assert_eq!(
        padding!(EvlSchedAttrs, { sched_policy, sched_priority, sched_u }),
        0
    );
    assert_eq!(
        padding!(EvlQuotaCtlParam, { op, tgid, quota, quota_peak }),
        0
    );
    assert_eq!(
        padding!(EvlQuotaCtlInfo, { tgid, quota, quota_peak, quota_sum }),
        0
    );
    assert_eq!(padding!(EvlTpCtlParam, { op, nr_windows, windows }), 0);
    assert_eq!(
        padding!(EvlSchedCtlReq, { policy, cpu, param_ptr, info_ptr }),
        0
    );
    assert_eq!(padding!(EvlUserWindow, { state, info, pp_pending }), 0);
    assert_eq!(
        padding!(EvlThreadState, { eattrs, cpu, state, isw, csw, sc, rwa, xtime }),
        0
    );
    assert_eq!(
        padding!(EvlMonitorAttrs, { clockfd, type_protocol, initval }),
        0
    );
    assert_eq!(padding!(EvlMonitorState, { flags, u }), 0);
    assert_eq!(padding!(EvlMonitorStateUnion, { words }), 0);
    assert_eq!(
        padding!(EvlMonitorGateState, { owner, ceiling, recursive_nesting }),
        0
    );
    assert_eq!(
        padding!(EvlMonitorEventState, { value, pollrefs, gate_offset }),
        0
    );
    assert_eq!(padding!(EvlMonitorUnwaitReq, { gatefd }), 0);
    assert_eq!(padding!(EvlMonitorTryWaitReq, { value }), 0);
    assert_eq!(padding!(EvlMonitorBinding, { type_protocol, eids }), 0);
    assert_eq!(padding!(EvlPollEvent, { fd, events, pollval }), 0);
    assert_eq!(padding!(EvlProxyAttrs, { fd, bufsz, granularity }), 0);
    assert_eq!(padding!(EvlXbufAttrs, { i_bufsz, o_bufsz }), 0);
    assert_eq!(padding!(EvlSubscription, { backlog_count, flags }), 0);

    // Implicit padding in the C structure too (before a __u64/union/timespec, or at the tail).
    assert_eq!(
        padding!(EvlCoreInfo, { abi_base, abi_current, fpu_features, shm_size }),
        4
    );
    assert_eq!(padding!(EvlCpuState, { cpu, state_ptr }), 4);
    assert_eq!(
        padding!(EvlCloneReq, { name_ptr, attrs_ptr, clone_flags, eids, efd }),
        4
    );
    assert_eq!(padding!(EvlTpWindow, { offset, duration, ptid }), 4);
    assert_eq!(padding!(EvlTpCtlInfo, { nr_windows, windows }), 4);
    assert_eq!(
        padding!(EvlMonitorWaitReq, { timeout_ptr, gatefd, status, value }),
        4
    );
    assert_eq!(padding!(EvlPollCtlReq, { action, fd, events, pollval }), 4);
    assert_eq!(
        padding!(EvlPollWaitReq, { timeout_ptr, pollset_ptr, nrset }),
        4
    );
    assert_eq!(padding!(EvlNotice, { tag, event }), 4);
    assert_eq!(
        padding!(EvlNotification, { tag, serial, issuer, event, date }),
        4
    );
}

#[test]
fn ioctl_request_numbers() {
    // Each literal is dir << 30 | size << 16 | type << 8 | nr, computed from the header's
    // _IOx(type, nr, T) with the sizes above (_IO: dir 0, _IOW: 1, _IOR: 2, _IOWR: 3).
    let table: &[(u32, u32, &str)] = &[
        // _IOR('C', 0, struct evl_core_info /*24*/)
        (
            EVL_CTLIOC_GET_COREINFO,
            0x8018_4300,
            "EVL_CTLIOC_GET_COREINFO",
        ),
        // _IOWR('C', 1, struct evl_sched_ctlreq /*24*/)
        (EVL_CTLIOC_SCHEDCTL, 0xC018_4301, "EVL_CTLIOC_SCHEDCTL"),
        // _IOR('C', 2, struct evl_cpu_state /*16*/)
        (
            EVL_CTLIOC_GET_CPUSTATE,
            0x8010_4302,
            "EVL_CTLIOC_GET_CPUSTATE",
        ),
        // _IOWR('f', 0, struct evl_clone_req /*40*/)
        (EVL_IOC_CLONE, 0xC028_6600, "EVL_IOC_CLONE"),
        // _IOW('T', 0, __u32)
        (EVL_THRIOC_SIGNAL, 0x4004_5400, "EVL_THRIOC_SIGNAL"),
        // _IOW('T', 1, struct evl_sched_attrs /*24*/)
        (
            EVL_THRIOC_SET_SCHEDPARAM,
            0x4018_5401,
            "EVL_THRIOC_SET_SCHEDPARAM",
        ),
        // _IOR('T', 2, struct evl_sched_attrs /*24*/)
        (
            EVL_THRIOC_GET_SCHEDPARAM,
            0x8018_5402,
            "EVL_THRIOC_GET_SCHEDPARAM",
        ),
        // _IO('T', 3)
        (EVL_THRIOC_JOIN, 0x0000_5403, "EVL_THRIOC_JOIN"),
        // _IOR('T', 4, struct evl_thread_state /*56*/)
        (EVL_THRIOC_GET_STATE, 0x8038_5404, "EVL_THRIOC_GET_STATE"),
        // _IO('T', 5)
        (EVL_THRIOC_SWITCH_OOB, 0x0000_5405, "EVL_THRIOC_SWITCH_OOB"),
        // _IO('T', 6)
        (
            EVL_THRIOC_SWITCH_INBAND,
            0x0000_5406,
            "EVL_THRIOC_SWITCH_INBAND",
        ),
        // _IO('T', 7)
        (
            EVL_THRIOC_DETACH_SELF,
            0x0000_5407,
            "EVL_THRIOC_DETACH_SELF",
        ),
        // _IOWR('T', 8, __u32)
        (EVL_THRIOC_SET_MODE, 0xC004_5408, "EVL_THRIOC_SET_MODE"),
        // _IOWR('T', 9, __u32)
        (EVL_THRIOC_CLEAR_MODE, 0xC004_5409, "EVL_THRIOC_CLEAR_MODE"),
        // _IO('T', 10)
        (EVL_THRIOC_UNBLOCK, 0x0000_540A, "EVL_THRIOC_UNBLOCK"),
        // _IO('T', 11)
        (EVL_THRIOC_DEMOTE, 0x0000_540B, "EVL_THRIOC_DEMOTE"),
        // _IO('T', 12)
        (EVL_THRIOC_YIELD, 0x0000_540C, "EVL_THRIOC_YIELD"),
        // _IOW('m', 0, struct __evl_timespec /*16*/)
        (EVL_MONIOC_ENTER, 0x4010_6D00, "EVL_MONIOC_ENTER"),
        // _IO('m', 1)
        (EVL_MONIOC_TRYENTER, 0x0000_6D01, "EVL_MONIOC_TRYENTER"),
        // _IO('m', 2)
        (EVL_MONIOC_EXIT, 0x0000_6D02, "EVL_MONIOC_EXIT"),
        // _IOWR('m', 3, struct evl_monitor_waitreq /*24*/)
        (EVL_MONIOC_WAIT, 0xC018_6D03, "EVL_MONIOC_WAIT"),
        // _IOWR('m', 4, struct evl_monitor_unwaitreq /*4*/)
        (EVL_MONIOC_UNWAIT, 0xC004_6D04, "EVL_MONIOC_UNWAIT"),
        // _IOR('m', 5, struct evl_monitor_binding /*16*/)
        (EVL_MONIOC_BIND, 0x8010_6D05, "EVL_MONIOC_BIND"),
        // _IOW('m', 6, __s32)
        (EVL_MONIOC_SIGNAL, 0x4004_6D06, "EVL_MONIOC_SIGNAL"),
        // _IOW('m', 7, __s32)
        (EVL_MONIOC_BROADCAST, 0x4004_6D07, "EVL_MONIOC_BROADCAST"),
        // _IOWR('m', 8, struct evl_monitor_waitreq /*24*/)
        (EVL_MONIOC_WAIT_EXACT, 0xC018_6D08, "EVL_MONIOC_WAIT_EXACT"),
        // _IOWR('m', 9, struct evl_monitor_trywaitreq /*4*/)
        (EVL_MONIOC_TRYWAIT, 0xC004_6D09, "EVL_MONIOC_TRYWAIT"),
        // _IOWR('m', 10, struct evl_monitor_trywaitreq /*4*/)
        (
            EVL_MONIOC_TRYWAIT_EXACT,
            0xC004_6D0A,
            "EVL_MONIOC_TRYWAIT_EXACT",
        ),
        // _IOW('c', 0, struct __evl_timespec /*16*/)
        (EVL_CLKIOC_SLEEP, 0x4010_6300, "EVL_CLKIOC_SLEEP"),
        // _IOR('c', 1, struct __evl_timespec /*16*/)
        (EVL_CLKIOC_GET_RES, 0x8010_6301, "EVL_CLKIOC_GET_RES"),
        // _IOR('c', 2, struct __evl_timespec /*16*/)
        (EVL_CLKIOC_GET_TIME, 0x8010_6302, "EVL_CLKIOC_GET_TIME"),
        // _IOW('c', 3, struct __evl_timespec /*16*/)
        (EVL_CLKIOC_SET_TIME, 0x4010_6303, "EVL_CLKIOC_SET_TIME"),
        // _IO('c', 5)
        (EVL_CLKIOC_NEW_TIMER, 0x0000_6305, "EVL_CLKIOC_NEW_TIMER"),
        // _IOWR('t', 0, struct evl_timerfd_setreq /*16*/)
        (EVL_TFDIOC_SET, 0xC010_7400, "EVL_TFDIOC_SET"),
        // _IOR('t', 1, struct __evl_itimerspec /*32*/)
        (EVL_TFDIOC_GET, 0x8020_7401, "EVL_TFDIOC_GET"),
        // _IOW('p', 0, struct evl_poll_ctlreq /*24*/)
        (EVL_POLIOC_CTL, 0x4018_7000, "EVL_POLIOC_CTL"),
        // _IOWR('p', 1, struct evl_poll_waitreq /*24*/)
        (EVL_POLIOC_WAIT, 0xC018_7001, "EVL_POLIOC_WAIT"),
        // _IOW('o', 0, struct evl_subscription /*8*/)
        (EVL_OBSIOC_SUBSCRIBE, 0x4008_6F00, "EVL_OBSIOC_SUBSCRIBE"),
        // _IO('o', 1)
        (
            EVL_OBSIOC_UNSUBSCRIBE,
            0x0000_6F01,
            "EVL_OBSIOC_UNSUBSCRIBE",
        ),
        // _IO('O', 0)
        (EVL_TRCIOC_SNAPSHOT, 0x0000_4F00, "EVL_TRCIOC_SNAPSHOT"),
    ];
    for &(got, want, name) in table {
        assert_eq!(got, want, "{name}: got {got:#010x}, want {want:#010x}");
    }
    assert_eq!(
        (
            EVL_CONTROL_IOCBASE,
            EVL_FACTORY_IOCBASE,
            EVL_THREAD_IOCBASE,
            EVL_MONITOR_IOCBASE,
            EVL_CLOCK_IOCBASE,
            EVL_TIMERFD_IOCBASE,
            EVL_POLL_IOCBASE,
            EVL_OBSERVABLE_IOCBASE,
            EVL_TRACE_IOCBASE,
        ),
        (0x43, 0x66, 0x54, 0x6d, 0x63, 0x74, 0x70, 0x6f, 0x4f)
    );
}

#[test]
fn ioctl_encoding() {
    // asm-generic/ioctl.h: nr 8 bits at 0, type 8 bits at 8, size 14 bits at 16, dir 2 at 30.
    assert_eq!(ioctl::io(b'T', 3), 0x0000_5403);
    assert_eq!(ioctl::iow(b'T', 202, 4), 0x4004_54CA); // TUNSETIFF = _IOW('T', 202, int)
    assert_eq!(ioctl::ior(b'f', 1, 8), 0x8008_6601); // FS_IOC_GETFLAGS = _IOR('f', 1, long)
    assert_eq!(ioctl::iowr(0xC1, 0, 0x3fff), 0xFFFF_C100);
    assert_eq!(ioctl::ioc(3, 0xff, 0xff, ioctl::IOC_SIZE_MAX), 0xFFFF_FFFF);
    let r = EVL_IOC_CLONE;
    assert_eq!(ioctl::ioc_dir(r), ioctl::IOC_READ | ioctl::IOC_WRITE);
    assert_eq!(ioctl::ioc_type(r), b'f');
    assert_eq!(ioctl::ioc_nr(r), 0);
    assert_eq!(ioctl::ioc_size(r), 40);
    assert_eq!(ioctl::ioc_dir(EVL_CTLIOC_GET_COREINFO), ioctl::IOC_READ);
    assert_eq!(ioctl::ioc_dir(EVL_MONIOC_ENTER), ioctl::IOC_WRITE);
    assert_eq!(ioctl::ioc_dir(EVL_MONIOC_EXIT), ioctl::IOC_NONE);
}

#[test]
fn factory_flags_and_levels() {
    assert_eq!(EVL_ABI_BASE, 36);
    assert_eq!(EVL_ABI_LEVEL, 36);
    assert_eq!(EVL_ABI_PREREQ, 36);
    assert_eq!(EVL_API_LEVEL, 27);
    assert_eq!(evl_core::backend::evl::SUPPORTED_ABI, &[36]);
    assert_eq!(EVL_CLONE_PUBLIC, 0x0001_0000);
    assert_eq!(EVL_CLONE_PRIVATE, 0);
    assert_eq!(EVL_CLONE_OBSERVABLE, 0x0002_0000);
    assert_eq!(EVL_CLONE_NONBLOCK, 0x0004_0000);
    assert_eq!(EVL_CLONE_UNICAST, 0x0008_0000);
    assert_eq!(EVL_CLONE_MASTER, EVL_CLONE_UNICAST);
    assert_eq!(EVL_CLONE_INPUT, 0x0010_0000);
    assert_eq!(EVL_CLONE_OUTPUT, 0x0020_0000);
    assert_eq!(EVL_CLONE_COREDEV, 0x8000_0000);
    assert_eq!(EVL_CLONE_MASK, 0x7fff_0000);
    assert_eq!(EVL_THREAD_CLONE_FLAGS, 0x000b_0000);
    assert_eq!(EVL_OBSERVABLE_CLONE_FLAGS, 0x000b_0000);
    assert_eq!(EVL_PROXY_CLONE_FLAGS, 0x0031_0000);
    assert_eq!(EVL_MONITOR_CLONE_FLAGS, 0x0001_0000);
    assert_eq!(EVL_NO_HANDLE, 0);
    assert_eq!(EVL_MUTEX_FLCLAIM, 0x8000_0000);
    assert_eq!(EVL_MUTEX_FLCEIL, 0x4000_0000);
    assert_eq!(EVL_HANDLE_INDEX_MASK, 0xc000_0000);
    assert_eq!(evl_get_index(0xc000_0123), 0x123);
    assert_eq!(O_OOB, 0x4000_0000);
    assert_eq!(EVL_CLOCK_MONOTONIC, -1);
    assert_eq!(EVL_CLOCK_REALTIME, 0);
}

#[test]
fn device_paths() {
    assert_eq!(EVL_DEV_ROOT, "/dev/evl");
    assert_eq!(EVL_CONTROL_DEV, "/dev/evl/control");
    assert_eq!(evl_core::backend::evl::CONTROL_DEVICE, EVL_CONTROL_DEV);
    assert_eq!(EVL_CONTROL_DEV_C.to_str(), Ok(EVL_CONTROL_DEV));
    let clone = |class: &str| format!("{EVL_DEV_ROOT}/{class}/clone");
    let cases = [
        (EVL_THREAD_CLONE_DEV_C, clone(EVL_THREAD_DEV)),
        (EVL_MONITOR_CLONE_DEV_C, clone(EVL_MONITOR_DEV)),
        (EVL_PROXY_CLONE_DEV_C, clone(EVL_PROXY_DEV)),
        (EVL_XBUF_CLONE_DEV_C, clone(EVL_XBUF_DEV)),
        (EVL_OBSERVABLE_CLONE_DEV_C, clone(EVL_OBSERVABLE_DEV)),
        (EVL_POLL_DEV_C, format!("{EVL_DEV_ROOT}/{EVL_POLL_DEV}")),
        (
            EVL_CLOCK_MONOTONIC_DEV_C,
            format!("{EVL_DEV_ROOT}/{EVL_CLOCK_DEV}/{EVL_CLOCK_MONOTONIC_DEV}"),
        ),
        (
            EVL_CLOCK_REALTIME_DEV_C,
            format!("{EVL_DEV_ROOT}/{EVL_CLOCK_DEV}/{EVL_CLOCK_REALTIME_DEV}"),
        ),
    ];
    for (c, s) in cases {
        assert_eq!(c.to_str(), Ok(s.as_str()));
    }
    assert_eq!(EVL_THREAD_CLONE_DEV_C.to_str(), Ok("/dev/evl/thread/clone"));
    assert_eq!(
        EVL_CLOCK_MONOTONIC_DEV_C.to_str(),
        Ok("/dev/evl/clock/monotonic")
    );
}

#[test]
fn oob_syscall_encoding() {
    assert_eq!(PR_OOB_SYSCALL, 0x4f4f_4243);
    assert_eq!(OOB_SYSCALL_BIT, 0x1000_0000);
    assert_eq!((SYS_EVL_READ, SYS_EVL_WRITE, SYS_EVL_IOCTL), (0, 1, 2));
    assert_eq!(NR_EVL_SYSCALLS, 3);
    assert_eq!(
        oob_syscall_args(SYS_EVL_IOCTL, 5, 0xC018_7001, 0x7fff_0000),
        [0x4f4f_4243, 2, 5, 0xC018_7001, 0x7fff_0000]
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn prctl_syscall_number_x86_64() {
    // arch/x86/entry/syscalls/syscall_64.tbl: 157 common prctl
    assert_eq!(NR_PRCTL, 157);
    assert_eq!(NR_PRCTL, libc::SYS_prctl);
}

#[cfg(target_arch = "aarch64")]
#[test]
fn prctl_syscall_number_aarch64() {
    // include/uapi/asm-generic/unistd.h: #define __NR_prctl 167
    assert_eq!(NR_PRCTL, 167);
    assert_eq!(NR_PRCTL, libc::SYS_prctl);
}
