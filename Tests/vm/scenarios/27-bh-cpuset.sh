# --cpuset-cpus through the cgroup v2 driver (issue 15): the sandbox's leaf gets cpuset.cpus
# and cpuset.cpus.effective "0", the workload's Cpus_allowed_list is "0" (and without the flag
# it is every online CPU, so the check can fail); a CPU the VM lacks is refused before anything
# runs or is created; a CPU the parent cgroup does not allow, which v2 accepts and silently
# replaces by the parent's CPUs in cpuset.cpus.effective, stops a strict launch at that step.
has_run_flag --cpuset-cpus || { needs "--cpuset-cpus"; exit 0; }
n=$(nproc); all=$(cat /sys/devices/system/cpu/online)
if [ "$n" -lt 2 ]; then fail "the VM has $n CPU (online $all): a pin to CPU 0 looks like no pin; boot it with -smp 2 or more"; exit 0; fi

# 1. Pinned to CPU 0: the leaf's files, read from outside while the workload runs.
$BH run --cpuset-cpus 0 --report $W/p.json -- /bin/sh -c 'grep Cpus_allowed_list /proc/self/status; sleep 3' > $W/p.out 2>&1 &
bpid=$!
i=0; leaf=""
while [ $i -lt 200 ] && [ -z "$leaf" ]; do
  l=$(leaves | grep "/c-$bpid-" | head -1)
  [ -n "$l" ] && [ -n "$(cat $l/cgroup.procs 2>/dev/null)" ] && leaf=$l
  sleep 0.05; i=$((i+1))
done
cpus=$(cat $leaf/cpuset.cpus 2>&1); eff=$(cat $leaf/cpuset.cpus.effective 2>&1)
wait $bpid; prc=$?
pleft=$(leaves | sed "s|$CG/||" | tr '\n' ' ')
allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' $W/p.out)
file=$(jblock $W/p.json limits | grep -o '"driver" : "v2", "file" : "[^"]*/cpuset.cpus", "limit" : "cpuset.cpus", "value" : "0"')

# 1b. The same from a profile's resources.cpusetCpus, on the other CPU.
printf 'apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nmetadata:\n  name: pin1\nextends: container\nresources:\n  cpusetCpus: "1"\n' > $W/pin1.yaml
$BH run --profile $W/pin1.yaml --report $W/q.json -- /bin/sh -c 'grep Cpus_allowed_list /proc/self/status' > $W/q.out 2>&1; qrc=$?
qallowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' $W/q.out)
qfile=$(jblock $W/q.json limits | grep -o '"driver" : "v2", "file" : "[^"]*/cpuset.cpus", "limit" : "cpuset.cpus", "value" : "1"')

# 2. The control: without the flag the workload may run on every online CPU.
$BH run -- /bin/sh -c 'grep Cpus_allowed_list /proc/self/status' > $W/c.out 2>&1; crc=$?
call=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' $W/c.out)

# 3. A CPU the VM lacks (CPUs are 0..n-1): refused naming the flag, nothing runs, no leaf.
$BH run --cpuset-cpus $n -- /bin/echo RAN > $W/m.out 2>&1; mrc=$?
mleft=$(leaves | sed "s|$CG/||" | tr '\n' ' ')

# 4. A parent that allows CPU 0 only: v2 takes cpuset.cpus "1" in the leaf but makes
# cpuset.cpus.effective "0". A strict launch must refuse, naming the file, and run nothing.
echo +cpuset > $CG/cgroup.subtree_control 2>$W/e.err
mkdir -p $CG/bulkhead
echo 0 > $CG/bulkhead/cpuset.cpus 2>>$W/e.err; pset=$(cat $CG/bulkhead/cpuset.cpus.effective 2>&1)
$BH run --cpuset-cpus 1 -- /bin/echo RAN > $W/x.out 2>&1; xrc=$?
xleft=$(leaves | sed "s|$CG/||" | tr '\n' ' ')
echo > $CG/bulkhead/cpuset.cpus   # empty again: the parent's CPUs, for the later scenarios

d="pinned: exit=$prc leaf=${leaf#$CG/} cpuset.cpus=$cpus effective=$eff Cpus_allowed_list=$allowed report=[$file] left=[$pleft];"
d="$d profile cpusetCpus 1: exit=$qrc Cpus_allowed_list=$qallowed report=[$qfile] '$(grep -v Cpus_allowed $W/q.out | head -c 200)';"
d="$d control: exit=$crc Cpus_allowed_list=$call (online $all);"
d="$d missing CPU $n: exit=$mrc ran=$(grep -c RAN $W/m.out) left=[$mleft] '$(grep -v RAN $W/m.out | head -c 200)';"
d="$d parent 0 only ($pset $(head -c 100 $W/e.err)): exit=$xrc ran=$(grep -c RAN $W/x.out) left=[$xleft] '$(grep -v RAN $W/x.out | head -c 300)'"
if [ -n "$leaf" ] && [ $prc -eq 0 ] && [ "$cpus" = 0 ] && [ "$eff" = 0 ] && [ "$allowed" = 0 ] && [ -n "$file" ] && [ -z "$pleft" ] \
   && [ $qrc -eq 0 ] && [ "$qallowed" = 1 ] && [ -n "$qfile" ] \
   && [ $crc -eq 0 ] && [ "$call" = "$all" ] && [ "$call" != 0 ] \
   && [ $mrc -eq 125 ] && ! grep -q RAN $W/m.out && grep -q -- '--cpuset-cpus' $W/m.out && [ -z "$mleft" ] \
   && [ "$pset" = 0 ] && [ $xrc -eq 125 ] && ! grep -q RAN $W/x.out && grep -q 'cpuset.cpus.effective' $W/x.out && [ -z "$xleft" ]; then
  pass "$d"
else
  fail "$d"; show $W/p.json
fi
