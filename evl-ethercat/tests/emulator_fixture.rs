//! The emulator fixture itself, without a network: datagrams in, the answers an ESC gives
//! out (addressing, working counters, AL state, SII reads, FMMU loop-back). No root needed.

mod emulator;

use emulator::Emulator;

/// An Ethernet frame holding one EtherCAT datagram.
fn frame(cmd: u8, adp: u16, ado: u16, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0xFF; 6];
    f.extend_from_slice(&[0x10; 6]);
    f.extend_from_slice(&[0x88, 0xA4]);
    let len = 10 + data.len() + 2;
    f.extend_from_slice(&((len as u16) | 0x1000).to_le_bytes());
    f.extend_from_slice(&[cmd, 0x42]);
    f.extend_from_slice(&adp.to_le_bytes());
    f.extend_from_slice(&ado.to_le_bytes());
    f.extend_from_slice(&(data.len() as u16).to_le_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(data);
    f.extend_from_slice(&[0, 0]);
    f
}

fn data(f: &[u8]) -> &[u8] {
    &f[26..f.len() - 2]
}

fn wkc(f: &[u8]) -> u16 {
    u16::from_le_bytes([f[f.len() - 2], f[f.len() - 1]])
}

fn xchg(e: &mut Emulator, cmd: u8, adp: u16, ado: u16, d: &[u8]) -> Vec<u8> {
    let mut f = frame(cmd, adp, ado, d);
    assert!(e.process(&mut f));
    assert_eq!(f[6] & 0x02, 0x02, "source address marked as passed through");
    f
}

#[test]
fn broadcast_reads_count_every_device_and_position_addressing_picks_one() {
    let mut e = Emulator::new(3);
    let f = xchg(&mut e, 7, 0, 0x0000, &[0]); // BRD type
    assert_eq!(wkc(&f), 3);
    assert_eq!(data(&f), [0x11]);
    // APWR the station address of the second device (position 1: ADP = -1).
    let f = xchg(&mut e, 2, 0xFFFF, 0x0010, &0x1001u16.to_le_bytes());
    assert_eq!(wkc(&f), 1);
    let f = xchg(&mut e, 4, 0x1001, 0x0010, &[0, 0]); // FPRD by that address
    assert_eq!((wkc(&f), data(&f)), (1, &[0x01, 0x10][..]));
    let f = xchg(&mut e, 4, 0x1002, 0x0010, &[0, 0]); // nobody
    assert_eq!(wkc(&f), 0);
}

#[test]
fn al_control_moves_al_status_and_read_only_registers_stay() {
    let mut e = Emulator::new(1);
    xchg(&mut e, 8, 0, 0x0120, &[0x02, 0]); // BWR AL control: PRE-OP
    assert_eq!(e.devices[0].al_state(), 2);
    xchg(&mut e, 8, 0, 0x0130, &[0x08, 0]); // BWR AL status: read-only
    assert_eq!(e.devices[0].al_state(), 2);
    let f = xchg(&mut e, 7, 0, 0x0000, &[0]);
    assert_eq!(data(&f), [0x11], "type register unchanged");
}

#[test]
fn sii_reads_return_the_identity_words() {
    let mut e = Emulator::new(1);
    // Control: read command (byte 0x0503 bit 0), word address 0x0008 (vendor id).
    xchg(&mut e, 8, 0, 0x0502, &[0x00, 0x01, 0x08, 0x00, 0x00, 0x00]);
    let f = xchg(&mut e, 7, 0, 0x0502, &[0, 0]);
    assert_eq!(
        u16::from_le_bytes([data(&f)[0], data(&f)[1]]) & 0x8000,
        0,
        "not busy"
    );
    let f = xchg(&mut e, 7, 0, 0x0508, &[0; 8]);
    assert_eq!(&data(&f)[..4], &0x0000_0E1Cu32.to_le_bytes());
    assert_eq!(&data(&f)[4..], &0x0000_1032u32.to_le_bytes());
}

#[test]
fn lrw_in_op_loops_outputs_back_to_inputs_with_wkc_3() {
    let mut e = Emulator::new(1);
    // SM0 outputs at 0x1000 and SM1 inputs at 0x1100 (4 bytes each), as ethercrab sets them.
    let sm = |start: u16| {
        let mut b = start.to_le_bytes().to_vec();
        b.extend_from_slice(&[4, 0, 0x64, 0, 1, 0]);
        b
    };
    xchg(&mut e, 8, 0, 0x0800, &sm(0x1000));
    xchg(&mut e, 8, 0, 0x0808, &sm(0x1100));
    // FMMU0: logical 0..4 -> 0x1000 write; FMMU1: logical 4..8 -> 0x1100 read.
    let fmmu = |log: u32, phys: u16, ty: u8| {
        let mut b = log.to_le_bytes().to_vec();
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0, 7]);
        b.extend_from_slice(&phys.to_le_bytes());
        b.extend_from_slice(&[0, ty, 1, 0, 0, 0]);
        b
    };
    xchg(&mut e, 8, 0, 0x0600, &fmmu(0, 0x1000, 2));
    xchg(&mut e, 8, 0, 0x0610, &fmmu(4, 0x1100, 1));
    xchg(&mut e, 8, 0, 0x0120, &[0x08, 0]);
    let mut f = frame(12, 0, 0, &[1, 2, 3, 4, 0, 0, 0, 0]);
    // Logical address 0 (the 4 address bytes are ADP and ADO both 0).
    assert!(e.process(&mut f));
    assert_eq!(wkc(&f), 3);
    assert_eq!(data(&f), [1, 2, 3, 4, 1, 2, 3, 4]);
}
