#!/bin/bash
# Runs in the guest (see test.sh). Each argument is NAME|DIR|EXE: runs EXE in DIR, sums its
# libtest result lines, prints failure details, then one table; exits 1 if any binary failed.
set -uo pipefail
unset EVL_BACKEND
per=${EVL_VM_TEST_TIMEOUT:-600}
table=() bad=0
for spec; do
  IFS='|' read -r name dir exe <<<"$spec"
  echo "evl-vm: running $name" >/dev/console
  dmesg -C
  start=$SECONDS
  (cd "$dir" && CARGO_MANIFEST_DIR=$dir timeout -k 10 "$per" "$exe") >/tmp/log 2>&1
  rc=$?
  read -r p f i < <(awk '/^test result:/ { for (k = 1; k < NF; k++) {
      if ($(k+1) ~ /^passed/) p += $k; if ($(k+1) ~ /^failed/) f += $k
      if ($(k+1) ~ /^ignored/) i += $k } } END { print p+0, f+0, i+0 }' /tmp/log)
  case $rc in 0) st=ok ;; 124|137) st=TIMEOUT ;; *) st="FAIL($rc)" ;; esac
  table+=("$(printf '%-36s %7s %7s %8s %6ss  %s' "$name" "$p" "$f" "$i" $((SECONDS - start)) "$st")")
  echo "evl-vm: $name: $p passed, $f failed, $i ignored, $st" >/dev/console
  ((rc == 0)) && continue
  bad=1
  echo "==================== $name: $st"
  if grep -q '^failures:$' /tmp/log; then sed -n '/^failures:$/,$p' /tmp/log; else tail -n 40 /tmp/log; fi
  dmesg | grep -q . && { echo "--- kernel log:"; dmesg | tail -n 20; }
done
echo
printf '%-36s %7s %7s %8s %7s  %s\n' binary passed failed ignored time status
printf '%s\n' "${table[@]}"
exit $bad
