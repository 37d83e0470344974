#!/usr/bin/env bash
# bench-oci.sh (also `scripts/bench.sh --oci`) - bulkhead's OCI runtime beside runc (and crun
# where it runs), side by side in one run, for the performance goals of issue 13:
#   1. `podman run --rm IMAGE /bin/true`             (goal: bulkhead-runc <= 0.9x runc)
#   2. 100 sequential create+start+delete of /bin/true (crun's benchmark shape; goal <= 0.5x runc)
#   3. `ctr run --rm IMAGE ID /bin/true` through the runc v2 shim
# Nothing is pulled: the image is a busybox-static rootfs made here. podman and containerd
# keep all their state under $WORK, and the whole run happens inside a network and mount
# namespace made for it (lo up; tmpfs over /run/netns, /var/lib/cni, /run/containerd), so the
# CNI bridge and its iptables rules never touch the host's network.
# Needs root, podman, conmon, containerd, ctr, runc, hyperfine, jq, busybox-static.
# Env: WORK (default /var/tmp/bulkhead-oci-bench), RUNS (10 per configuration), WARMUP (2),
#      SEQ_RUNS (3), BULKHEAD_RUNC (default: .build/release/bulkhead-runc, then .build/debug/),
#      RUNC (default: runc on PATH),
#      PODMAN_RUNS (default RUNS): `podman run --rm` runs per runtime, taken in interleaved rounds
#        (one run of each runtime per round, the order rotated each round, WARMUP rounds first),
#        so a drift of the machine's load reaches every runtime alike; the row gives each
#        runtime's median with its quartiles, and the median of the per-round ratios,
#      BULKHEAD_RUNC_BASE: a second bulkhead-runc (e.g. main's release binary) run in the same
#        podman rounds: its own row, its ratio to runc in the same run,
#      ROWS (default "podman seq ctr"): which rows to take.
# A runtime that is absent or refuses this host is reported as such, never given a figure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export WORK=${WORK:-/var/tmp/bulkhead-oci-bench}
RUNS=${RUNS:-10}; WARMUP=${WARMUP:-2}; SEQ_RUNS=${SEQ_RUNS:-3}; PODMAN_RUNS=${PODMAN_RUNS:-$RUNS}
ROWS=${ROWS:-podman seq ctr}
[ "$(id -u)" = 0 ] || { echo "bench-oci.sh: needs root (runtimes, cgroups, namespaces)" >&2; exit 1; }
for tool in podman conmon containerd ctr runc hyperfine jq busybox unshare nsenter; do
  command -v "$tool" >/dev/null || { echo "bench-oci.sh: $tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done

if [ "${BH_OCI_BENCH_INSIDE:-}" != 1 ]; then
  # Outside: make the mount points the namespace covers (removed again if made here), then
  # run this script again inside a fresh network and mount namespace.
  made=()
  for d in /run/netns /var/lib/cni /run/containerd; do [ -e "$d" ] || { mkdir -p "$d"; made+=("$d"); }; done
  rc=0
  BH_OCI_BENCH_INSIDE=1 unshare --net --mount --propagation private --fork -- "$0" "$@" || rc=$?
  for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done
  for h in /sys/fs/cgroup/*/bh-oci-bench; do [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  # The namespace (and every mount the clients made in it) is gone: drop their storage, keep
  # the results.
  rm -rf "$WORK/podman" "$WORK/containerd" "$WORK/oci" "$WORK"/*.tar
  exit $rc
fi

# --- inside the namespace
ip link set lo up
for d in /run/netns /var/lib/cni /run/containerd; do mount -t tmpfs -o mode=0755,size=64m bh-oci-bench "$d"; done
rm -rf "$WORK"; mkdir -p "$WORK/results"
out=$WORK/results/oci-bench.md

# The runtimes: runc always; bulkhead-runc when built; crun when it runs here.
bh=${BULKHEAD_RUNC:-}
if [ -z "$bh" ]; then
  for c in "$root/.build/release/bulkhead-runc" "$root/.build/debug/bulkhead-runc"; do [ -x "$c" ] && { bh=$c; break; }; done
fi
NAMES=(runc); PATHS=("${RUNC:-$(command -v runc)}")
declare -A ABSENT=()
if [ -n "$bh" ] && [ -x "$bh" ]; then NAMES+=(bulkhead-runc); PATHS+=("$bh"); else ABSENT[bulkhead-runc]="absent: not built (issue 13 §1); set BULKHEAD_RUNC"; fi

# The rootfs (busybox-static), an OCI bundle of /bin/true, the podman image, the OCI archive.
rootfs=$WORK/bundle/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' > "$rootfs/etc/passwd"
(cd "$WORK/bundle" && runc spec && jq '.process.terminal = false | .process.args = ["/bin/true"] | del(.process.capabilities.ambient) | .linux.cgroupsPath = "/bh-oci-bench/c"' config.json > c.json && mv c.json config.json)
tar --numeric-owner -C "$rootfs" -cf "$WORK/rootfs.tar" .
if command -v crun >/dev/null; then
  if crun --root "$WORK/crun-probe" run -b "$WORK/bundle" probe >"$WORK/crun-probe.err" 2>&1; then NAMES+=(crun); PATHS+=("$(command -v crun)")
  else ABSENT[crun]="refuses this host: $(head -1 "$WORK/crun-probe.err")"; fi
else ABSENT[crun]="not installed"; fi

P=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/runroot" --tmpdir "$WORK/podman/tmp"
   --cgroup-manager cgroupfs --events-backend file)
mkdir -p "$WORK/podman/tmp" "$WORK/cni"
cat > "$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
[network]
network_config_dir = "$WORK/cni"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/podman/events.log"
lock_type = "file"
tmp_dir = "$WORK/podman/tmp"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
"${P[@]}" import "$WORK/rootfs.tar" localhost/bh-bench:true >/dev/null 2>&1

# containerd: its own root, state, socket; an OCI archive of the rootfs.
mkdir -p "$WORK/oci/blobs/sha256"
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$WORK/oci/blobs/sha256/$d"; echo "$d $(stat -c %s "$WORK/oci/blobs/sha256/$d")"; }
cp "$WORK/rootfs.tar" "$WORK/layer.tar"; read -r L LS < <(blob "$WORK/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$L" > "$WORK/cfg.json"
read -r C CS < <(blob "$WORK/cfg.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$C" "$CS" "$L" "$LS" > "$WORK/m.json"
read -r M MS < <(blob "$WORK/m.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"localhost/bh-bench:true"}}]}' "$M" "$MS" > "$WORK/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$WORK/oci/oci-layout"
tar -C "$WORK/oci" -cf "$WORK/image.oci.tar" .
cat > "$WORK/containerd.toml" <<EOF
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/containerd.sock"
[ttrpc]
  address = "$WORK/containerd.sock.ttrpc"
EOF
containerd --config "$WORK/containerd.toml" > "$WORK/containerd.log" 2>&1 &
cpid=$!
cleanup() {
  "${P[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
  kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
}
trap cleanup EXIT
CTR=(ctr --address "$WORK/containerd.sock")
for _ in $(seq 100); do "${CTR[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${CTR[@]}" image import "$WORK/image.oci.tar" >/dev/null

cell() { # NAME JSON: the median in ms, or the reason the runtime has no figure
  if [ -n "${ABSENT[$1]:-}" ]; then echo "${ABSENT[$1]}"; else jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000 | . * 100 | round / 100' "$2"; fi
}
ratio() { # JSON: bulkhead-runc / runc
  [ -n "${ABSENT[bulkhead-runc]:-}" ] && { echo "-"; return; }
  jq -r '([.results[] | select(.command == "bulkhead-runc") | .median][0]) / ([.results[] | select(.command == "runc") | .median][0]) | . * 100 | round / 100' "$1"
}
{
  echo "## OCI runtimes: bulkhead-runc beside runc (ms, median; one run, side by side)"
  echo
  echo "| benchmark | runc | bulkhead-runc | crun | bulkhead-runc / runc | goal |"
  echo "|---|---:|---:|---:|---:|---|"

  if [[ " $ROWS " == *" podman "* ]]; then
    # Interleaved rounds, timed here (bash's EPOCHREALTIME, microseconds): one run of each
    # runtime per round, the order rotated every round, so that the machine's drift (other
    # work, the page cache, podman's growing state) reaches every runtime alike. A failed run
    # stops the bench: a figure is never taken from runs that did not happen.
    pnames=("${NAMES[@]}"); ppaths=("${PATHS[@]}")
    if [ -n "${BULKHEAD_RUNC_BASE:-}" ]; then pnames+=(bulkhead-runc-base); ppaths+=("$BULKHEAD_RUNC_BASE"); fi
    rounds=$WORK/results/podman-rounds.txt; : > "$rounds"
    n=${#pnames[@]}
    for ((r = -WARMUP; r < PODMAN_RUNS; r++)); do
      for ((k = 0; k < n; k++)); do
        i=$(( ((r + WARMUP) + k) % n ))
        t0=${EPOCHREALTIME//[.,]/}
        "${P[@]}" --runtime "${ppaths[$i]}" run --rm --cgroup-parent /bh-oci-bench localhost/bh-bench:true /bin/true >/dev/null 2>"$WORK/podman.err" \
          || { echo "bench-oci.sh: podman run --rm with ${pnames[$i]} failed: $(head -c 600 "$WORK/podman.err")" >&2; exit 1; }
        t1=${EPOCHREALTIME//[.,]/}
        if [ "$r" -ge 0 ]; then echo "$r ${pnames[$i]} $((t1 - t0))" >> "$rounds"; fi
      done
    done
    # quartiles: sorted numbers on stdin -> "median p25 p75" (linear interpolation), 2 decimals
    quartiles() { awk -v s="${1:-0.001}" '{ a[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
      split("0.5 0.25 0.75", q, " "); out = ""
      for (j = 1; j <= 3; j++) { p = (NR - 1) * q[j]; lo = int(p); f = p - lo; v = a[lo + 1] + (lo + 2 <= NR ? (a[lo + 2] - a[lo + 1]) * f : 0)
        out = out (j > 1 ? " " : "") sprintf("%.2f", v * s) }
      print out }'; }
    pcell() { # NAME: "median (p25-p75)" in ms, or why the runtime has no figure
      if [ -n "${ABSENT[$1]:-}" ]; then echo "${ABSENT[$1]}"; return; fi
      read -r m lo hi < <(awk -v n="$1" '$2 == n { print $3 }' "$rounds" | sort -n | quartiles)
      echo "$m ($lo-$hi)"
    }
    pratio() { # NAME: the median of the per-round ratios NAME / runc, with their quartiles
      if [ -n "${ABSENT[$1]:-}" ]; then echo "-"; return; fi
      read -r m lo hi < <(awk -v n="$1" '$2 == "runc" { r[$1] = $3 } $2 == n { x[$1] = $3 } END { for (k in x) if (r[k] > 0) print x[k] / r[k] }' "$rounds" | sort -g | quartiles 1)
      echo "$m ($lo-$hi)"
    }
    printf '| `podman run --rm IMAGE /bin/true` (%s interleaved rounds; median (quartiles)) | %s | %s | %s | %s | <= 0.9 |\n' "$PODMAN_RUNS" \
      "$(pcell runc)" "$(pcell bulkhead-runc)" "$(pcell crun)" "$(pratio bulkhead-runc)"
    if [ -n "${BULKHEAD_RUNC_BASE:-}" ]; then
      printf '| the same rounds, `BULKHEAD_RUNC_BASE` (%s) | %s | %s | - | %s | <= 0.9 |\n' "$BULKHEAD_RUNC_BASE" \
        "$(pcell runc)" "$(pcell bulkhead-runc-base)" "$(pratio bulkhead-runc-base)"
    fi
  fi

  if [[ " $ROWS " == *" seq "* ]]; then
    args=(); for i in "${!NAMES[@]}"; do
      r=${PATHS[$i]}; s="--root $WORK/state-${NAMES[$i]}"
      args+=(-n "${NAMES[$i]}" "sh -c 'for i in \$(seq 100); do $r $s create --bundle $WORK/bundle b\$i && $r $s start b\$i && $r $s delete --force b\$i || exit 1; done'")
    done
    hyperfine -N --runs "$SEQ_RUNS" --export-json "$WORK/results/seq.json" "${args[@]}" >/dev/null
    printf '| 100 x `create`+`start`+`delete` of /bin/true, whole loop (%s runs) | %s | %s | %s | %s | <= 0.5 |\n' "$SEQ_RUNS" \
      "$(cell runc "$WORK/results/seq.json")" "$(cell bulkhead-runc "$WORK/results/seq.json")" "$(cell crun "$WORK/results/seq.json")" "$(ratio "$WORK/results/seq.json")"
  fi
  if [[ " $ROWS " == *" ctr "* ]]; then
    args=(); for i in "${!NAMES[@]}"; do
      args+=(-n "${NAMES[$i]}" "sh -c '${CTR[*]} run --rm --runc-binary ${PATHS[$i]} --cgroup /bh-oci-bench/ctr-b\$\$ localhost/bh-bench:true b\$\$ /bin/true'")
    done
    hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/results/ctr.json" "${args[@]}" >/dev/null
    printf '| `ctr run --rm IMAGE ID /bin/true`, runc v2 shim (%s runs) | %s | %s | %s | %s | - |\n' "$RUNS" \
      "$(cell runc "$WORK/results/ctr.json")" "$(cell bulkhead-runc "$WORK/results/ctr.json")" "$(cell crun "$WORK/results/ctr.json")" "$(ratio "$WORK/results/ctr.json")"
  fi
  echo
  echo "Machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
echo "written to $out"
