#!/usr/bin/env bash
# bench-compare.sh BIN... - two or more bulkhead builds side by side, for a before/after of one
# change on a shared, noisy machine: hyperfine medians of `BIN run -- /bin/true` beside bwrap (both
# equally affected by load), CPU time per launch (perf stat task-clock, children included, which
# load barely moves), peak RSS, and the median of each phasesMs over N launches, interleaved.
# Then the wall time of ALT launches of each, interleaved one launch at a time (the order reversed
# every other round), so that a drift of the machine falls on every build alike: median, p10, p90.
# Env: RUNS (hyperfine runs, 40), N (report launches per binary, 30), PROFILE (container),
#      ALT (interleaved launches per binary, 150; 0 skips them).
set -euo pipefail
RUNS=${RUNS:-40}; N=${N:-30}; PROFILE=${PROFILE:-container}; ALT=${ALT:-150}
[ $# -ge 1 ] || { echo "usage: $0 BIN..." >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
med() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
args=(-n bwrap "bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev /bin/true")
n=0; for b in "$@"; do n=$((n+1)); args+=(-n "$n:$b" "$b run --profile $PROFILE -- /bin/true" -n "$n:$b --version" "$b --version"); done
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$tmp/hf.json" "${args[@]}" >/dev/null 2>&1
jq -r '.results[] | "hyperfine median \(.median*1e5|round/100) ms\t\(.command)"' "$tmp/hf.json"
n=0; for b in "$@"; do
  n=$((n+1))
  cpu=$(perf stat -r 30 -x, -e task-clock "$b" run --profile "$PROFILE" -- /bin/true 2>&1 >/dev/null | awk -F, '/task-clock/ {printf "%.2f", $1}')
  /usr/bin/time -f '%M' -o "$tmp/rss" "$b" run --profile "$PROFILE" -- /bin/true
  echo "$n:$b: CPU $cpu ms per launch (task-clock), peak RSS $(awk '{printf "%.1f", $1/1024}' "$tmp/rss") MiB"
done
for _ in $(seq "$N"); do n=0; for b in "$@"; do
  n=$((n+1)); "$b" run --profile "$PROFILE" --report "$tmp/r.json" -- /bin/true
  jq -r '.phasesMs[] | "\(.phase)\t\(.ms)"' "$tmp/r.json" >> "$tmp/ph.$n"
done; done
n=0; for b in "$@"; do
  n=$((n+1)); echo "$n:$b: phases (median of $N, ms)"
  cut -f1 "$tmp/ph.$n" | awk '!s[$0]++' | while read -r ph; do
    printf '  %-36s %s\n' "$ph" "$(awk -F'\t' -v p="$ph" '$1==p {print $2}' "$tmp/ph.$n" | med)"
  done
done
[ "$ALT" = 0 ] || python3 - "$ALT" "$PROFILE" "$@" <<'PY'
import os, statistics, sys, time
n, profile, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
wall = {b: [] for b in bins}
null = os.open("/dev/null", os.O_WRONLY)
for i in range(n + 5):  # the first 5 rounds warm up
    for b in (bins if i % 2 == 0 else bins[::-1]):
        t = time.perf_counter_ns()
        pid = os.posix_spawn(b, [b, "run", "--profile", profile, "--", "/bin/true"], os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
        os.waitpid(pid, 0)
        if i >= 5: wall[b].append((time.perf_counter_ns() - t) / 1e6)
for k, b in enumerate(bins, 1):
    v = sorted(wall[b])
    print(f"{k}:{b}: interleaved wall median {statistics.median(v):.2f} ms (p10 {v[len(v) // 10]:.2f}, p90 {v[len(v) * 9 // 10]:.2f}), {len(v)} launches")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
