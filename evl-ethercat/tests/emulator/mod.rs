//! A test fixture: EtherCAT subdevices emulated in software, answering datagrams the way an
//! ESC (EtherCAT slave controller) does, enough for a MainDevice to take them to OP and
//! exchange process data.
//!
//! Each emulated device is a simple digital I/O device: 32 output bits (RxPDO 0x1600, SM0 at
//! 0x1000) wired to 32 input bits (TxPDO 0x1A00, SM1 at 0x1100; no mailbox): in OP, whatever the
//! MainDevice writes to the outputs is what it reads back from the inputs in the same frame
//! (the device applies a datagram's writes before its reads, as if each output were wired to
//! its input). Modelled:
//! - the register file (8 KiB: registers and process RAM), read-only registers protected;
//! - every addressing mode: auto-increment (APRD/APWR/APRW/ARMW), configured station address
//!   (FPRD/FPWR/FPRW/FRMW), broadcast (BRD ORs, BWR/BRW), logical (LRD/LWR/LRW through the
//!   FMMUs), with working counters as an ESC counts them (read +1, write +1, read-write +3;
//!   logical per device: +1 if an input FMMU matched, +2 if an output FMMU matched);
//! - the AL state machine (AL control 0x0120 -> AL status 0x0130, no error);
//! - the SII EEPROM interface (0x0502 control, 0x0504 address, 0x0508 data, 8-byte reads) over
//!   an image with identity, no mailbox, and the General, FMMU, SyncManager, TxPDO and RxPDO
//!   categories;
//! - DL status with port 0 open (and port 1 open on all but the last device of a chain).
//!
//! Not modelled: distributed clocks (the devices say they have none), mailboxes, watchdogs.
//! Several devices in one emulator form a chain: a frame passes through each in order.
#![allow(dead_code)]

pub mod netns;

use evl_ethercat::PacketSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const MEM: usize = 0x2000;
/// Output bytes (and input bytes) per device.
pub const IO_BYTES: u16 = 4;
const SM_OUT: u16 = 0x1000;
const SM_IN: u16 = 0x1100;

/// Registers the MainDevice cannot write.
const READ_ONLY: &[(usize, usize)] = &[(0x0000, 0x0010), (0x0110, 0x0112), (0x0130, 0x0136)];

/// One emulated subdevice.
pub struct Device {
    mem: Vec<u8>,
    eeprom: Vec<u8>,
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The SII image of the digital I/O device.
fn eeprom_image(serial: u32) -> Vec<u8> {
    let mut e = vec![0u8; 0x80];
    put32(&mut e, 0x08 * 2, 0x0000_0E1C); // vendor
    put32(&mut e, 0x0A * 2, 0x0000_1032); // product
    put32(&mut e, 0x0C * 2, 0x0001_0000); // revision
    put32(&mut e, 0x0E * 2, serial);
    // 0x18..0x1C: no mailbox, no protocols (already zero).
    put16(&mut e, 0x3E * 2, 0x0003); // size: 4 kbit - 1
    put16(&mut e, 0x3F * 2, 0x0001); // version
    let mut cat = |kind: u16, data: &[u8]| {
        let mut d = data.to_vec();
        if d.len() % 2 == 1 {
            d.push(0);
        }
        e.extend_from_slice(&kind.to_le_bytes());
        e.extend_from_slice(&((d.len() / 2) as u16).to_le_bytes());
        e.extend_from_slice(&d);
    };
    cat(30, &[0u8; 32]); // General: no strings, no CoE/FoE/EoE
    cat(40, &[0x01, 0x02]); // FMMU0 outputs, FMMU1 inputs
    let sm = |start: u16, control: u8, kind: u8| {
        let mut b = [0u8; 8];
        b[0..2].copy_from_slice(&start.to_le_bytes());
        b[2..4].copy_from_slice(&IO_BYTES.to_le_bytes());
        b[4] = control;
        b[6] = 0x01; // enable
        b[7] = kind;
        b
    };
    let mut sms = Vec::new();
    sms.extend_from_slice(&sm(SM_OUT, 0x64, 3)); // SM0: process data outputs (write)
    sms.extend_from_slice(&sm(SM_IN, 0x20, 4)); // SM1: process data inputs (read)
    cat(41, &sms);
    let pdo = |index: u16, sm: u8, entry: u16| {
        let mut b = [0u8; 16];
        b[0..2].copy_from_slice(&index.to_le_bytes());
        b[2] = 1; // entries
        b[3] = sm;
        b[8..10].copy_from_slice(&entry.to_le_bytes());
        b[10] = 1; // subindex
        b[12] = 7; // UDINT
        b[13] = (IO_BYTES * 8) as u8;
        b
    };
    cat(50, &pdo(0x1A00, 1, 0x6000)); // TxPDO: inputs on SM1
    cat(51, &pdo(0x1600, 0, 0x7000)); // RxPDO: outputs on SM0
    e.extend_from_slice(&0xFFFFu16.to_le_bytes());
    e.extend_from_slice(&[0u8; 16]);
    e
}

impl Device {
    /// A device in INIT; `last` when it ends the chain (port 1 closed).
    pub fn new(serial: u32, last: bool) -> Self {
        let mut mem = vec![0u8; MEM];
        mem[0x0000] = 0x11; // type
        mem[0x0001] = 0x01; // revision
        mem[0x0004] = 3; // FMMUs
        mem[0x0005] = 4; // sync managers
        mem[0x0006] = (MEM / 1024) as u8 - 4; // process RAM (KiB)
        mem[0x0007] = 0x0F; // ports
        put16(&mut mem, 0x0008, 0x0001); // FMMU bit operations; no DC
        let mut dl = 0x0001 | 0x0002 | 0x0010 | 0x0200 | 0x1000 | 0x4000;
        dl |= if last { 0x0400 } else { 0x0020 | 0x0800 };
        put16(&mut mem, 0x0110, dl);
        mem[0x0130] = 0x01; // AL status: INIT
        put16(&mut mem, 0x0502, 0x0040); // SII: 8-byte reads, idle
        Device {
            mem,
            eeprom: eeprom_image(serial),
        }
    }

