# Node layer, PIDs: kernel.threads-max is one table for the whole kernel, and no cgroup or
# namespace has a table of its own. With threads-max lowered in the VM's own kernel, sandbox A
# (pids.max 1024, far above what is left) forks until the kernel refuses (EAGAIN), and
# neighbour sandbox B, already running under a pids.max of 64 of its own, then fails its one
# fork too. threads-max binds root as well: between the lowering and A's release the scenario
# shell forks nothing (builtins only), and A holds its children only until B has tried.
has_run_flag --pids || { needs "--pids"; exit 0; }
old=$(cat /proc/sys/kernel/threads-max)
S="--bind $W:/shared"
rmdir $W/ready $W/full $W/done $W/bye 2>/dev/null; mkdir -p $W/linger
# B lingers after its probe until "bye": its own cgroup's PSI is read over A's whole run.
$BH run --pids 64 $S -- /bin/sh -c "mkdir /shared/ready; exec $HOG forkprobe /shared" > $W/b.out 2>&1 &
bpid=$!
i=0; while [ ! -d $W/ready ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
bleaf=$(leaves | grep "/c-$bpid-" | head -1)
v0=$(psi_tot $bleaf); h0=$(psi_tot /proc/pressure)
tasks=$(cut -d' ' -f4 /proc/loadavg); tasks=${tasks#*/}
lim=$((tasks + 300))
echo $lim > /proc/sys/kernel/threads-max
$BH run --pids 1024 $S -- $HOG forkhold /shared > $W/a.out 2>&1; arc=$?
echo $old > /proc/sys/kernel/threads-max
v1=$(psi_tot $bleaf); h1=$(psi_tot /proc/pressure)
mkdir $W/bye
wait $bpid; brc=$?
rmdir $W/linger $W/bye 2>/dev/null
c=$($BH run -- $HOG fork 5 2>&1)
a=$(grep 'hog:' $W/a.out); b=$(grep 'hog:' $W/b.out)
af=$(hogval "$a" children); ae=$(hogval "$a" stopped); be=${b##*: }
value "a_forks=$af a_errno=$ae b_errno=$be threads_max=$lim"
value "victim_cgroup=${bleaf#$CG/} $(psi_shares vpsi "$v0" "$v1") $(psi_shares hpsi "$h0" "$h1")"
d="threads-max $old->$lim (tasks were $tasks); A: $a; B: $b; control: $c; threads-max restored=$(cat /proc/sys/kernel/threads-max)"
if [ "$ae" = EAGAIN ] && [ "${af:-9999}" -lt 1024 ] && [ "$be" = EAGAIN ] && echo "$c" | grep -q 'after 5 children: OK' \
   && [ "$(cat /proc/sys/kernel/threads-max)" = "$old" ]; then pass "$d"
else fail "$d; A exit=$arc B exit=$brc $(tail -c 200 $W/a.out) $(tail -c 200 $W/b.out)"; fi
