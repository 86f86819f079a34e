#!/usr/bin/env bash
# Build an EVL kernel image (bzImage) for run.sh.
# SRC_DIR: a Linux tree with the EVL core patched in, e.g. Linux 6.10 from
# github.com/qiaozhe1/linux6.10 (commit 608ed117) plus patch-6.10-dovetail-evl.patch
# from github.com/steleman/xenomai-fc39 (see README.md). Keep it outside the repo.
# The build is niced (nice 19, JOBS=2 by default): it shares the machine.
set -euo pipefail
src=$(realpath "${1:?usage: build-kernel.sh SRC_DIR [OUT_DIR]}")
out=$(realpath -m "${2:-/work/evl-lab/build}")
frag="$(dirname "$(realpath "$0")")/evl.config"
mkdir -p "$out"

make -C "$src" O="$out" x86_64_defconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag"
make -C "$src" O="$out" olddefconfig

# Options the fragment asks for that did not survive: fatal for the core, a warning otherwise.
sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=y$/\1/p' "$frag" | while read -r opt; do
  grep -q "^$opt=y" "$out/.config" && continue
  case $opt in
    CONFIG_EVL_NET|CONFIG_NET_SCH_OOB|CONFIG_VETH) echo "warning: $opt not set" >&2 ;;
    *) echo "error: $opt not set in $out/.config" >&2; exit 1 ;;
  esac
done

nice -n 19 make -C "$src" O="$out" -j"${JOBS:-2}" bzImage
echo "kernel: $out/arch/x86/boot/bzImage"
