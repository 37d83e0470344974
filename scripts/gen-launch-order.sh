#!/usr/bin/env bash
# gen-launch-order.sh [--add-faults | --add-traced] [BIN] - regenerates scripts/launch-order.txt: every function (and datum) the launcher
# executes in a few representative launches, for the linker to place side by side
# (--symbol-ordering-file, see scripts/build-release.sh). The code a launch runs is then a few
# contiguous megabytes instead of pages scattered over the runtime, Foundation, Yams and
# ArgumentParser: fewer page faults at start and a smaller peak RSS (BENCHMARKS.md). A stale list
# is harmless (names that no longer exist are skipped), only less effective; scripts/check-launch-order.sh
# (LaunchOrderTests, and every scripts/build-release.sh) says when it has gone stale.
# Needs valgrind and a C compiler (scripts/launch-trace.c); run as root on a host where `bulkhead run` works.
# --add-faults only appends, to the list as it is, the functions and data that real launches of
# BIN (linked with that list) still fault on: each fault maps a whole 64 to 128 KiB block, so a
# function reached through a block another hot one brought in is seen only once the list has moved
# its neighbours; run it, link again, and repeat until it adds few (BENCHMARKS.md, issue 17).
# --add-traced appends, to the list as it is, every function the single-stepped launches of BIN
# run that the list does not name (minutes): after a code change renamed what the optimiser makes
# (specialisations, outlined copies: their names come and go with the code), without the whole
# regeneration.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
add_faults=0 add_traced=0
if [ "${1:-}" = "--add-faults" ]; then add_faults=1; shift; fi
if [ "${1:-}" = "--add-traced" ]; then add_traced=1; shift; fi
BIN=${1:-$root/.build/release/bulkhead}
tmp=$(mktemp -d); trap '[ -S "$tmp/pool.sock" ] && "$tmp/bulkhead" pool stop --socket "$tmp/pool.sock" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
# valgrind cannot read the debug info of the static binary (about 80 MB of DWARF): strip it. BIN
# is the launch executable; its full command line (bulkhead-cli, next to it) is copied beside the
# copy, since a launch whose profile or filter is not cached yet execs it. Each configuration is
# launched once first, without valgrind: the caches are keyed by the pair of binaries (these
# copies), and a traced launch must be one from the caches, as every launch but the first is.
strip --strip-debug -o "$tmp/bulkhead" "$BIN"
strip --strip-debug -o "$tmp/bulkhead-cli" "$(dirname "$BIN")/bulkhead-cli"
for args in "run -- /bin/true" "run --profile unconfined -- /bin/true" "run --report - -- /bin/true"; do
  # shellcheck disable=SC2086
  "$tmp/bulkhead" $args >/dev/null 2>&1 || true
done
: > "$tmp/names"
# First, and in the order it first runs them: every function the launcher process runs, start to
# exit, in the launches the RSS rows measure (`run -- /bin/true`, `container`; then
# `--profile unconfined`; then a rootless one as nobody, `--limits best-effort`; then a warm
# pool's client), from
# single-stepped launches (scripts/launch-trace.c; ptrace, the launcher only, not its init). Its
# peak RSS is its own pages, and each page fault on the binary maps a whole 64 KiB block
# (fault-around), so what counts is how few blocks these functions fall in: before this pass the
# list was led by callgrind's names (which stop at clone3) and sampled ones, and the launcher's
# functions that run after clone3 (supervision, the report, removal) or that callgrind names late
# lay in blocks of their own, 49 blocks for 0.8 MiB of code (BENCHMARKS.md, session 12). Takes a few
# million single steps: minutes.
if [ "$add_faults" = 0 ] && command -v cc >/dev/null && command -v python3 >/dev/null; then
  # A traced launch that execs bulkhead-cli (a cache miss) is not the launch to trace:
  # launch-trace exits 3, and the list is not made from it.
  trace() {
    local rc=0
    "$tmp/launch-trace" "$@" >/dev/null || rc=$?
    if [ "$rc" = 3 ]; then echo "gen-launch-order: a traced launch missed the caches; nothing written" >&2; exit 1; fi
  }
  cc -O2 -o "$tmp/launch-trace" "$root/scripts/launch-trace.c"
  nm -n -S --defined-only "$BIN" > "$tmp/nm.trace"
  range=$(readelf -lW "$tmp/bulkhead" | python3 -c '
import sys
for l in sys.stdin:
    f = l.split()
    if f and f[0] == "LOAD" and "E" in "".join(f[6:-1]):
        print("%x %x" % (int(f[2], 16), int(f[2], 16) + int(f[5], 16)))
        break')
  : > "$tmp/trace.ips"
  # shellcheck disable=SC2086
  for args in "run -- /bin/true" "run --profile unconfined -- /bin/true"; do
    trace "$tmp/trace.one" $range "$tmp/bulkhead" $args
    cat "$tmp/trace.one" >> "$tmp/trace.ips"
  done
  # Rootless: the tmp copies must be reachable by nobody (mktemp's directory is 0700).
  if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    chmod 0755 "$tmp"
    setpriv --reuid nobody --regid nogroup --clear-groups env HOME=/nonexistent "$tmp/bulkhead" run --limits best-effort -- /bin/true >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    LAUNCH_TRACE_BINARY=$tmp/bulkhead trace "$tmp/trace.one" $range "$(command -v setpriv)" --reuid nobody --regid nogroup --clear-groups \
      "$(command -v env)" HOME=/nonexistent "$tmp/bulkhead" run --limits best-effort -- /bin/true
    cat "$tmp/trace.one" >> "$tmp/trace.ips"
  fi
  # A warm pool's client (`run --pool`), last: its own functions (the request, the socket) after
  # the cold launch's, which it shares for the rest (BENCHMARKS.md, session 16: 97 -> 88 page
  # faults per pooled launch's client).
  if "$tmp/bulkhead" pool start --size 1 --socket "$tmp/pool.sock" >/dev/null 2>&1; then
    "$tmp/bulkhead" run --pool "$tmp/pool.sock" -- /bin/true >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    trace "$tmp/trace.one" $range "$tmp/bulkhead" run --pool "$tmp/pool.sock" -- /bin/true
    cat "$tmp/trace.one" >> "$tmp/trace.ips"
    "$tmp/bulkhead" pool stop --socket "$tmp/pool.sock" >/dev/null 2>&1 || true
  fi
  python3 - "$tmp/trace.ips" "$tmp/nm.trace" >> "$tmp/names" <<'PY'
import bisect, sys
# Code in no sized symbol (a piece of a function whose symbol has no size) is named by the
# symbol before it, whose section it lies in.
syms = []
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) == 4 and f[2] in "tTwWi":
        syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    elif len(f) == 3 and f[1] in "tTwWi":
        syms.append((int(f[0], 16), 0, f[2]))
