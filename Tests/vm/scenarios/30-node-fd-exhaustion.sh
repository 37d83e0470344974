# Node layer: no layer isolates the kernel's global file table. With fs.file-max lowered in
# the VM's own kernel, sandbox A opens files until ENFILE (its RLIMIT_NOFILE is far higher,
# so it is not EMFILE), and neighbour sandbox B, already running, then gets ENFILE too.
# Launchers run as real root (CAP_SYS_ADMIN is exempt from file-max); sandboxes are not.
old=$(cat /proc/sys/fs/file-max)
S="--bind $W:/shared"
rmdir $W/ready $W/full $W/done $W/bye 2>/dev/null; mkdir -p $W/linger
# B first: it marks "ready" once running, waits for A's "full", then opens one file, then
# lingers until "bye": its own cgroup's pressure (PSI) is read over A's whole run.
$BH run $S --report $W/b.json -- /bin/sh -c "mkdir /shared/ready; exec $HOG open /etc/passwd /shared" > $W/b.out 2>&1 &
bpid=$!
i=0; while [ ! -d $W/ready ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
# file-nr's first field is a per-cpu counter's approximate read (it may show 0 here): the
# margin is absolute, the table is small either way. 2000 files: far above the host's own
# file-nr noise, which `bulkhead bench --vm --only fds/node` reads around this run.
bleaf=$(leaves | grep "/c-$bpid-" | head -1)
v0=$(psi_tot $bleaf); h0=$(psi_tot /proc/pressure)
nr=$(cut -f1 /proc/sys/fs/file-nr); lim=$((nr + 2000))
echo $lim > /proc/sys/fs/file-max
$BH run --rlimit nofile=4096 $S --report $W/a.json -- $HOG fds /shared > $W/a.out 2>&1; arc=$?
echo $old > /proc/sys/fs/file-max
v1=$(psi_tot $bleaf); h1=$(psi_tot /proc/pressure)
mkdir $W/bye
wait $bpid; brc=$?
rmdir $W/linger $W/bye 2>/dev/null
# Control: with file-max restored the same open works.
c=$($BH run -- $HOG open /etc/passwd 2>&1)
a=$(grep 'hog:' $W/a.out); b=$(grep 'hog:' $W/b.out)
d="file-max $old->$lim (file-nr was $nr); A: $a; B: $b; control: $c; file-max restored=$(cat /proc/sys/fs/file-max)"
value "a_opened=$(hogval "$a" opened) a_stopped=$(hogval "$a" stopped) b=${b##*: } file_max=$lim"
value "victim_cgroup=${bleaf#$CG/} $(psi_shares vpsi "$v0" "$v1") $(psi_shares hpsi "$h0" "$h1")"
if echo "$a" | grep -q 'stopped=ENFILE' && echo "$b" | grep -q ': ENFILE' && echo "$c" | grep -q ': OK' \
   && [ "$(cat /proc/sys/fs/file-max)" = "$old" ]; then pass "$d"
else fail "$d; A exit=$arc B exit=$brc $(tail -c 200 $W/a.out) $(tail -c 200 $W/b.out)"; fi
