#!/usr/bin/env bash
# build-release.sh - the release build of bulkhead that the benchmarks measure and the README
# installs: .build/release/bulkhead.
#   -static-executable        the Swift runtime, Foundation, glibc, libseccomp and libcap linked
#                             in: no dynamic loader, no symbol lookups, no relocations at start
#   lld, function sections and scripts/launch-order.txt
#                             the functions a launch runs are placed side by side, so that a
#                             launch touches fewer pages (scripts/gen-launch-order.sh)
# Extra arguments go to swift build (e.g. --product bulkhead).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
flags=(-Xswiftc -static-executable
       -Xswiftc -use-ld=lld -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
       -Xlinker "--symbol-ordering-file=$root/scripts/launch-order.txt" -Xlinker --no-warn-symbol-ordering)
# SwiftPM does not recompile the Swift modules of a release build when only these flags change:
# start from a clean release directory when the last release build used other ones.
stamp=.build/release-flags
if [ "$(cat "$stamp" 2>/dev/null)" != "${flags[*]}" ]; then
  rm -rf .build/release .build/x86_64-unknown-linux-gnu/release .build/aarch64-unknown-linux-gnu/release
fi
# Nor does it relink when only launch-order.txt changed: the link is cheap, always redo it.
rm -f .build/release/bulkhead
swift build -c release "${flags[@]}" "$@"
mkdir -p .build && echo "${flags[*]}" > "$stamp"
# Is launch-order.txt still the launch's? Said after every link (LaunchOrderTests fails on it in
# the test suite; here only a warning, since a release build inlines some functions away).
if [ -x .build/release/bulkhead ]; then
  scripts/check-launch-order.sh .build/release/bulkhead || echo "warning: scripts/launch-order.txt is stale for this binary: regenerate it with scripts/gen-launch-order.sh" >&2
fi
