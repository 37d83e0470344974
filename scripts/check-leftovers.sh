#!/usr/bin/env bash
# What a test run may not leave behind: any directory in bulkhead's cgroup tree (everything
# below a `bulkhead` directory of any hierarchy, wherever it sits), and the
# tests' own directories (`bh-*`, `bhtest-*`: in the cgroup hierarchies, /tmp, /var/tmp and
# $TMPDIR). A root launch walks all of bulkhead's tree, so a leftover slows every later launch.
#
#   scripts/check-leftovers.sh list > BEFORE       what is there now, one path a line
#   scripts/check-leftovers.sh compare BEFORE      exit 1 naming each path there now and not in BEFORE
#
# scripts/test.sh lists before the suite and compares after it. Lock files (`*.lock`, the
# helpers' flock files) are not leftovers. Something else running at the same time (another
# launcher, another test run) shows up too: run it on an otherwise idle machine, as CI does.
set -euo pipefail

list() {
    {
        find /sys/fs/cgroup -mindepth 1 -type d \( -name bulkhead -o -name 'bh-*' -o -name 'bhtest-*' \) -prune -print 2>/dev/null |
            while IFS= read -r d; do
                # A base directory itself (`…/bulkhead`) may stay: what is below it may not.
                # Nor the default tenant's base (`bulkhead/default`, `bulkhead/default/default`):
                # every launch without --tenant makes it, and it stays on purpose. Nor the warm
                # pools' base (`bulkhead/pool`): each pool removes its own `pool/<leaf>` and keeps
                # the base, since pruning it would race another pool's mkdir below it.
                if [[ ${d##*/} == bulkhead ]]; then
                    find "$d" -mindepth 1 -type d 2>/dev/null |
                        grep -v -x -e "$d/default" -e "$d/default/default" -e "$d/pool" || true
                else find "$d" -type d 2>/dev/null || true; fi
            done
        for t in /tmp /var/tmp "${TMPDIR:-/tmp}"; do
            find "$t" -mindepth 1 -maxdepth 1 \( -name 'bh-*' -o -name 'bhtest-*' \) ! -name '*.lock' 2>/dev/null || true
        done
    } | LC_ALL=C sort -u
}

case "${1:-}" in
list)
    list
    ;;
compare)
    before=${2:?usage: check-leftovers.sh compare BEFORE}
    [[ -r $before ]] || { echo "check-leftovers: cannot read $before" >&2; exit 2; }
    left=$(list | LC_ALL=C comm -13 "$before" -)
    # A path may be on its way out (a teardown still running): look again after a moment.
    if [[ -n $left ]]; then
        sleep 2
        left=$(list | LC_ALL=C comm -13 "$before" - | LC_ALL=C comm -12 - <(printf '%s\n' "$left"))
    fi
    if [[ -n $left ]]; then
        echo "check-leftovers: the run left $(printf '%s\n' "$left" | wc -l) path(s) behind (cgroups in bulkhead's tree, or bh-* test directories):" >&2
        printf '%s\n' "$left" | sed 's/^/  /' >&2
        echo "check-leftovers: fix the test that made them (remove on every path, failure included); 'bulkhead gc' removes a dead launcher's cgroups" >&2
        exit 1
    fi
    echo "check-leftovers: nothing left behind"
    ;;
*)
    echo "usage: check-leftovers.sh list | compare BEFORE" >&2
    exit 2
    ;;
esac
