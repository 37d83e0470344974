#!/usr/bin/env bash
# build-release.sh - the release build of bulkhead that the benchmarks measure and the README
# installs: .build/release/bulkhead (the launch executable: `run`'s fast path, no Foundation) and
# .build/release/bulkhead-cli (the full command line, which bulkhead execs from its own directory
# for everything else), and .build/release/bulkhead-runc (the OCI runtime's name, scripts/bench-oci.sh
# measures it). All three are built, side by side; `--product NAME` builds that one alone.
#   -static-executable        the Swift runtime, Foundation, glibc, libseccomp and libcap linked
#                             in: no dynamic loader, no symbol lookups, no relocations at start
#   lld, function sections and scripts/launch-order.txt
#                             the functions a launch runs are placed side by side, so that a
#                             launch touches fewer pages (scripts/gen-launch-order.sh)
#   -disable-llvm-merge-functions-pass
#                             LLVM merges functions with the same code into one body with no
#                             symbol, which no list can name: the launch's merged bodies lay in
#                             blocks of their own (7 blocks of 64 KiB). Without the merge every
#                             function keeps its name and its place in the list (BENCHMARKS.md,
#                             session 15; the launch executable grows by 0.4 MB for it)
#   -disable-concrete-type-metadata-mangled-name-accessors
#                             by default the compiler names each generic type a function uses
#                             (`[ProfileLayer]`, `Optional<CgroupReport>`, ...) by a mangled string
#                             that the runtime demangles on the process's first use: on a launch,
#                             a process that lives a few milliseconds, that was a tenth of the
#                             launcher's CPU. With the flag the compiler calls the type's metadata
#                             accessor instead (a hash lookup, no demangling): about 0.7 ms less
#                             CPU per launch, for 0.1 MB of code (BENCHMARKS.md, session 18)
# Other arguments go to swift build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
products=(bulkhead-cli bulkhead bulkhead-runc)
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --product) products=("$2"); shift 2 ;;
    --product=*) products=("${1#--product=}"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
build() {
  for p in "${products[@]}"; do swift build -c release "${flags[@]}" --product "$p" ${args[@]+"${args[@]}"}; done
}
flags=(-Xswiftc -static-executable
       -Xswiftc -use-ld=lld -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
       -Xswiftc -Xfrontend -Xswiftc -disable-llvm-merge-functions-pass
       -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors
       -Xlinker "--symbol-ordering-file=$root/scripts/launch-order.txt" -Xlinker --no-warn-symbol-ordering)
# The embedded profiles and their digests (the seccomp cache names bulkhead's policy by the
# stored one) must be what Profiles/ holds: a shipped binary is not built from a stale copy.
scripts/embed-profiles.sh --check
# SwiftPM does not recompile the Swift modules of a release build when only these flags change:
# start from a clean release directory when the last release build used other ones.
stamp=.build/release-flags
if [ "$(cat "$stamp" 2>/dev/null)" != "${flags[*]}" ]; then
  rm -rf .build/release .build/x86_64-unknown-linux-gnu/release .build/aarch64-unknown-linux-gnu/release
fi
# Nor does it relink when only launch-order.txt changed: the link is cheap, always redo it.
for p in "${products[@]}"; do rm -f ".build/release/$p"; done
build
mkdir -p .build && echo "${flags[*]}" > "$stamp"
# Is launch-order.txt still this binary's? Checked after every link against the launch executable
# just linked (the one every launch starts; LaunchOrderTests checks the same in the test suite).
# One list orders both links: it names what a launch runs, which the launch executable holds, and
# which bulkhead-cli shares (the same BulkheadLaunch code, for a launch after a cache miss); names
# a binary does not have are skipped by the linker. A stale list
# leaves the launch's functions scattered over the binary: more pages per launch (issue 17: 10.9
# MiB instead of 6). When stale, the list is regenerated from this binary and the binary linked
# again (needs root and valgrind; takes a few minutes); with CI=true, or where it cannot be
# regenerated, the build fails instead (BULKHEAD_LAUNCH_ORDER=stale-ok makes that a warning, for a
# build that is not measured or shipped).
if [ -x .build/release/bulkhead ] && ! scripts/check-launch-order.sh .build/release/bulkhead >&2; then
  # Regenerating needs the full command line beside it (a launch from empty caches execs it).
  if [ "${CI:-}" != true ] && [ "$(id -u)" = 0 ] && command -v valgrind >/dev/null && [ -x .build/release/bulkhead-cli ]; then
    echo "scripts/launch-order.txt is stale for this binary: regenerating it (scripts/gen-launch-order.sh) and linking again" >&2
    scripts/gen-launch-order.sh .build/release/bulkhead >&2
    # Then what the relinked binary's launches still fault on, twice (each link moves neighbours).
    for round in 1 2 3; do
      for p in "${products[@]}"; do rm -f ".build/release/$p"; done
      build
      [ "$round" = 3 ] || scripts/gen-launch-order.sh --add-faults .build/release/bulkhead >&2
    done
    scripts/check-launch-order.sh .build/release/bulkhead >&2 && exit 0
  fi
  if [ "${BULKHEAD_LAUNCH_ORDER:-}" = stale-ok ]; then
    echo "warning: scripts/launch-order.txt is stale for this binary: regenerate it with scripts/gen-launch-order.sh (as root, with valgrind)" >&2
  else
    echo "error: scripts/launch-order.txt is stale for this binary: regenerate it with scripts/gen-launch-order.sh (as root, with valgrind), build again and commit the list" >&2
    exit 1
  fi
fi