    /// The AL state (1 INIT, 2 PRE-OP, 4 SAFE-OP, 8 OP).
    pub fn al_state(&self) -> u8 {
        self.mem[0x0130] & 0x0F
    }

    fn station(&self) -> u16 {
        get16(&self.mem, 0x0010)
    }

    fn read(&self, ado: usize, data: &mut [u8], or: bool) {
        for (i, d) in data.iter_mut().enumerate() {
            let v = self.mem.get(ado + i).copied().unwrap_or(0);
            *d = if or { *d | v } else { v };
        }
    }

    fn write(&mut self, ado: usize, data: &[u8]) {
        for (i, d) in data.iter().enumerate() {
            let a = ado + i;
            if a < MEM && !READ_ONLY.iter().any(|&(s, e)| (s..e).contains(&a)) {
                self.mem[a] = *d;
            }
        }
        let touches = |reg: usize| ado <= reg && reg < ado + data.len();
        if touches(0x0120) {
            let req = self.mem[0x0120] & 0x0F;
            if matches!(req, 1 | 2 | 3 | 4 | 8) {
                self.mem[0x0130] = req;
                put16(&mut self.mem, 0x0134, 0);
            }
        }
        if touches(0x0503) && self.mem[0x0503] & 0x01 != 0 {
            // SII read: 8 bytes from the word address at 0x0504.
            let word = get32(&self.mem, 0x0504) as usize;
            for i in 0..8 {
                self.mem[0x0508 + i] = self.eeprom.get(word * 2 + i).copied().unwrap_or(0xFF);
            }
            self.mem[0x0503] = 0; // done: not busy, no error
            self.mem[0x0502] = 0x40 | (self.mem[0x0502] & 0x01);
        }
    }

    /// The FMMUs that are active: (logical start, length, physical start, type).
    fn fmmus(&self) -> impl Iterator<Item = (u32, u32, usize, u8)> + '_ {
        (0..3).filter_map(|i| {
            let f = 0x0600 + 16 * i;
            (self.mem[f + 12] & 1 == 1).then(|| {
                (
                    get32(&self.mem, f),
                    u32::from(get16(&self.mem, f + 4)),
                    usize::from(get16(&self.mem, f + 8)),
                    self.mem[f + 11],
                )
            })
        })
    }

