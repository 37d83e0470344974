#!/usr/bin/env bash
# gen-launch-order.sh [BIN] - regenerates scripts/launch-order.txt: every function the launcher
# executes in a few representative launches, for the linker to place side by side
# (--symbol-ordering-file, see scripts/build-release.sh). The code a launch runs is then a few
# contiguous megabytes instead of pages scattered over the runtime, Foundation, Yams and
# ArgumentParser: fewer page faults at start and a smaller peak RSS (BENCHMARKS.md). A stale list
# is harmless (names that no longer exist are skipped), only less effective.
# Needs valgrind; run as root on a host where `bulkhead run` works.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$root/.build/release/bulkhead}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# valgrind cannot read the debug info of the static binary (about 80 MB of DWARF): strip it.
strip --strip-debug -o "$tmp/bulkhead" "$BIN"
i=0
for args in "run -- /bin/true" "run --profile unconfined -- /bin/true" "run --report - -- /bin/true" "run --timeout 10s -e A=1 -- /bin/true"; do
  i=$((i+1))
  # valgrind cannot emulate clone3 (ENOSYS): each launch stops there and exits 125 after removing
  # its cgroup, which still covers start, parsing, preparation, cgroup setup and exit.
  # shellcheck disable=SC2086
  valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$tmp/cg.$i" "$tmp/bulkhead" $args >/dev/null 2>&1 || true
done
# Function names as callgrind first names them (fn= and cfn= records), first seen first.
cat "$tmp"/cg.* | sed -nE 's/^c?fn=\([0-9]+\) (.+)$/\1/p' | sed -E "s/'[0-9]+$//" | grep -v '^0x' > "$tmp/names"
# What runs after clone3 (supervision, the report, the init's C code) from samples of real launches.
if perf record -q -F 20000 -o "$tmp/perf.data" -- sh -c "for i in \$(seq 100); do '$tmp/bulkhead' run -- /bin/true; '$tmp/bulkhead' run --report /dev/null -- /bin/true; done" >/dev/null 2>&1; then
  perf report -i "$tmp/perf.data" --no-demangle --dso bulkhead --sort sym -g none 2>/dev/null | sed -nE 's/^ +[0-9.]+% +\[\.\] ([^ ]+).*$/\1/p' >> "$tmp/names"
fi
grep -v '^0x' "$tmp/names" | awk '!seen[$0]++' > "$root/scripts/launch-order.txt"
echo "$(wc -l < "$root/scripts/launch-order.txt") functions written to scripts/launch-order.txt"
