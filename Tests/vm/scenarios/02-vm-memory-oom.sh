# The kernel alone: memory.max 32M, a 64 MiB hog is OOM-killed inside its cgroup.
d=$CG/lane-vm-mem; mkdir $d; echo 32M > $d/memory.max; echo 0 > $d/memory.swap.max 2>/dev/null
out=$(sh -c "echo \$\$ > $d/cgroup.procs; exec $HOG mem 64" 2>&1); rc=$?
k=$(cgval $d/memory.events oom_kill); peak=$(cat $d/memory.peak 2>/dev/null)
rmdir $d
if [ $rc -eq 137 ] && [ "${k:-0}" -ge 1 ]; then pass "exit=$rc oom_kill=$k peak=$peak limit=33554432"
else fail "exit=$rc oom_kill=$k peak=$peak last='$(echo "$out" | tail -1)'"; fi