    fn logical(&mut self, cmd: u8, addr: u32, data: &mut [u8]) -> u16 {
        let (mut wkc, len) = (0u16, data.len() as u32);
        let overlap = |ls: u32, fl: u32| {
            let s = ls.max(addr);
            let e = (ls + fl).min(addr + len);
            (s < e).then_some((s, e))
        };
        let fmmus: Vec<_> = self.fmmus().collect();
        if cmd == 11 || cmd == 12 {
            for &(ls, fl, ps, ty) in &fmmus {
                if ty & 2 == 0 {
                    continue;
                }
                if let Some((s, e)) = overlap(ls, fl) {
                    let p = ps + (s - ls) as usize;
                    let chunk = data[(s - addr) as usize..(e - addr) as usize].to_vec();
                    self.write(p, &chunk);
                    wkc |= if cmd == 12 { 2 } else { 1 };
                }
            }
            if self.al_state() == 8 {
                // The wiring: outputs to inputs.
                let n = usize::from(IO_BYTES);
                let (o, i) = (
                    usize::from(get16(&self.mem, 0x0800)),
                    usize::from(get16(&self.mem, 0x0808)),
                );
                self.mem.copy_within(o..o + n, i);
            }
        }
        if cmd == 10 || cmd == 12 {
            for &(ls, fl, ps, ty) in &fmmus {
                if ty & 1 == 0 {
                    continue;
                }
                if let Some((s, e)) = overlap(ls, fl) {
                    let p = ps + (s - ls) as usize;
                    self.read(
                        p,
                        &mut data[(s - addr) as usize..(e - addr) as usize],
                        false,
                    );
                    wkc |= 1;
                }
            }
        }
        wkc
    }

    /// Processes one datagram as it passes; the working counter increment.
    fn datagram(&mut self, cmd: u8, adp: &mut u16, ado: u16, laddr: u32, data: &mut [u8]) -> u16 {
        let ado = usize::from(ado);
        match cmd {
            // APRD APWR APRW ARMW: addressed when ADP is 0; every device increments it.
            1 | 2 | 3 | 13 => {
                let here = *adp == 0;
                *adp = adp.wrapping_add(1);
                match (cmd, here) {
                    (1, true) | (13, true) => {
                        self.read(ado, data, false);
                        1
                    }
                    (2, true) | (13, false) => {
                        self.write(ado, data);
                        1
                    }
                    (3, true) => {
                        let w = data.to_vec();
                        self.read(ado, data, false);
                        self.write(ado, &w);
                        3
                    }
                    _ => 0,
                }
            }
            // FPRD FPWR FPRW FRMW
            4 | 5 | 6 | 14 => {
                let here = *adp == self.station();
                match (cmd, here) {
                    (4, true) | (14, true) => {
                        self.read(ado, data, false);
                        1
                    }
                    (5, true) | (14, false) => {
                        self.write(ado, data);
                        1
                    }
                    (6, true) => {
                        let w = data.to_vec();
                        self.read(ado, data, false);
                        self.write(ado, &w);
                        3
                    }
                    _ => 0,
                }
            }
            // BRD BWR BRW
            7..=9 => {
                *adp = adp.wrapping_add(1);
                match cmd {
                    7 => {
                        self.read(ado, data, true);
                        1
                    }
                    8 => {
                        self.write(ado, data);
                        1
                    }
                    _ => {
                        let w = data.to_vec();
                        self.read(ado, data, true);
                        self.write(ado, &w);
                        3
                    }
                }
            }
            10..=12 => self.logical(cmd, laddr, data),
            _ => 0,
        }
    }
}

/// A chain of emulated devices and its counters.
pub struct Emulator {
    /// The devices, in chain order.
    pub devices: Vec<Device>,
    /// Frames answered.
    pub frames: AtomicU64,
}

impl Emulator {
    /// `n` devices in a chain.
    pub fn new(n: usize) -> Self {
        Emulator {
            devices: (0..n)
                .map(|i| Device::new(i as u32 + 1, i + 1 == n))
                .collect(),
            frames: AtomicU64::new(0),
        }
    }

