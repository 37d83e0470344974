# The kernel alone: cpu.max 50000/100000 holds a busy loop to half a CPU (cgroup usage / wall).
d=$CG/lane-vm-cpu; mkdir $d; echo "50000 100000" > $d/cpu.max
out=$(sh -c "echo \$\$ > $d/cgroup.procs; exec $HOG cpu 3" 2>&1)
u=$(cgval $d/cpu.stat usage_usec); t=$(cgval $d/cpu.stat nr_throttled)
rmdir $d
w=$(hogval "$out" wall_us); r=$(calc "${u:-0} / ${w:-1}")
if ok "$r >= 0.40 && $r <= 0.60" && [ "${t:-0}" -gt 0 ]; then pass "usage/wall=$r usage_usec=$u wall_us=$w nr_throttled=$t"
else fail "usage/wall=$r usage_usec=$u wall_us=$w nr_throttled=$t"; fi
