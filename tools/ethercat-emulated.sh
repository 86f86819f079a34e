#!/bin/sh
# The `ethercat` example against emulated subdevices: makes a network namespace with a veth
# pair, runs N (default 2) emulated digital I/O subdevices on the far end, and runs the
# cyclic loop on the near end. Needs root. Extra arguments go to the example.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p evl-ethercat --example ethercat
exec target/release/examples/ethercat --emulate "${DEVICES:-2}" "$@"
