#!/usr/bin/env bash
# bench-pool.sh - issue 17, the warm pool: `bulkhead run --pool SOCKET -- /bin/true` against
# plain exec of /bin/true, side by side in one hyperfine run of the release build
# (scripts/build-release.sh). Every run of both commands is preceded by the same 30 ms pause
# (--prepare), so the pool has refilled and what is timed is a warm launch, not the refill.
# Needs root and hyperfine. RUNS (default 200), SIZE (pool size, default 4). OLD=PATH: another
# build's launch executable, whose pool is timed in the same hyperfine run (before and after).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-200}
SIZE=${SIZE:-4}
BH=${BH:-$root/.build/release/bulkhead}
[ -x "$BH" ] || ("$root/scripts/build-release.sh" --product bulkhead 2>&1 | tail -1)
dir=$(mktemp -d /tmp/bh-bench-pool.XXXXXX)
chmod 0755 "$dir"
OLD=${OLD:-}
trap '"$BH" pool stop --socket "$dir/pool.sock" >/dev/null 2>&1 || true; [ -z "$OLD" ] || "$OLD" pool stop --socket "$dir/old.sock" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$BH" pool start --size "$SIZE" --socket "$dir/pool.sock" >/dev/null
"$BH" run --pool "$dir/pool.sock" -- /bin/true
old=()
if [ -n "$OLD" ]; then
  "$OLD" pool start --size "$SIZE" --socket "$dir/old.sock" >/dev/null
  "$OLD" run --pool "$dir/old.sock" -- /bin/true
  old=(-n old-warm-pool "$OLD run --pool $dir/old.sock -- /bin/true")
fi
hyperfine -N --warmup 5 --runs "$RUNS" --prepare 'sleep 0.03' --export-json "$dir/pool.json" \
  -n plain /bin/true -n bulkhead-warm-pool "$BH run --pool $dir/pool.sock -- /bin/true" "${old[@]}" >/dev/null
med() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$dir/pool.json"; }
p99() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .times | sort | .[(length * 99 / 100 | floor)] * 1000' "$dir/pool.json"; }
plain=$(med plain); pool=$(med bulkhead-warm-pool)
echo "| configuration | median ms | p99 ms |"
echo "|---|---:|---:|"
printf '| plain exec of /bin/true | %.3f | %.3f |\n' "$plain" "$(p99 plain)"
printf '| bulkhead run --pool (size %s) | %.3f | %.3f |\n' "$SIZE" "$pool" "$(p99 bulkhead-warm-pool)"
[ -z "$OLD" ] || printf '| OLD run --pool (size %s) | %.3f | %.3f |\n' "$SIZE" "$(med old-warm-pool)" "$(p99 old-warm-pool)"
awk -v a="$pool" -v b="$plain" 'BEGIN { printf "warm pool / plain exec: %.2fx (goal <= 3x)\n", a / b }'
"$BH" pool status --socket "$dir/pool.sock" | jq -c '{size, served, failed}'
