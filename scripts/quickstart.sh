#!/usr/bin/env bash
# Installs the dependencies, builds bulkhead (release), and runs a command under the
# embedded default profile, `container`, printing the workload's own view of its isolation.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build-release.sh 2>&1 | tail -1
exec .build/release/bulkhead run -- /bin/sh -c '
  echo "pid inside:     $$   (PID 1: $(cat /proc/1/comm), the sandbox init)"
  echo "uid inside:     $(id -u)   uid_map: $(tr -s " " < /proc/self/uid_map)"
  echo "hostname:       $(hostname)"
  echo "interfaces:     $(ls /sys/class/net)"
  grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\t" | sed "s/:/: /" | awk "{printf \"%-16s%s\n\", \$1, \$2}"
  echo "write to /:     $(touch /probe 2>&1 | sed "s/.*: //")"
  echo "/tmp size:      $(df -h /tmp | awk "NR==2 {print \$2}")"
  echo "cgroup:         $(grep pids /proc/self/cgroup)"
'
