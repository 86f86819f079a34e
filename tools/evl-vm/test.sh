#!/usr/bin/env bash
# test.sh [REGEX]: builds the workspace's test binaries on the host, then runs each one (those
# whose name matches REGEX) in the EVL guest with the backend auto-detected, and prints a table.
# Not run: doctests and runtime/macros:ui (trybuild), which need cargo and a writable target dir
# and test the compiler, not the core; runtime/loom-models, pure atomics model checks that
# take hours under emulation (CI runs them on the host). EVL_VM_TEST_TIMEOUT: seconds per binary (600);
# EVL_VM_TIMEOUT: the whole VM (10800).
set -euo pipefail
here=$(dirname "$(realpath "$0")")
root=$(realpath "$here/../..")
cd "$root"

# NAME|DIR|EXE per test binary; DIR is the package's (cargo runs tests there).
json=$(cargo test --workspace --all-features --no-run --message-format=json-render-diagnostics)
mapfile -t bins < <(jq -r --arg root "$root/" 'select(.reason == "compiler-artifact" and .profile.test
      and .executable != null)
    | (.manifest_path | rtrimstr("/Cargo.toml")) as $dir
    | "\($dir | ltrimstr($root) | ltrimstr($root[:-1]) | if . == "" then "." else . end):"
      + "\(if .target.kind[0] == "test" then .target.name else .target.kind[0] end)"
      + "|\($dir)|\(.executable)"' <<<"$json" |
  grep -v -e '^runtime/macros:ui|' -e '^runtime/loom-models:' | grep -E "^[^|]*(${1:-.})" | sort)
((${#bins[@]})) || { echo "test.sh: no test binary matches" >&2; exit 2; }

# Run hard links, so a concurrent rebuild does not swap a binary under the guest.
snap="$root/target/evl-vm/$$"
mkdir -p "$snap"
trap 'rm -rf "$snap"' EXIT
for i in "${!bins[@]}"; do
  exe=${bins[i]##*|}
  cp -l "$exe" "$snap/" 2>/dev/null || cp "$exe" "$snap/"
  bins[i]="${bins[i]%|*}|$snap/${exe##*/}"
done

echo "test.sh: $(git log -1 --format='%h %s' | cut -c1-80), $(git status --porcelain -uno | wc -l) files modified" >&2
# As cargo does: proc-macro crates' tests link the toolchain's libstd dynamically.
libdir=$(rustc --print target-libdir)
EVL_VM_CONSOLE=${EVL_VM_CONSOLE:-1} EVL_VM_TIMEOUT=${EVL_VM_TIMEOUT:-10800} "$here/run.sh" env LD_LIBRARY_PATH="$libdir" \
  EVL_VM_TEST_TIMEOUT="${EVL_VM_TEST_TIMEOUT:-600}" bash "$here/guest-tests.sh" "${bins[@]}"
