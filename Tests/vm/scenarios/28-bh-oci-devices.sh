# linux.resources.devices on cgroup v2 (issue 13): `bulkhead oci create` attaches an eBPF device
# program to the container's cgroup2 leaf before `start`. Inside the container (real root,
# CAP_MKNOD) /dev/null and /dev/zero open (the config's c 1:3 and the engine's nodes) and mknod
# of c 1:11 fails with EPERM; without device rules runc's default list is installed (the same
# refusal, /dev/null and /dev/zero open); the same container whose rules allow mknod of any char
# device makes that node (so the refusal is the program's, not a missing capability or
# seccomp); delete leaves no leaf.
$BH oci features > /dev/null 2>&1 || { needs "oci (bulkhead oci features fails)"; exit 0; }
mkb() { # mkb DIR DEVICES-JSON: a bundle of busybox whose workload writes its results to DIR/out
    mkdir -p $1/rootfs/bin $1/rootfs/proc $1/rootfs/dev $1/rootfs/out $1/out; chmod 777 $1/out
    cp /bin/busybox $1/rootfs/bin/busybox
    for a in sh head wc mknod echo cat; do ln -sf busybox $1/rootfs/bin/$a; done
    cat > $1/config.json <<JSON
{"ociVersion": "1.0.2",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/", "env": ["PATH=/bin"],
  "args": ["/bin/sh", "-c", "head -c 3 /dev/zero | wc -c > /out/zero; echo x > /dev/null && echo ok > /out/null; mknod /tmp-k c 1 11 2> /out/k-err; echo \$? > /out/k-rc; echo done > /out/done"],
  "capabilities": {"bounding": ["CAP_MKNOD"], "effective": ["CAP_MKNOD"], "permitted": ["CAP_MKNOD"]}},
 "root": {"path": "rootfs", "readonly": false},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/out", "type": "bind", "source": "$1/out", "options": ["rbind", "rw"]}],
 "linux": {$2"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]}}
JSON
}
# runc: create, start, wait for the workload's results, delete.
runc_cycle() { # runc_cycle DIR ID
    $BH oci --root $W/state create --bundle $1 $2 > $1/create.out 2>&1 < /dev/null; crc=$?
    [ $crc -eq 0 ] || { echo "create exit $crc: $(head -c 400 $1/create.out)"; return; }
    $BH oci --root $W/state start $2 > $1/start.out 2>&1
    i=0; while [ $i -lt 200 ] && [ ! -s $1/out/done ]; do sleep 0.05; i=$((i+1)); done
    $BH oci --root $W/state delete --force $2 > $1/delete.out 2>&1
    echo "zero=$(cat $1/out/zero 2>/dev/null) null=$(cat $1/out/null 2>/dev/null) mknod_rc=$(cat $1/out/k-rc 2>/dev/null) mknod_err=$(head -c 120 $1/out/k-err 2>/dev/null | tr '\n' ' ')"
}
mkb $W/on '"resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}, '
on=$(runc_cycle $W/on devon)
mkb $W/def ''
def=$(runc_cycle $W/def devodef)
mkb $W/off '"resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "access": "m"}]}, '
off=$(runc_cycle $W/off devoff)
left=$(find $CG/bulkhead -type d -name 'devo*' 2>/dev/null | tr '\n' ' ')
case "$on" in *"zero=3 null=ok mknod_rc=1 mknod_err="*"Operation not permitted"*) onok=1 ;; *) onok=0 ;; esac
case "$def" in *"zero=3 null=ok mknod_rc=1 mknod_err="*"Operation not permitted"*) defok=1 ;; *) defok=0 ;; esac
case "$off" in *"mknod_rc=0 "*) offok=1 ;; *) offok=0 ;; esac
if [ $onok -eq 1 ] && [ $defok -eq 1 ] && [ $offok -eq 1 ] && [ -z "$left" ]; then pass "with rules: $on; default: $def; mknod allowed: $off"
else fail "with rules: $on; default: $def; mknod allowed: $off; leaves left: $left"; fi
