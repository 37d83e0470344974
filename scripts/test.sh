#!/usr/bin/env bash
# Installs the dependencies, builds bulkhead and its tests, and runs the whole suite.
# Kernel tests need root; with CI=true no test that this machine can run may skip.
# BULKHEAD_VM_LANE=1 (implied by CI=true) also boots the cgroup v2 virtual machine lane.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build --build-tests
# The static release lane (StaticBinaryTests) runs a -static-executable bulkhead, as users
# install it: the VM lane builds exactly that binary (Tests/vm/run-lane.sh, .build-vm), so
# build it first, once; the VM lane then finds it up to date. No extra build in CI.
if [ "${CI:-}" = true ] || [ "${BULKHEAD_VM_LANE:-}" = 1 ]; then
  scratch=${BULKHEAD_VM_SCRATCH:-.build-vm}
  swift build -c release --scratch-path "$scratch" -Xswiftc -static-executable --product bulkhead
  case $scratch in /*) ;; *) scratch=$PWD/$scratch ;; esac
  export BULKHEAD_STATIC_BINARY=$scratch/release/bulkhead
fi
# One test at a time: the CPU-share and isolation experiments measure the machine, and a
# neighbouring test (or the VM lane) would be the noise they measure.
swift test --skip-build --no-parallel
