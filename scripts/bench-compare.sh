#!/usr/bin/env bash
# bench-compare.sh BIN... - two or more bulkhead builds side by side, for a before/after of one
# change on a shared, noisy machine: hyperfine medians of `BIN run -- /bin/true` beside bwrap (both
# equally affected by load), CPU time per launch (perf stat task-clock, children included, which
# load barely moves), peak RSS, and the median of each phasesMs over N launches, interleaved.
# Env: RUNS (hyperfine runs, 40), N (report launches per binary, 30), PROFILE (container).
set -euo pipefail
RUNS=${RUNS:-40}; N=${N:-30}; PROFILE=${PROFILE:-container}
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
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
