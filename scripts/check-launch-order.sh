#!/usr/bin/env bash
# check-launch-order.sh [--prune] [BIN] - fails when scripts/launch-order.txt has gone stale
# against BIN, by default the shipped launch executable: .build/release/bulkhead, the release
# build of this tree (scripts/build-release.sh; the full command line, bulkhead-cli, is linked
# with the same list but holds far more than a launch runs, so it is not what the list is
# checked against). The list is made from and for that binary
# (scripts/gen-launch-order.sh), and only there does a stale list cost anything: a release build
# inlines and drops functions a debug build keeps, so a list checked against the debug build can
# pass while the shipped binary's hot functions are no longer side by side (issue 17: it did).
# Stale means: it names functions of bulkhead's own modules that BIN does not have (renamed,
# moved, inlined or removed since the list was made), or misses the functions every launch runs.
# Without a release build that is at least as new as the sources, it says so and exits 3
# (LaunchOrderTests fails on that in CI, where scripts/test.sh builds the release first); only
# `--debug` (or an explicit BIN) checks another binary. Cheap (nm, no valgrind): LaunchOrderTests
# runs it in the test suite, scripts/build-release.sh after each release link (where a stale
# list is regenerated, or the build fails). --prune rewrites the list without the names BIN does
# not have (a hot function's new names in place of its old ones); scripts/gen-launch-order.sh
# regenerates it whole, and is what a release binary needs.
#
# Only plain functions of the package are compared (the Swift modules Bulkhead, BulkheadLaunch,
# BulkheadSystem, BulkheadModel, BulkheadConfig, bulkhead, bulkhead_cli and the C shims' bh_ names): an optimised build's specialisations,
# merged, outlined and thunk copies and caches (mangled Tf, Tg, Tt..g, Tm, Tv, WO, TA, MD ...) come and
# go with the optimiser, not with the code; the runtime's and libraries' names are not ours.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prune=0
if [ "${1:-}" = "--prune" ]; then prune=1; shift; fi
if [ "${1:-}" = "--debug" ]; then BIN=$root/.build/debug/bulkhead; shift; fi
if [ -z "${BIN:-}" ]; then
  BIN=${1:-$root/.build/release/bulkhead}
  if [ -z "${1:-}" ]; then
    # The shipped binary must exist and be built from this tree's sources.
    if [ ! -x "$BIN" ]; then
      echo "no release build at $BIN: build it with scripts/build-release.sh (the list is checked against the binary it orders)"
      exit 3
    fi
    newer=$(find "$root/Sources" "$root/CShims" "$root/Package.swift" -newer "$BIN" -type f -print -quit)
    if [ -n "$newer" ]; then
      echo "the release build $BIN is older than $newer: rebuild it with scripts/build-release.sh before checking its launch order"
      exit 3
    fi
  fi
fi
LIST=${LAUNCH_ORDER:-$root/scripts/launch-order.txt}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
nm --defined-only "$BIN" | awk '{print $NF}' | LC_ALL=C sort -u > "$tmp/have"
[ -s "$tmp/have" ] || { echo "no symbols in $BIN (stripped?)"; exit 2; }
grep -E '^(\$s(8Bulkhead|14BulkheadLaunch|14BulkheadSystem|13BulkheadModel|14BulkheadConfig|8bulkhead|12bulkhead_cli)|bh_)' "$LIST" \
  | grep -vE '(Tf[0-9a-z_]*_n|Tg[q0-9]|Tt[0-9]*g[q0-9]|Tm$|Tv[0-9]*_$|WO|TA$|Wl$|MD$|MB$|Mb$|Ma$|Mn$|Mf$|Mr$|MF$|Oh$|TR$|Tq$|Wb$|WV$|fU_|fu_)' \
  | LC_ALL=C sort -u > "$tmp/ours" || true
LC_ALL=C comm -23 "$tmp/ours" "$tmp/have" > "$tmp/missing"
# The functions every launch runs: the list must name each, as BIN has it (a list that names an
# old signature of Sandbox.prepare has lost it).
hot='bh_spawn bh_block_supervisor_signals $s14BulkheadLaunch10SupervisorC3run $s14BulkheadLaunch7SandboxO7prepare
     $s14BulkheadSystem12ChildSpawnerO5spawn $s14BulkheadSystem12SeccompCacheV4load'
if [ "$prune" = 1 ]; then
  # Without the names BIN does not have; a hot function whose name changed (a new signature) takes
  # the place of its old name, with the names BIN has for it (the function and its closures).
  : > "$tmp/repl"
  for h in $hot; do
    if ! (grep -F -- "$h" "$LIST" || true) | LC_ALL=C sort -u | LC_ALL=C comm -12 - "$tmp/have" | grep -q .; then
      grep -F -- "$h" "$tmp/have" | grep -vE '(Tf[0-9a-z_]*_n|Tg[q0-9]|Tt[0-9]*g[q0-9]|Tm$|Tv[0-9]*_$|WO|TA$|MD$)' | sed "s|^|$h\t|" >> "$tmp/repl" || true
    fi
  done
  awk -F'\t' 'FILENAME == ARGV[1] { gone[$0] = 1; next }
       FILENAME == ARGV[2] { r[$1] = r[$1] $2 "\n"; next }
       ($0 in gone) { for (h in r) if (index($0, h) == 1 && !(h in done)) { printf "%s", r[h]; done[h] = 1 } next }
       { print }
       END { for (h in r) if (!(h in done)) printf "%s", r[h] }' "$tmp/missing" "$tmp/repl" "$LIST" > "$tmp/list"
  cp "$tmp/list" "$LIST"
  echo "removed $(wc -l < "$tmp/missing") names $BIN does not have from $LIST, put $(wc -l < "$tmp/repl") current names of the launch's hot functions in their place"
  exit 0
fi
status=0
for h in $hot; do
  found=$( (grep -F -- "$h" "$LIST" || true) | LC_ALL=C sort -u | LC_ALL=C comm -12 - "$tmp/have" | wc -l)
  if [ "$found" -eq 0 ]; then
    echo "launch-order.txt misses the launch's hot function $h (as $BIN has it)"
    status=1
  fi
done
n=$(wc -l < "$tmp/missing"); total=$(wc -l < "$tmp/ours")
if [ "$n" -gt 0 ]; then
  echo "launch-order.txt names $n of its $total own functions that $BIN does not have (stale: run scripts/gen-launch-order.sh, or $0 --prune):"
  head -20 "$tmp/missing"
  status=1
fi
if [ "$status" = 0 ]; then echo "launch-order.txt: its $total own functions are all in $BIN, and it lists the launch's hot ones"; fi
exit "$status"
