# Node layer, memory: the node's reserve is a parent cgroup that bounds every workload together
# (the kubelet's allocatable: capacity minus system-reserved). A sandbox without a memory limit
# of its own, launched inside it, allocates 900 MiB of the VM's 1 GiB: the OOM killer ends it at
# the reserve's bound, inside it, while a host process outside holds its 200 MiB throughout.
# The node's PSI (/proc/pressure/memory) is recorded: pressure is felt node-wide.
d=$CG/node-allocatable
mkdir $d $d/launcher
echo $((384 << 20)) > $d/memory.max; echo 0 > $d/memory.swap.max 2>/dev/null
psi() { sed -n 's/^some .*total=\([0-9]*\)$/\1/p' /proc/pressure/memory; }
p0=$(psi)
# The host process, the node's own work the reserve protects (the victim), in a cgroup of its
# own beside the reserve (the kubelet's system-reserved): its PSI is the victim's.
sys=$CG/node-system; mkdir $sys
sh -c "echo \$\$ > $sys/cgroup.procs; exec $HOG mem 200 4" > $W/host.out 2>&1 &
hpid=$!
i=0; while ! grep -q 'mem done' $W/host.out && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
v0=$(psi_tot $sys); h0=$(psi_tot /proc/pressure)
sh -c "echo \$\$ > $d/launcher/cgroup.procs; exec $BH run --profile unconfined --report $W/r.json -- $HOG mem 900" > $W/w.out 2>&1; rc=$?
v1=$(psi_tot $sys); h1=$(psi_tot /proc/pressure)
wait $hpid; hrc=$?
p1=$(psi)
k=$(cgval $d/memory.events oom_kill); peak=$(cat $d/memory.peak 2>/dev/null)
rmdir $d/launcher $d $sys
last=$(grep 'hog: mem touched' $W/w.out | tail -1)
value "exit=$rc oom_kill=${k:-0} peak=${peak:-0} host_exit=$hrc host_held=$(grep -c 'mem held 200' $W/host.out) psi_us=$((p1 - p0))"
value "victim_cgroup=${sys#$CG/} $(psi_shares vpsi "$v0" "$v1") $(psi_shares hpsi "$h0" "$h1")"
d="workload exit=$rc oom_kill=$k peak=$peak (bound 402653184) last='$last'; host: exit=$hrc $(grep -c 'mem held 200' $W/host.out) held; node PSI some total +$((p1 - p0)) us"
if [ $rc -eq 137 ] && [ "${k:-0}" -ge 1 ] && [ -n "$peak" ] && ok "$peak <= 1.02 * 402653184" \
   && [ $hrc -eq 0 ] && grep -q 'mem held 200' $W/host.out; then pass "$d"
else fail "$d; $(tail -c 300 $W/w.out)"; fi
