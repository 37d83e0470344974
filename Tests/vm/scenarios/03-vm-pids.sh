# The kernel alone: pids.max 16 stops a fork loop with EAGAIN and counts it in pids.events.
d=$CG/lane-vm-pids; mkdir $d; echo 16 > $d/pids.max
out=$(sh -c "echo \$\$ > $d/cgroup.procs; exec $HOG fork" 2>&1); rc=$?
m=$(cgval $d/pids.events max)
rmdir $d
if echo "$out" | grep -q EAGAIN && [ "${m:-0}" -ge 1 ]; then pass "pids.events max=$m; $out"
else fail "exit=$rc pids.events max=$m; $out"; fi
