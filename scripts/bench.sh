#!/usr/bin/env bash
# bench.sh [--nsjail PATH | --oci] - bulkhead side by side with the anchor launchers, in one run:
# launch latency (hyperfine, pooled rounds), 100 sequential launches, launcher peak RSS, and the
# per-syscall cost of the seccomp filter. The method is written down in BENCHMARKS.md.
#
# Reuses ../shared/bench/anchors (the anchors' helpers, seccomp denylist and runc bundles are
# built by its setup.sh). Needs root, hyperfine, bwrap, runc, jq, gcc, GNU time.
# Env: WORK (default /var/tmp/bulkhead-bench), ROUNDS (3), RUNS (30 per round), WARMUP (5),
#      SEQ_RUNS (3), RSS_REPS (10), N (syscalls per run, 5000000), SYS_REPS (7),
#      TAIL_RUNS (cold launches for the tail, 1000), CONC (concurrent launchers, 16),
#      CONC_N (launches per concurrent run, 320), CONC_REPS (3), ROOTLESS_RUNS (30).
set -euo pipefail
# --oci: only the OCI runtime benchmarks of issue 13 (bulkhead-runc beside runc under podman,
# ctr and a create/start/delete loop): scripts/bench-oci.sh, written down in BENCHMARKS.md.
if [ "${1:-}" = "--oci" ]; then shift; exec "$(dirname "$0")/bench-oci.sh" "$@"; fi
root=$(cd "$(dirname "$0")/.." && pwd)
anchors=${ANCHORS:-$root/../shared/bench/anchors}
NSJAIL_ARG=""
if [ "${1:-}" = "--nsjail" ]; then NSJAIL_ARG=${2:?--nsjail needs a path}; fi
export WORK=${WORK:-/var/tmp/bulkhead-bench}  # not /tmp: sandboxes get their own /tmp
ROUNDS=${ROUNDS:-3}; RUNS=${RUNS:-30}; WARMUP=${WARMUP:-5}
SEQ_RUNS=${SEQ_RUNS:-3}; RSS_REPS=${RSS_REPS:-10}; N=${N:-5000000}; SYS_REPS=${SYS_REPS:-7}
TAIL_RUNS=${TAIL_RUNS:-1000}; CONC=${CONC:-16}; CONC_N=${CONC_N:-320}; CONC_REPS=${CONC_REPS:-3}; ROOTLESS_RUNS=${ROOTLESS_RUNS:-30}

for tool in hyperfine bwrap runc jq gcc /usr/bin/time firejail; do
  command -v "$tool" >/dev/null || { echo "installing benchmark tools"; apt-get install -y -qq hyperfine bubblewrap runc jq gcc time firejail >/dev/null; break; }
done
# The release build (scripts/build-release.sh): a fully static executable whose launch-path
# functions are linked side by side (BENCHMARKS.md, "levers").
("$root/scripts/build-release.sh" 2>&1 | tail -1)
BH=$root/.build/release/bulkhead
# The anchors' setup smoke-tests every configuration it knows; a row this benchmark does not
# use may fail there (it says which), so check for what is needed instead of its status.
[ -d "$WORK/runc/seccomp-cgroup" ] || bash "$anchors/setup.sh" $NSJAIL_ARG >/dev/null || true
for need in "$WORK/runc/seccomp-cgroup" "$WORK/runc/sys-seccomp" "$WORK/bin/withfd" "$WORK/bin/getppid_bench"; do
  [ -e "$need" ] || { echo "the anchors' setup did not produce $need (see $WORK/smoke.err)" >&2; exit 1; }
done
# shellcheck source=/dev/null
source "$anchors/lib.sh" $NSJAIL_ARG 2>/dev/null
mkdir -p "$WORK/results"
out=$WORK/results/bulkhead-bench.md
# Warm the compiled-filter cache once: a launch compiles only when its policy changes.
$BH run -- /bin/true