syms.sort()
starts = [x[0] for x in syms]
seen = set()
for line in open(sys.argv[1]):
    a = int(line, 16)
    i = bisect.bisect_right(starts, a) - 1
    if i < 0:
        continue
    j = i
    while j >= 0 and starts[j] == starts[i] and not (syms[j][0] <= a < syms[j][0] + syms[j][1]):
        j -= 1
    n = syms[j][2] if j >= 0 and syms[j][0] <= a < syms[j][0] + syms[j][1] else syms[i][2]
    if n not in seen:
        seen.add(n)
        print(n)
PY
fi
i=0
if [ "$add_faults" = 0 ] && [ "$add_traced" = 0 ]; then
for args in "run -- /bin/true" "run --profile unconfined -- /bin/true" "run --report - -- /bin/true" "run --timeout 10s -e A=1 -- /bin/true"; do
  i=$((i+1))
  # valgrind cannot emulate clone3 (ENOSYS): each launch stops there and exits 125 after removing
  # its cgroup, which still covers start, parsing, preparation, cgroup setup and exit.
  # shellcheck disable=SC2086
  valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$tmp/cg.$i" "$tmp/bulkhead" $args >/dev/null 2>&1 || true
done
# Function names as callgrind first names them (fn= and cfn= records), first seen first.
cat "$tmp"/cg.* | sed -nE 's/^c?fn=\([0-9]+\) (.+)$/\1/p' | sed -E "s/'[0-9]+$//" | grep -v '^0x' >> "$tmp/names"
# What runs after clone3 (supervision, the report, the init's C code) from samples of real launches.
if perf record -q -F 20000 -o "$tmp/perf.data" -- sh -c "for i in \$(seq 100); do '$tmp/bulkhead' run -- /bin/true; '$tmp/bulkhead' run --report '$tmp/report.json' -- /bin/true; done" >/dev/null 2>&1; then
  perf report -i "$tmp/perf.data" --no-demangle --dso bulkhead --sort sym -g none 2>/dev/null | sed -nE 's/^ +[0-9.]+% +\[\.\] ([^ ]+).*$/\1/p' >> "$tmp/names"
