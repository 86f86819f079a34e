#!/usr/bin/env bash
# run.sh [--] CMD [ARGS...]
# Boots the EVL kernel under qemu (software emulation), with the host root shared read-only
# over 9p, runs CMD as root in the current directory, prints its stdout and stderr, powers
# off, and exits with CMD's status (124: the VM timed out, 125: no status came back).
# Inside: /dev/evl, tmpfs /tmp (TMPDIR=/tmp, HOME=/tmp), /run, /dev/shm, lo up; the root,
# and so every target dir, is read-only. Pass variables with `env NAME=VALUE CMD`.
# Environment: EVL_VM_KERNEL (bzImage), EVL_VM_MEM (3G), EVL_VM_SMP (2),
# EVL_VM_TIMEOUT (seconds, 3600), EVL_VM_CONSOLE=1 (show the guest console on stderr),
# EVL_VM_APPEND (more kernel parameters), EVL_VM_LOG (copy the console log to this file).
#
# tsc=reliable: TCG's TSC is one host counter for every vCPU, but the guest's boot check
# would mark it unstable and fall back to hpet, which has no vDSO: every clock_gettime would
# then be a system call, unlike on real hardware. With it, about one boot in 15 oopses
# (int3 in sched_clock_cpu while a static key is patched, IRQ pipeline): a guest that dies
# before it starts CMD is booted again, up to 3 times.
set -euo pipefail
kernel=${EVL_VM_KERNEL:-/work/evl-lab/build/arch/x86/boot/bzImage}
here=$(dirname "$(realpath "$0")")
[[ ${1:-} == -- ]] && shift
(($#)) || { echo "usage: run.sh [--] CMD [ARGS...]" >&2; exit 2; }
[[ -r $kernel ]] || { echo "run.sh: no kernel at $kernel (set EVL_VM_KERNEL, see README.md)" >&2; exit 2; }

out=$(mktemp -d /tmp/evl-vm.XXXXXX)
trap 'exit 130' INT TERM HUP
trap 'kill ${qemu:-} ${tailpid:-} 2>/dev/null || true; rm -rf "$out"' EXIT
{
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'export PATH=%q TMPDIR=/tmp HOME=/tmp\n' "$PATH"
  printf 'exec'; printf ' %q' "$@"; echo
} >"$out/cmd.sh"
touch "$out/console.log"
[[ ${EVL_VM_CONSOLE:-0} == 1 ]] && { tail -F "$out/console.log" >&2 2>/dev/null & tailpid=$!; }

append="console=ttyS0 loglevel=4 panic=-1 tsc=reliable ro root=hostroot rootfstype=9p"
append+=" rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose"
append+=" init=$here/guest-init.sh ${EVL_VM_APPEND:-}"
boot() {
  : >"$out/console.log"
  timeout "${EVL_VM_TIMEOUT:-3600}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max \
    -smp "${EVL_VM_SMP:-2}" -m "${EVL_VM_MEM:-3G}" -display none -monitor none -no-reboot \
    -serial "file:$out/console.log" -kernel "$kernel" -append "$append" \
    -fsdev local,id=root,path=/,security_model=passthrough,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=root,mount_tag=hostroot \
    -fsdev local,id=out,path="$out",security_model=passthrough \
    -device virtio-9p-pci,fsdev=out,mount_tag=evlvmout &
  qemu=$!
  rc=0
  wait "$qemu" || rc=$?
  qemu=
}
for try in 1 2 3; do
  boot
  # guest-init.sh says "evl-vm: ..." on the console just before it starts CMD.
  if grep -q '^evl-vm: ' "$out/console.log" || ((rc == 124)); then break; fi
  echo "run.sh: the guest died while booting (try $try of 3):" \
    "$(grep -m1 -E 'Oops|panic' "$out/console.log" || echo 'no oops')" >&2
done
[[ -n ${EVL_VM_LOG:-} ]] && cp "$out/console.log" "$EVL_VM_LOG"
if [[ -n ${tailpid:-} ]]; then sleep 1; kill "$tailpid"; wait "$tailpid" 2>/dev/null || true; fi

[[ -f $out/stdout ]] && cat "$out/stdout"
[[ -f $out/stderr ]] && cat "$out/stderr" >&2
if [[ -s $out/status ]]; then exit "$(<"$out/status")"; fi
echo "run.sh: no status from the guest (qemu: $rc); console tail:" >&2
tail -n 40 "$out/console.log" >&2
exit $((rc == 124 ? 124 : 125))