P=/bin/true
NAMES=(plain unshare bwrap bwrap+seccomp bulkhead-namespaces bulkhead-container runc-seccomp-cgroup)
CMDS=("$P"
      "unshare -Urpfnmi --uts --mount-proc $P"
      "$BWRAP_BASE $P"
      "$BIN/withfd 10 $BPF $BWRAP_BASE --seccomp 10 $P"
      "$BH run --profile unconfined -- $P"
      "$BH run -- $P"
      "runc run -b $WORK/runc/seccomp-cgroup anchors-seccomp-cgroup")
if [ "$HAVE_NSJAIL" = 1 ]; then
  NAMES+=(nsjail-seccomp-cgroup)
  CMDS+=("$NSJAIL $NSJ_BASE $NSJ_DEV $NSJ_SECCOMP $NSJ_CGROUP -- $P")
fi

# --- launch latency: ROUNDS rounds of hyperfine, every configuration per round, pooled medians
declare -A ALL=()
for r in $(seq "$ROUNDS"); do
  args=()
  for i in "${!NAMES[@]}"; do args+=(-n "${NAMES[$i]}" "${CMDS[$i]}"); done
  hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/results/round$r.json" "${args[@]}" >/dev/null
  for i in "${!NAMES[@]}"; do
    ALL[$i]="${ALL[$i]:-} $(jq -r --arg n "${NAMES[$i]}" '.results[] | select(.command == $n) | .times[]' "$WORK/results/round$r.json" | tr '\n' ' ')"
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
pct() { printf '%s\n' "${@:2}" | sort -g | awk -v p="$1" '{v[NR]=$1} END {i=int(p*NR); if(i<1)i=1; print v[i]}'; }
declare -A MED=()
{
  echo "## Launch latency of /bin/true (ms; $ROUNDS rounds x $RUNS runs, pooled)"
  echo
  echo "| configuration | median | p10 | p90 | command |"
  echo "|---|---:|---:|---:|---|"
  for i in "${!NAMES[@]}"; do
    # shellcheck disable=SC2086
    m=$(median ${ALL[$i]}); MED[${NAMES[$i]}]=$m
    printf '| %s | %.2f | %.2f | %.2f | `%s` |\n' "${NAMES[$i]}" "$(awk -v x="$m" 'BEGIN{print x*1000}')" \
      "$(awk -v x="$(pct 0.1 ${ALL[$i]})" 'BEGIN{print x*1000}')" "$(awk -v x="$(pct 0.9 ${ALL[$i]})" 'BEGIN{print x*1000}')" "${CMDS[$i]}"
  done
  echo
  ratio() { awk -v a="${MED[$1]}" -v b="${MED[$2]}" 'BEGIN{printf "%.2f", a/b}'; }
  echo "- bulkhead-container / bwrap+seccomp: **$(ratio bulkhead-container bwrap+seccomp)x** (goal <= 0.8)"
  echo "- bulkhead-namespaces / bwrap: **$(ratio bulkhead-namespaces bwrap)x**"
  [ "$HAVE_NSJAIL" = 1 ] && echo "- bulkhead-container / nsjail-seccomp-cgroup: **$(ratio bulkhead-container nsjail-seccomp-cgroup)x** (goal <= 0.5)"
  echo "- bulkhead-container / runc-seccomp-cgroup: **$(ratio bulkhead-container runc-seccomp-cgroup)x**"
  echo

  # --- 100 sequential launches
  echo "## 100 sequential launches (s, median of $SEQ_RUNS)"
  echo
  hyperfine -N --runs "$SEQ_RUNS" --export-json "$WORK/results/seq.json" \
    -n bulkhead-container "sh -c 'for i in \$(seq 100); do $BH run -- /bin/true; done'" \
    -n runc-seccomp-cgroup "sh -c 'for i in \$(seq 100); do runc run -b $WORK/runc/seccomp-cgroup anchors-seccomp-cgroup; done'" >/dev/null
  b=$(jq -r '.results[] | select(.command=="bulkhead-container") | .median' "$WORK/results/seq.json")
  r=$(jq -r '.results[] | select(.command=="runc-seccomp-cgroup") | .median' "$WORK/results/seq.json")
  echo "| configuration | median |"
  echo "|---|---:|"
  printf '| bulkhead-container | %.2f |\n| runc-seccomp-cgroup | %.2f |\n' "$b" "$r"
  echo
  echo "- ratio: **$(awk -v a="$b" -v b="$r" 'BEGIN{printf "%.3f", a/b}')x** (goal <= 0.1)"
  echo

  # --- peak RSS of the launcher (GNU time %M: the launcher and the children it waited for)
  echo "## Launcher peak RSS (MiB, median of $RSS_REPS)"
  echo
  echo "| configuration | peak RSS |"
  echo "|---|---:|"
  # Each launcher's executable is measured from pages read from disk, as an installed binary's
  # are: its pages are dropped from the page cache first (`dd iflag=nocache count=0`), then one
  # launch, not counted, reads them back. bulkhead's was just written by the linker, and written
  # pages sit in the cache as large folios that fault-around maps whole: session 15's binary peaks
  # at 4008 KiB from them and 3604 KiB from pages read back, session 14's at 5032 and 4436
  # (BENCHMARKS.md, session 15).
  for name in bwrap bulkhead-namespaces bulkhead-container; do
    for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$name" ] && cmd=${CMDS[$i]}; done
    exe=$(command -v "${cmd%% *}")
    sync "$exe"  # dirty pages (a binary just linked) cannot be dropped
    dd if="$exe" iflag=nocache count=0 status=none
    $cmd >/dev/null 2>&1 || true
    vals=()
    for _ in $(seq "$RSS_REPS"); do /usr/bin/time -f '%M' -o "$WORK/rss.tmp" $cmd >/dev/null 2>&1 || true; vals+=("$(tail -1 "$WORK/rss.tmp")"); done
    printf '| %s | %.1f |\n' "$name" "$(awk -v x="$(median "${vals[@]}")" 'BEGIN{print x/1024}')"
  done
  echo "- goal: <= 4 MiB (issue 17)"
  echo

  # --- per-syscall cost, round-robin so drift hits every configuration alike
  echo "## Seccomp cost per system call (ns, median of $SYS_REPS runs of $N calls)"
  echo
  echo "| call | bare | bulkhead-namespaces | bulkhead-container | +container | runc+docker-default | +runc |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for mode in getppid personality; do
    jq --arg n "$N" --arg m "$mode" '.process.args = ["/getppid_bench", $n, $m]' "$WORK/runc/sys-seccomp/config.json" > "$WORK/runc/sys-seccomp/config.json.new"
    mv "$WORK/runc/sys-seccomp/config.json.new" "$WORK/runc/sys-seccomp/config.json"
    declare -A V=()
    for _ in $(seq "$SYS_REPS"); do
      V[bare]+=" $($BIN/getppid_bench "$N" "$mode" | sed -n 's/.*calls, \([0-9.]*\) ns\/call.*/\1/p')"
      V[ns]+=" $($BH run --profile unconfined -- "$BIN/getppid_bench" "$N" "$mode" | sed -n 's/.*calls, \([0-9.]*\) ns\/call.*/\1/p')"
      V[ct]+=" $($BH run -- "$BIN/getppid_bench" "$N" "$mode" | sed -n 's/.*calls, \([0-9.]*\) ns\/call.*/\1/p')"
      V[runc]+=" $(runc run -b "$WORK/runc/sys-seccomp" anchors-sys-seccomp 2>/dev/null | sed -n 's/.*calls, \([0-9.]*\) ns\/call.*/\1/p')"
    done
    # shellcheck disable=SC2086
    bare=$(median ${V[bare]}); ns=$(median ${V[ns]}); ct=$(median ${V[ct]}); rc=$(median ${V[runc]})
    printf '| %s | %.1f | %.1f | %.1f | %+.1f | %.1f | %+.1f |\n' "$mode" "$bare" "$ns" "$ct" \
      "$(awk -v a="$ct" -v b="$bare" 'BEGIN{print a-b}')" "$rc" "$(awk -v a="$rc" -v b="$bare" 'BEGIN{print a-b}')"
    unset V
  done
  echo "- goal: at most +15 ns over bare for getppid and for personality (argument-filtered)"
  echo

  # --- where bulkhead's launch time goes (the report's phasesMs, median of 20 launches)
  echo "## Where a bulkhead-container launch goes (ms, median of 20)"
  echo
  for _ in $(seq 20); do $BH run --report "$WORK/phase.json" -- /bin/true; jq -r '.phasesMs[] | "\(.phase)\t\(.ms)"' "$WORK/phase.json"; done > "$WORK/phases.tsv"
  echo "| phase | median |"
  echo "|---|---:|"
  cut -f1 "$WORK/phases.tsv" | awk '!seen[$0]++' | while read -r ph; do
    # shellcheck disable=SC2046
    printf '| %s | %.2f |\n' "$ph" "$(median $(awk -F'\t' -v p="$ph" '$1==p {print $2}' "$WORK/phases.tsv"))"
  done
  echo

  # --- the tail of cold launches: p99 of TAIL_RUNS launches against their median (issue 17)
  echo "## Tail of $TAIL_RUNS cold launches of /bin/true (ms)"
  echo
  hyperfine -N --warmup "$WARMUP" --runs "$TAIL_RUNS" --export-json "$WORK/results/tail.json" -n bulkhead-container "$BH run -- $P" >/dev/null
  # shellcheck disable=SC2046
  set -- $(jq -r '.results[0].times[]' "$WORK/results/tail.json")
  tm=$(median "$@"); t99=$(pct 0.99 "$@"); tmax=$(printf '%s\n' "$@" | sort -g | tail -1)
  echo "| configuration | median | p99 | max | p99 / median |"
  echo "|---|---:|---:|---:|---:|"
  printf '| bulkhead-container | %.2f | %.2f | %.2f | **%.2fx** |\n' "$(awk -v x="$tm" 'BEGIN{print x*1000}')" \
    "$(awk -v x="$t99" 'BEGIN{print x*1000}')" "$(awk -v x="$tmax" 'BEGIN{print x*1000}')" "$(awk -v a="$t99" -v b="$tm" 'BEGIN{print a/b}')"
  echo "- goal: p99 <= 1.5x the median"
  echo

  # --- CONC launchers at once: CONC_N launches of /bin/true through xargs -P, whole run timed
  # (runc: one container id per launch, and the seccomp-cgroup bundle's config without its shared
  # cgroupsPath, so that concurrent containers get cgroups of their own)
  conc=$WORK/runc/seccomp-cgroup-conc
  rm -rf "$conc"; mkdir -p "$conc"
  jq --arg root "$WORK/runc/seccomp-cgroup/rootfs" '.root.path = $root | del(.linux.cgroupsPath)' \
    "$WORK/runc/seccomp-cgroup/config.json" > "$conc/config.json"
  echo "## $CONC concurrent launchers ($CONC_N launches of /bin/true per run, median of $CONC_REPS runs)"
  echo
  hyperfine -N --runs "$CONC_REPS" --export-json "$WORK/results/conc.json" \
    -n bulkhead-container "sh -c 'seq $CONC_N | xargs -P $CONC -I{} $BH run -- $P'" \
    -n bwrap+seccomp "sh -c 'seq $CONC_N | xargs -P $CONC -I{} $BIN/withfd 10 $BPF $BWRAP_BASE --seccomp 10 $P'" \
    -n runc-seccomp-cgroup "sh -c 'seq $CONC_N | xargs -P $CONC -I{} runc run -b $conc bhconc-{}'" >/dev/null
  echo "| configuration | whole run (s) | launches per second |"
  echo "|---|---:|---:|"
  declare -A TPUT=()
  for name in bulkhead-container bwrap+seccomp runc-seccomp-cgroup; do
    m=$(jq -r --arg n "$name" '.results[] | select(.command == $n) | .median' "$WORK/results/conc.json")
    TPUT[$name]=$(awk -v n="$CONC_N" -v m="$m" 'BEGIN{print n/m}')
    printf '| %s | %.2f | %.0f |\n' "$name" "$m" "${TPUT[$name]}"
  done
  rm -rf "$conc"
  echo
  echo "- bulkhead-container / bwrap+seccomp: **$(awk -v a="${TPUT[bulkhead-container]}" -v b="${TPUT[bwrap+seccomp]}" 'BEGIN{printf "%.2f", a/b}')x** the launches per second"
  echo "- bulkhead-container / runc-seccomp-cgroup: **$(awk -v a="${TPUT[bulkhead-container]}" -v b="${TPUT[runc-seccomp-cgroup]}" 'BEGIN{printf "%.2f", a/b}')x** the launches per second"
  echo

  # --- rootless: as nobody (setpriv, no supplementary groups), --limits best-effort because a
  # host's v1 hierarchies are not delegated to it; bwrap+seccomp as the same user. First with
  # HOME=/nonexistent (no writable home, as nobody's), then with a writable HOME of its own.
  rhome=$WORK/home-nobody
  rm -rf "$rhome"; mkdir -m 700 "$rhome"; chown nobody:nogroup "$rhome"
  AS_NOBODY="setpriv --reuid nobody --regid nogroup --clear-groups env"
  echo "## Rootless launches of /bin/true as nobody (ms; $ROOTLESS_RUNS runs, $WARMUP warm-up)"
  echo
  hyperfine -N --warmup "$WARMUP" --runs "$ROOTLESS_RUNS" --export-json "$WORK/results/rootless.json" \
    -n bulkhead-nohome "$AS_NOBODY HOME=/nonexistent $BH run --limits best-effort -- $P" \
    -n bwrap+seccomp-nohome "$AS_NOBODY HOME=/nonexistent $BIN/withfd 10 $BPF $BWRAP_BASE --seccomp 10 $P" \
    -n bulkhead-home "$AS_NOBODY HOME=$rhome $BH run --limits best-effort -- $P" \
    -n bwrap+seccomp-home "$AS_NOBODY HOME=$rhome $BIN/withfd 10 $BPF $BWRAP_BASE --seccomp 10 $P" >/dev/null
  echo "| configuration | median | p90 |"
  echo "|---|---:|---:|"
  declare -A RL=()
  for name in bulkhead-nohome bwrap+seccomp-nohome bulkhead-home bwrap+seccomp-home; do
    # shellcheck disable=SC2046
    set -- $(jq -r --arg n "$name" '.results[] | select(.command == $n) | .times[]' "$WORK/results/rootless.json")
    RL[$name]=$(median "$@")
    printf '| %s | %.2f | %.2f |\n' "$name" "$(awk -v x="${RL[$name]}" 'BEGIN{print x*1000}')" "$(awk -v x="$(pct 0.9 "$@")" 'BEGIN{print x*1000}')"
  done
  rm -rf "$rhome"
  echo
  echo "- no writable home: bulkhead / bwrap+seccomp **$(awk -v a="${RL[bulkhead-nohome]}" -v b="${RL[bwrap+seccomp-nohome]}" 'BEGIN{printf "%.2f", a/b}')x** (goal <= 1)"
  echo "- writable HOME: bulkhead / bwrap+seccomp **$(awk -v a="${RL[bulkhead-home]}" -v b="${RL[bwrap+seccomp-home]}" 'BEGIN{printf "%.2f", a/b}')x**"
  echo "- every row runs under \`setpriv --reuid nobody --regid nogroup --clear-groups env HOME=...\`; the command is \`bulkhead run --limits best-effort -- /bin/true\`"
  echo
  echo "Machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
echo "written to $out"
