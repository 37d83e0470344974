#!/usr/bin/env bash
# Installs the dependencies, builds bulkhead and its tests, and runs the whole suite.
# Kernel tests need root; with CI=true no test that this machine can run may skip.
# BULKHEAD_VM_LANE=1 (implied by CI=true) also boots the cgroup v2 virtual machine lane.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build --build-tests
# The shipped binary: LaunchOrderTests checks scripts/launch-order.txt against it (with CI=true
# the build fails on a stale list instead of regenerating it).
./scripts/build-release.sh --product bulkhead
# One test at a time: the CPU-share and isolation experiments measure the machine, and a
# neighbouring test (or the VM lane) would be the noise they measure.
swift test --skip-build --no-parallel
