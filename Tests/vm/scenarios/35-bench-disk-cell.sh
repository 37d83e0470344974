# The disk cell and its io.max run through `bulkhead bench` itself, as on a cgroup v2 host: no
# figure of this script's own. The bench's scratch directory (/var/tmp/bh-bench-PID) is on the
# VM's virtio disk (/var/tmp bound from /mnt/disk for the run), so the cell's fsync victim and
# writers share that disk, and Mitigations.ioMax finds a cgroup v2 kernel with the io
# controller and names the disk in --io-max. The VM has no python3: BULKHEAD_BENCH_HOG makes the
# bench's disk victims and writers the C hog (hog fsyncwin / writewin, same windows and keys).
# Rounds and window length from `bhlane.bench=R:S` (default 3 rounds of 1 s); 600 s for the
# scenario (TCG: the bench's sandboxes start slowly). The report goes
# out whole, base64, as `BHLANE JSON bench-disk-cell LINE` lines, for BenchVMLaneTests to
# decode as a BenchMatrixReport; the verdicts are the bench's. Passes when the bench wrote its
# report with the cell and its io.max run.
has_subcommand bench || { needs "bench"; exit 0; }
[ -b /dev/vda ] || { fail "no /dev/vda (virtio_blk not loaded?)"; exit 0; }
spec=$(sed -n 's/.*bhlane.bench=\([0-9]*\):\([0-9.]*\).*/\1 \2/p' /proc/cmdline)
set -- $spec
R=${1:-3}; WIN=${2:-1}
mkdir -p /mnt/disk/vartmp && chmod 1777 /mnt/disk/vartmp
mount --bind /mnt/disk/vartmp /var/tmp || { fail "cannot bind /mnt/disk/vartmp on /var/tmp"; exit 0; }
# Its output goes to the console as it comes (INFO lines), so a slow run shows how far it got.
(BULKHEAD_BENCH_HOG=$HOG $BH bench --only disk-bandwidth/container --rounds "$R" --duration "$WIN" --json $W/bench.json 2>&1; echo "exit $?") \
    | while read -r l; do echo "$l" >> $W/bench.out; echo "BHLANE INFO $SCEN $l" | cut -c1-400; done
rc=$(sed -n 's/^exit //p' $W/bench.out | tail -1)
left=$(ls /var/tmp | grep -c '^bh-bench-')
umount /var/tmp
if [ ! -s $W/bench.json ]; then
    fail "bench wrote no report (exit $rc): $(tail -c 800 $W/bench.out | tr '\n' ' ')"; exit 0
fi
base64 $W/bench.json | while read -r l; do echo "BHLANE JSON $SCEN $l"; done
echo "BHLANE INFO $SCEN $(grep -E '→ with io.max|^!|cells confirm' $W/bench.out | tr -s ' \n' ' ' | head -c 1500)"
if grep -q '"mitigation"' $W/bench.json && [ "$left" = 0 ]; then
    pass "bench exit $rc; scratch removed; $(grep -m1 'with io.max' $W/bench.out | tr -s ' ' | head -c 300)"
else
    fail "bench exit $rc: no io.max run in the report, or its scratch directory left ($left): $(tail -c 600 $W/bench.out | tr '\n' ' ')"
fi