fi
fi
# What a real launch first touches, from its page faults: the faulting instruction's function
# (code) and the faulting address's symbol (data), launcher and init alike. valgrind stops at
# clone3 and sampling misses the functions that run once after it (the supervisor's wait, the
# report, cgroup statistics and removal, the init's C code), whose pages then stay scattered. A
# function reached through a page the linker put next to another hot one does not fault, so a
# regenerated list can reveal new ones: --add-faults, after a link, adds those.
# Before each launch the copy's pages are dropped from the page cache (`dd iflag=nocache count=0`):
# the copy was just written, and written pages sit in the cache as large folios, which
# fault-around maps whole, so a launch from them faults a few times where one from pages read from
# disk faults on every 64 KiB block it touches (and maps what it faults: the RSS row measures the
# binary read from disk). A fault pass over written pages found none of the functions a build
# had renamed (issue 17, session 15).
# Dirty pages cannot be dropped: the copy is written back first.
sync "$tmp/bulkhead"
evict="dd if='$tmp/bulkhead' iflag=nocache count=0 status=none"
if [ "$add_traced" = 0 ] && perf record -q -e page-faults -c 1 -d -o "$tmp/faults.data" -- sh -c "for i in \$(seq 5); do $evict; '$tmp/bulkhead' run -- /bin/true; $evict; '$tmp/bulkhead' run --profile unconfined -- /bin/true; $evict; '$tmp/bulkhead' run --report '$tmp/report.json' -- /bin/true; done" >/dev/null 2>&1; then
  nm -n -S --defined-only "$BIN" > "$tmp/nm.faults" 2>/dev/null || true
  perf script -i "$tmp/faults.data" -F comm,addr,ip,sym --no-demangle 2>/dev/null | python3 -c '
import bisect, sys
syms = sorted((int(a, 16), int(s, 16), n) for a, s, t, n in (l.split() for l in open(sys.argv[1]) if len(l.split()) == 4) if int(s, 16) > 0)
starts = [x[0] for x in syms]
def name(a):
    i = bisect.bisect_right(starts, a) - 1
    return syms[i][2] if i >= 0 and syms[i][0] <= a < syms[i][0] + syms[i][1] else None
seen = set()
for line in sys.stdin:
    f = line.split()
    if len(f) < 4 or f[0] != "bulkhead":  # the launch executable and its init, not bulkhead-cli
        continue
    for a in (f[3], f[1]):  # the instruction (comm addr addrsym ip sym), then the address it touched
        try:
            n = name(int(a, 16))
        except ValueError:
            continue
        if n and n not in seen:
            seen.add(n)
            print(n)
' "$tmp/nm.faults" >> "$tmp/names" || true
fi
# Data: the variables and constants (type metadata, descriptors, caches) a launch reads or
# writes in the binary's writable segment, from valgrind's memory trace, placed side by side too.
if [ "$add_faults" = 0 ] && [ "$add_traced" = 0 ] && command -v python3 >/dev/null; then
  valgrind --tool=lackey --trace-mem=yes --log-file="$tmp/trace" "$tmp/bulkhead" run -- /bin/true >/dev/null 2>&1 || true
  nm -n -S --defined-only "$BIN" > "$tmp/nm" 2>/dev/null || true
  readelf -lW "$BIN" > "$tmp/segments"
  python3 - "$tmp/trace" "$tmp/nm" "$tmp/segments" >> "$tmp/names" <<'PY'
import bisect, re, sys
trace, nm, segments = sys.argv[1:4]
ranges = []  # writable LOAD segments (data, bss)
for line in open(segments):
    f = line.split()
    if f and f[0] == "LOAD" and "W" in "".join(f[6:-1]):
        start, memsz = int(f[2], 16), int(f[5], 16)
        ranges.append((start, start + memsz))
inside = lambda a: any(lo <= a < hi for lo, hi in ranges)
syms = sorted((int(a, 16), int(s, 16), n) for a, s, t, n in (l.split() for l in open(nm) if len(l.split()) == 4)
              if int(s, 16) > 0 and inside(int(a, 16)))
starts = [x[0] for x in syms]
seen = set()
for line in open(trace):
    if len(line) < 4 or line[0] != " " or line[1] not in "LSM":
        continue
    addr = int(line[3:line.index(",")], 16)
    if not inside(addr):
        continue
    i = bisect.bisect_right(starts, addr) - 1
    if i >= 0 and syms[i][0] <= addr < syms[i][0] + syms[i][1] and syms[i][2] not in seen:
        seen.add(syms[i][2])
        print(syms[i][2])
PY
fi
if [ "$add_faults" = 1 ] || [ "$add_traced" = 1 ]; then
  grep -v '^0x' "$tmp/names" | awk 'FILENAME == ARGV[1] { have[$0] = 1; next } !($0 in have) && !seen[$0]++' "$root/scripts/launch-order.txt" - > "$tmp/new" || true
  cat "$tmp/new" >> "$root/scripts/launch-order.txt"
  echo "$(wc -l < "$tmp/new") symbols that launches of $BIN $([ "$add_faults" = 1 ] && echo "fault on" || echo "run") added to scripts/launch-order.txt"
  exit 0
fi
grep -v '^0x' "$tmp/names" | awk '!seen[$0]++' > "$root/scripts/launch-order.txt"
echo "$(wc -l < "$root/scripts/launch-order.txt") symbols (functions, then data) written to scripts/launch-order.txt"
