# The VM itself: a pure cgroup v2 hierarchy with cpu, memory, pids and io handed down.
c=$(cat $CG/cgroup.controllers); s=$(cat $CG/cgroup.subtree_control)
missing=""
for x in cpu memory pids io; do echo " $s " | grep -q " $x " || missing="$missing $x"; done
if [ -n "$missing" ]; then fail "not enabled at the root:$missing (controllers=[$c])"
elif ! grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then fail "/sys/fs/cgroup is not cgroup2"
elif [ "$(cat /proc/self/cgroup)" != "0::/init" ]; then fail "init is not in the /init leaf: $(cat /proc/self/cgroup)"
else pass "controllers=[$c] enabled=[$s] init-leaf=/init"; fi
