#!/usr/bin/env bash
# run.sh [getppid|personality] [REPS] - per-call cost of getppid_bench (the anchors' helper) under:
# no filter, a one-instruction "return ALLOW" filter (with and without SPEC_ALLOW), and bulkhead's
# container filter (with and without SPEC_ALLOW). Round-robin, median of REPS. What the trivial
# filter adds over none is the kernel's price for having any filter at all.
# Env: N (calls per run, 3000000), BH (bulkhead binary), WORK (anchors' work dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/var/tmp/bulkhead-bench}; G=$WORK/bin/getppid_bench; N=${N:-3000000}
BH=${BH:-$here/../../.build/release/bulkhead}; MODE=${1:-getppid}; REPS=${2:-7}
[ -x "$G" ] || { echo "no $G: run ../shared/bench/anchors/setup.sh (or scripts/bench.sh) first" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/loadf" "$here/loadf.c"
"$BH" seccomp compile container --bpf "$tmp/container.bpf" >/dev/null 2>&1
cp "$tmp/container.bpf" "$tmp/container-spec.bpf"
cfgs=(none trivial trivial-spec "$tmp/container.bpf" "$tmp/container-spec.bpf")
declare -A V=()
for _ in $(seq "$REPS"); do for c in "${cfgs[@]}"; do
  V[$c]+=" $("$tmp/loadf" "$c" "$G" "$N" "$MODE" | sed -n 's/.*calls, \([0-9.]*\) ns\/call.*/\1/p')"
done; done
echo "$MODE, median of $REPS runs of $N calls (ns/call); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for c in "${cfgs[@]}"; do
  # shellcheck disable=SC2086
  printf '%-22s %s\n' "$(basename "$c")" "$(printf '%s\n' ${V[$c]} | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')"
done
