# bulkhead --io-max "MAJ:MIN wbps=1048576": O_DIRECT writes to the virtio disk stay under
# ~1.3 MiB/s; the same writer in a sandbox without the limit is clearly faster.
has_run_flag --io-max || { needs "--io-max"; exit 0; }
[ -b /dev/vda ] || { fail "no /dev/vda (virtio_blk not loaded?)"; exit 0; }
mm=$(cat /sys/block/vda/dev)
$BH run --io-max "$mm wbps=1048576" --bind /mnt/disk/w:/mnt/w --report $W/l.json -- $HOG write /mnt/w/bh-io 3 > $W/l.out 2>&1; rc=$?
$BH run --bind /mnt/disk/w:/mnt/w --report $W/f.json -- $HOG write /mnt/w/bh-io-free 16 > $W/f.out 2>&1; frc=$?
left=$(leaves | sed "s|$CG/||" | tr '\n' ' ')   # no leaf left behind, before any later run collects it
rm -f /mnt/disk/w/bh-io /mnt/disk/w/bh-io-free
a=$(hogval "$(cat $W/l.out)" kibps); b=$(hogval "$(cat $W/f.out)" kibps)
enf=$(jblock $W/l.json limits | grep -o '"file" : "[^"]*/io.max"' | wc -l)
d="left=[$left] dev=$mm exit=$rc/$frc limited=${a}KiB/s unlimited=${b}KiB/s io.max-enforced=$enf"
if [ -z "$left" ] && [ "$enf" -ge 1 ] && [ $rc -eq 0 ] && [ -n "$a" ] && [ -n "$b" ] && ok "$a <= 1331 && $b >= 3 * $a"; then pass "$d"
else fail "$d; $(tail -c 200 $W/l.out) $(tail -c 200 $W/f.out)"; fi
