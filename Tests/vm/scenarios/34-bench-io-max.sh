# The disk-bandwidth cells' mitigation, measured (`bulkhead bench --vm --only disk-bandwidth`):
# io.max is a cgroup v2 control, so it runs in this VM's kernel. The cell's shape on the VM's
# virtio disk (victim on vCPU 0, writers on vCPU 1), in interleaved rounds of windows on one
# wall-clock schedule (ABBA: the phase order reversed every other round; the unlimited
# writers' window between idle ones): a victim sandbox writing 4 KiB and fsync'ing in every
# window (hog fsyncwin), a sandbox of two writers of 8 MiB files with fsync writing only in the
# `loaded` windows (no limit, the cell's default), and the same writers in a sandbox under
# --io-max "MAJ:MIN wbps=4194304" writing only in the `contained` windows. The io.max line is
# read back from the limited writers' own cgroup while they run; the pressure (PSI) of the
# victim's own cgroup and of the whole kernel is read over every window (hog psiwin, outside
# the sandboxes). Rounds and window length: `bhlane.bench=ROUNDS:SECONDS` on the kernel command
# line (bench --vm passes its --rounds and --duration), default 3 rounds of 1 s.
# The figures go out as BHLANE VALUE lines; the verdict (does io.max give the victim its
# service back) is the bench's. This scenario passes when everything was measured.
has_run_flag --io-max || { needs "--io-max"; exit 0; }
[ -b /dev/vda ] || { fail "no /dev/vda (virtio_blk not loaded?)"; exit 0; }
mm=$(cat /sys/block/vda/dev); WBPS=4194304
spec=$(sed -n 's/.*bhlane.bench=\([0-9]*\):\([0-9.]*\).*/\1 \2/p' /proc/cmdline)
set -- $spec
R=${1:-3}; WIN=${2:-1}; GAP=0.25
[ "$R" -ge 1 ] && [ "$R" -le 8 ] 2>/dev/null || R=3
# Per round: the victim alone and next to the limited writers in ABBA order, and the unlimited
# writers' window between two idle ones: what those writers still flush after their window
# (their last fsync, writeback) must not fall into a window of the other two phases.
keys=""; i=0
while [ $i -lt $R ]; do
    if [ $((i % 2)) -eq 0 ]; then order="baseline contained idle loaded idle"; else order="idle loaded idle contained baseline"; fi
    for p in $order; do
        case $p in idle) keys="$keys${keys:+,}idle" ;; *) keys="$keys${keys:+,}r${i}_$p" ;; esac
    done
    i=$((i+1))
done
D=/mnt/disk/w
rm -f $D/go
# Under TCG the writers' copying costs the emulated CPUs far more than on a host, so the victim
# runs on vCPU 0 and both writers' sandboxes on vCPU 1: what the victim feels is the disk (the
# guest's queue and writeback), not the CPU. The three sandboxes wait for the schedule's start in $D/go (hog's @FILE), written once all
# three run: a slow start (TCG on a loaded host) makes no window late.
$BH run --cpuset-cpus 0 --bind $D:/mnt/w --report $W/v.json -- $HOG fsyncwin /mnt/w/bench-victim @/mnt/w/go $WIN $GAP $keys > $W/v.out 2>&1 &
vpid=$!
$BH run --cpuset-cpus 1 --bind $D:/mnt/w -- $HOG writewin /mnt/w @/mnt/w/go $WIN $GAP $keys loaded 8 2 > $W/l.out 2>&1 &
lpid=$!
$BH run --cpuset-cpus 1 --io-max "$mm wbps=$WBPS" --bind $D:/mnt/w --report $W/c.json -- $HOG writewin /mnt/w @/mnt/w/go $WIN $GAP $keys contained 8 2 > $W/c.out 2>&1 &
cpid=$!
# Each run's leaf is /sys/fs/cgroup/bulkhead/c-LAUNCHERPID-…: the victim's (for its PSI) and
# the limited writers' (for io.max, read back from the cgroup file the kernel enforces).
i=0; vleaf=""; cleaf=""; lleaf=""
while [ $i -lt 1200 ] && { [ -z "$vleaf" ] || [ -z "$cleaf" ] || [ -z "$lleaf" ]; }; do
    vleaf=$(leaves | grep "/c-$vpid-" | head -1); cleaf=$(leaves | grep "/c-$cpid-" | head -1); lleaf=$(leaves | grep "/c-$lpid-" | head -1)
    sleep 0.05; i=$((i+1))
done
iomax=""; [ -n "$cleaf" ] && iomax=$(cat "$cleaf/io.max" 2>/dev/null | grep "^$mm " | tr ' ' ',')
# A leaf exists just before its workload runs: the first window 3 s after the last one's.
T0=$(( $(date +%s) + 3 ))
echo $T0 > $D/go.tmp && mv $D/go.tmp $D/go
if [ -n "$vleaf" ]; then $HOG psiwin "$vleaf" $T0 $WIN $GAP $keys > $W/p.out 2>&1; fi
wait $vpid; vrc=$?; wait $lpid; lrc=$?; wait $cpid; crc=$?
enf=$(jblock $W/c.json limits | grep -o '"file" : "[^"]*/io.max"' | wc -l)
value "rounds=$R window=$WIN dev=$mm wbps=$WBPS io_max_read=${iomax:-none} io_max_enforced=$enf victim_cgroup=${vleaf#$CG/} writers_cgroup=${cleaf#$CG/}"
for f in v p l c; do
    sed -n 's/^hog: \(.*=.*\)$/\1/p' $W/$f.out | while read -r line; do value "$line"; done
done
n=$(grep -c '_ops=' $W/v.out); psi=$(grep -c '_vpsi_io_some=' $W/p.out 2>/dev/null)
late=$(grep -o '[a-z0-9_]*_late=[0-9.]*' $W/v.out $W/p.out 2>/dev/null | tr '\n' ' ')
rm -f $D/bench-victim $D/writer-* $D/go
left=$(leaves | sed "s|$CG/||" | tr '\n' ' ')
d="rounds=$R window=${WIN}s io.max read back from ${cleaf#$CG/}: '${iomax}' (enforced per report: $enf); victim windows $n of $((R * 3)), victim-cgroup PSI windows ${psi:-0}; late: ${late:-none}; exit $vrc/$lrc/$crc; left=[$left]"
if [ -n "$iomax" ] && echo "$iomax" | grep -q "wbps=$WBPS" && [ "$enf" -ge 1 ] && [ "$n" -ge $((R * 2)) ] && [ "${psi:-0}" -ge 1 ] \
   && [ $vrc -eq 0 ] && [ $crc -eq 0 ] && [ -z "$left" ]; then pass "$d"
else fail "$d; $(tail -c 300 $W/v.out) $(tail -c 200 $W/c.out)"; fi
