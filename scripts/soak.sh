#!/bin/sh
# Soak and load at full size: 1000 sequential launches, 50 concurrent, 100 launchers SIGKILLed
# at random points (then `bulkhead gc`), the launcher's fds over a run, signals.
# The normal suite runs the same tests CI-sized (100 / 20 / 20). Needs root.
#   scripts/soak.sh                # uses .build-soak as the scratch path
#   SCRATCH=.build-probes scripts/soak.sh
set -eu
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build-soak}
swift build --build-tests --scratch-path "$SCRATCH"
BULKHEAD_SOAK=full swift test --skip-build --scratch-path "$SCRATCH" --filter SoakTests 2>&1 | tee /tmp/bulkhead-soak.log
echo
grep '^soak ' /tmp/bulkhead-soak.log
