#!/bin/sh
# Side-by-side EtherCAT cycle benchmark: evl vs ethercrab's own std set-up (smol), over a
# veth pair to emulated subdevices in a network namespace. Needs root (namespace, raw
# sockets, SCHED_FIFO). Extra arguments go to ethercat-compare, e.g. --cpu 1 --blocks 10.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p evl-ethercat --example ethercat --example ethercat-compare
# Its own project and target dir: it needs ethercrab's `std` feature (see its Cargo.toml).
CARGO_TARGET_DIR=target/baseline cargo build --release \
    --manifest-path evl-ethercat/baseline/Cargo.toml
exec target/release/examples/ethercat-compare \
    --baseline target/baseline/release/ethercrab-smol-baseline "$@"
