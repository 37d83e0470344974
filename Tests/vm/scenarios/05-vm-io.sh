# The kernel alone: io.max wbps=1MiB/s on the virtio disk caps O_DIRECT writes; without it
# the same writer is clearly faster.
[ -b /dev/vda ] || { fail "no /dev/vda (virtio_blk not loaded?)"; exit 0; }
mm=$(cat /sys/block/vda/dev)
d=$CG/lane-vm-io; mkdir $d; echo "$mm wbps=1048576" > $d/io.max
lim=$(sh -c "echo \$\$ > $d/cgroup.procs; exec $HOG write /mnt/disk/w/vm-io 3" 2>&1)
rmdir $d
free=$($HOG write /mnt/disk/w/vm-io-free 16 2>&1)
rm -f /mnt/disk/w/vm-io /mnt/disk/w/vm-io-free
a=$(hogval "$lim" kibps); b=$(hogval "$free" kibps)
if [ -n "$a" ] && [ -n "$b" ] && ok "$a <= 1331 && $b >= 3 * $a"; then pass "dev=$mm limited=${a}KiB/s unlimited=${b}KiB/s"
else fail "dev=$mm limited='$lim' unlimited='$free'"; fi
