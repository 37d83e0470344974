#!/usr/bin/env bash
# Installs the dependencies, builds bulkhead and its tests, and runs the whole suite.
# Kernel tests need root; with CI=true no test that this machine can run may skip.
# BULKHEAD_VM_LANE=1 (implied by CI=true) also boots the cgroup v2 virtual machine lane.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build --build-tests
# The shipped binary, built once (scripts/build-release.sh: static, its launch path linked side
# by side): LaunchOrderTests checks scripts/launch-order.txt against it (with CI=true the build
# fails on a stale list instead of regenerating it), StaticBinaryTests runs it as users install
# it (no shared library loaded at run time), and the VM lane boots it (BULKHEAD_VM_BULKHEAD).
# Both executables: the launch executable (bulkhead) and the full command line it execs
# (bulkhead-cli), which alone goes into the VM (it does everything without the other).
./scripts/build-release.sh
export BULKHEAD_STATIC_BINARY=$PWD/.build/release/bulkhead
export BULKHEAD_VM_BULKHEAD=${BULKHEAD_VM_BULKHEAD:-$PWD/.build/release/bulkhead-cli}
# One test at a time: the CPU-share and isolation experiments measure the machine, and a
# neighbouring test (or the VM lane) would be the noise they measure.
# Nothing may be left behind (cgroups in bulkhead's tree, bh-* test directories): listed before
# and after, each leftover named, and the run fails on one even when every test passed.
before=$(mktemp)
trap 'rm -f "$before"' EXIT
./scripts/check-leftovers.sh list > "$before"
status=0
swift test --skip-build --no-parallel || status=$?
./scripts/check-leftovers.sh compare "$before" || status=1
exit $status