    /// Processes an Ethernet frame in place; false when it is not an EtherCAT frame to
    /// answer (then nothing was changed).
    pub fn process(&mut self, frame: &mut [u8]) -> bool {
        if frame.len() < 16 || frame[12..14] != [0x88, 0xA4] {
            return false;
        }
        let end = frame.len();
        self.process_at(frame, 14, end)
    }

    /// Processes an EtherCAT-over-UDP frame in place (IPv4, UDP destination port 0x88A4):
    /// the EtherCAT part as [`process`](Self::process) does, the IPv4 and UDP headers left
    /// alone, as an ESC does. False when it is not one (then nothing was changed).
    pub fn process_udp(&mut self, frame: &mut [u8]) -> bool {
        if frame.len() < 14 + 20 + 8 || frame[12..14] != [0x08, 0x00] {
            return false;
        }
        let ihl = usize::from(frame[14] & 0x0F) * 4;
        let u = 14 + ihl;
        if frame[14] >> 4 != 4 || ihl < 20 || frame[23] != 17 || frame.len() < u + 8 {
            return false;
        }
        if frame[u + 2..u + 4] != [0x88, 0xA4] {
            return false;
        }
        let udp_len = usize::from(u16::from_be_bytes([frame[u + 4], frame[u + 5]]));
        let end = (u + udp_len).min(frame.len());
        self.process_at(frame, u + 8, end)
    }

    /// The EtherCAT part starts at `e` (its 2-byte header) and ends before `end`.
    fn process_at(&mut self, frame: &mut [u8], e: usize, end: usize) -> bool {
        if end < e + 2 || frame[6] & 0x02 != 0 {
            return false;
        }
        let header = get16(frame, e);
        if header >> 12 != 1 {
            return false;
        }
        let end = (e + 2 + usize::from(header & 0x07FF)).min(end);
        let mut at = e + 2;
        while at + 12 <= end {
            let cmd = frame[at];
            let mut adp = get16(frame, at + 2);
            let ado = get16(frame, at + 4);
            let laddr = get32(frame, at + 2);
            let lenf = get16(frame, at + 6);
            let len = usize::from(lenf & 0x07FF);
            let d = at + 10;
            if d + len + 2 > end {
                break;
            }
            let mut wkc = get16(frame, d + len);
            for dev in &mut self.devices {
                wkc = wkc.wrapping_add(dev.datagram(
                    cmd,
                    &mut adp,
                    ado,
                    laddr,
                    &mut frame[d..d + len],
                ));
            }
            if !(10..=12).contains(&cmd) {
                put16(frame, at + 2, adp);
            }
            put16(frame, d + len, wkc);
            at = d + len + 2;
            if lenf & 0x8000 == 0 {
                break;
            }
        }
        // The first device sets the locally administered bit of the source address.
        frame[6] |= 0x02;
        self.frames.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Answers frames on `sock` until `stop` is set (checked every 20 ms).
    pub fn serve(&mut self, sock: &PacketSocket, stop: &AtomicBool) -> std::io::Result<()> {
        sock.set_read_timeout(Duration::from_millis(20))?;
        let mut buf = [0u8; 1536];
        while !stop.load(Ordering::Relaxed) {
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            if self.process(&mut buf[..n]) {
                sock.send(&buf[..n])?;
            }
        }
        Ok(())
    }

    /// Answers EtherCAT-over-UDP frames on `sock` (an `ETH_P_IP` packet socket: the core's
    /// out-of-band one on EVL, from an attached thread; the in-band one on the host) until
    /// `stop` is set (checked every 20 ms). Frames that are not EtherCAT over UDP are
    /// ignored.
    pub fn serve_udp(
        &mut self,
        sock: &evl::core::packet::PacketSocket,
        stop: &AtomicBool,
        seen: &AtomicU64,
    ) -> std::io::Result<()> {
        use evl::core::{Clock, ErrorKind};
        let mut buf = [0u8; 1600];
        while !stop.load(Ordering::Relaxed) {
            let deadline = Clock::Monotonic
                .now()
                .saturating_add(Duration::from_millis(20));
            let n = match sock.recv_until(&mut buf, Some(deadline)) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            seen.fetch_add(1, Ordering::Relaxed);
            if self.process_udp(&mut buf[..n]) {
                sock.send(&buf[..n])?;
            }
        }
        Ok(())
    }
}
