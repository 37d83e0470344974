#!/bin/bash
# The cgroup v2 test lane: boots Debian's cloud kernel under QEMU (KVM where the host has
# hardware virtualization, else TCG) with an initramfs that holds busybox, a statically
# linked bulkhead and the scenarios of Tests/vm/scenarios, and checks the machine-readable result lines the VM prints on its serial console:
#   BHLANE PASS|FAIL <scenario> <detail>     one per scenario
#   BHLANE DONE <n_pass> <n_fail>            last line before poweroff
# Exit status 0 only when DONE was seen with 0 failures.
#
# Environment (all optional):
#   BULKHEAD_VM_CACHE      kernel cache (default /var/cache/bulkhead-vm)
#   BULKHEAD_VM_OUT        work directory for initramfs, disk image, log (default .build-vm/lane)
#   BULKHEAD_VM_BULKHEAD   use this static bulkhead binary instead of building one
#   BULKHEAD_VM_SCRATCH    SwiftPM scratch path of the static build (default .build-vm; must not
#                          be the scratch path of a `swift test` that runs this script: SwiftPM
#                          holds that lock while tests run)
#   BULKHEAD_VM_ONLY       comma-separated scenario names to run (default: all)
#   BULKHEAD_VM_BENCH      ROUNDS:SECONDS of the bench scenarios' windows (34-bench-io-max;
#                          `bulkhead bench --vm` passes its --rounds and --duration)
#   BULKHEAD_VM_TIMEOUT    hard limit for the VM in seconds (default 600)
#   BULKHEAD_VM_DISK_BPS   the VM disk's cap in bytes/s (default 16777216; 0: none)
#   BULKHEAD_VM_DISK_READ_IOPS  its cap in read requests/s (default 100; 0: none)
#   BULKHEAD_VM_ACCEL      auto (default: KVM where the host has vmx/svm and /dev/kvm, else TCG),
#                          kvm (fail without it) or tcg
#   BULKHEAD_VM_OFFLINE    1: install and download nothing (`bulkhead bench --vm` sets it): a
#                          missing tool or an uncached kernel fails with the fix
# Needs: apt-get (first run only), swift, gcc + static glibc, busybox-static, cpio, mke2fs,
# qemu-system-x86_64.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${BULKHEAD_VM_CACHE:-/var/cache/bulkhead-vm}
out=${BULKHEAD_VM_OUT:-$repo/.build-vm/lane}
vm_timeout=${BULKHEAD_VM_TIMEOUT:-600}
mkdir -p "$cache" "$out"

now() { date +%s.%N; }
phase_start=0
begin() { phase_start=$(now); echo "lane: $1 ..."; }
end() { printf 'lane: phase %-10s %6.1f s\n' "$1" "$(echo "$(now) - $phase_start" | bc)"; }
die() { echo "lane: error: $*" >&2; exit 2; }
lane_start=$(now)

need_tools() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v cpio >/dev/null || missing+=(cpio)
    command -v mke2fs >/dev/null || missing+=(e2fsprogs)
    command -v bc >/dev/null || missing+=(bc)
    [ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' || missing+=(busybox-static)
    if [ ${#missing[@]} -gt 0 ] && [ "$offline" = 1 ]; then
        die "missing ${missing[*]}: apt-get install ${missing[*]}"
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "lane: installing ${missing[*]}"
        apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
    fi
}
offline=${BULKHEAD_VM_OFFLINE:-0}
# The accelerator: KVM where this host gives hardware virtualization (the guest's CPU then runs
# at the host CPU's speed, and the disk's service is no longer emulated CPU time that the
# host's other work sets: docs/bench.md, the disk cell in the VM lane), TCG otherwise.
# BULKHEAD_VM_ACCEL=tcg forces TCG; =kvm fails when KVM cannot be used. A /dev/kvm without
# vmx/svm in /proc/cpuinfo is not hardware KVM: on a host with kvm_pvm (PVM, nested
# virtualization by page tables) it runs only guest kernels built for it (CONFIG_PVM_GUEST),
# which Debian's cloud kernel is not (it stops after the boot loader, or qemu fails to set
# MSR 0x10a with -cpu max).
accel=tcg; cpu=max; why=
case ${BULKHEAD_VM_ACCEL:-auto} in tcg|kvm|auto) ;; *) die "BULKHEAD_VM_ACCEL must be auto, kvm or tcg, not '${BULKHEAD_VM_ACCEL}'" ;; esac
if [ "${BULKHEAD_VM_ACCEL:-auto}" = tcg ]; then why="BULKHEAD_VM_ACCEL=tcg"
elif ! [ -c /dev/kvm ]; then why="no /dev/kvm"
elif ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then why="/dev/kvm is not readable and writable by uid $(id -u)"
elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
    if [ -d /sys/module/kvm_pvm ]; then why="/dev/kvm is PVM (kvm_pvm, no vmx/svm): it runs only kernels built with CONFIG_PVM_GUEST, and Debian's cloud kernel is not one"
    else why="/dev/kvm present but this CPU has no vmx/svm"; fi
else accel=kvm; cpu=host; why="vmx/svm and /dev/kvm"; fi
[ "${BULKHEAD_VM_ACCEL:-auto}" = kvm ] && [ "$accel" != kvm ] && die "BULKHEAD_VM_ACCEL=kvm, but KVM cannot be used here: $why"
echo "lane: accel $accel ($why)"
command -v bc >/dev/null || [ "$offline" = 1 ] || apt-get install -y -q bc >/dev/null
need_tools

# --- 1. kernel -----------------------------------------------------------------------------
# The package linux-image-cloud-amd64 depends on (linux-image-<abi>-cloud-amd64). Its config
# has CGROUPS, MEMCG, CGROUP_PIDS, CFS_BANDWIDTH, BLK_DEV_THROTTLING, USER_NS, SECCOMP_FILTER,
# DEVTMPFS, EXT4 (for ext2), SERIAL_8250_CONSOLE and SECURITY_LANDLOCK built in (=y); virtio
# is modular (VIRTIO, VIRTIO_PCI, VIRTIO_BLK =m): the .ko files of the same package go into
# the initramfs and /lane/init2 insmods them.
begin kernel
resolve_kernel_pkg() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1; }
if [ "$offline" = 1 ]; then kpkg=; else kpkg=$(resolve_kernel_pkg); fi
if [ -z "$kpkg" ] && [ "$offline" != 1 ]; then apt-get update -q >/dev/null 2>&1 || true; kpkg=$(resolve_kernel_pkg); fi
if [ -z "$kpkg" ]; then
    # Offline: reuse the newest kernel already in the cache.
    kpkg=$(ls -1 "$cache" 2>/dev/null | grep '^linux-image-.*-cloud-amd64$' | sort -V | tail -1)
    [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 and nothing is cached in $cache (run Tests/vm/run-lane.sh once online)"
    echo "lane: apt-cache cannot resolve linux-image-cloud-amd64; using cached $kpkg"
fi
kdir=$cache/$kpkg
if ! ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1; then
    [ "$offline" = 1 ] && die "$kdir has no kernel image (run Tests/vm/run-lane.sh once online)"
    tmp=$(mktemp -d "$cache/dl.XXXXXX"); chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -q "$kpkg" 2>&1 | grep -v 'unsandboxed' || true)
    deb=$(ls "$tmp"/*.deb 2>/dev/null | head -1) || true
    [ -n "$deb" ] || die "apt-get download $kpkg failed"
    rm -rf "$kdir.part"; dpkg -x "$deb" "$kdir.part"
    cp "$deb" "$kdir.part/"
    mv "$kdir.part" "$kdir"; rm -rf "$tmp"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
kdeb=$(ls "$kdir"/*.deb 2>/dev/null | head -1); kdeb=${kdeb##*/}
moddir=$kdir/lib/modules/$kver/kernel
for k in CONFIG_CGROUPS CONFIG_MEMCG CONFIG_CGROUP_PIDS CONFIG_CFS_BANDWIDTH CONFIG_BLK_DEV_THROTTLING CONFIG_USER_NS CONFIG_SECCOMP_FILTER CONFIG_DEVTMPFS; do
    grep -q "^$k=y" "$kdir/boot/config-$kver" || die "$kpkg: $k is not built in"
done
echo "lane: kernel $kpkg ($kdeb)"
end kernel

# --- 2. static bulkhead and the hog --------------------------------------------------------
begin build
if [ -n "${BULKHEAD_VM_BULKHEAD:-}" ]; then
    bh=$BULKHEAD_VM_BULKHEAD
else
    # -static-executable links glibc, the Swift runtime, Foundation, libseccomp.a and libcap.a
    # into one file (the linker warns that getpwnam/dlopen need glibc at run time: unused here).
    scratch=${BULKHEAD_VM_SCRATCH:-.build-vm}
    (cd "$repo" && swift build -c release --scratch-path "$scratch" -Xswiftc -static-executable --product bulkhead-cli) \
        > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; die "static build failed (log: $out/build.log)"; }
    # The full command line (bulkhead-cli) does everything alone; installed as bulkhead in the VM.
    case $scratch in /*) bh=$scratch/release/bulkhead-cli ;; *) bh=$repo/$scratch/release/bulkhead-cli ;; esac
fi
file -L "$bh" | grep -q 'statically linked' || die "$bh is not statically linked"
gcc -static -O2 -Wall -o "$out/hog" "$here/hog.c" || die "cannot build hog.c statically (libc6-dev?)"
end build

# --- 3. initramfs and disk -----------------------------------------------------------------
begin initramfs
root=$out/root
rm -rf "$root"; mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lane,etc,lib/modules,mnt/w,shared,proc,sys,dev,tmp}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list-full); do
    [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
strip -o "$root/usr/bin/bulkhead" "$bh"
cp "$out/hog" "$root/usr/bin/hog"
cp -r "$repo/Profiles" "$root/lane/Profiles"
cp "$here/init" "$root/init"
cp "$here/init2" "$here/lib.sh" "$root/lane/"
cp -r "$here/scenarios" "$root/lane/scenarios"
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev virtio/virtio_pci_legacy_dev virtio/virtio_pci block/virtio_blk; do
    cp "$moddir/drivers/$m.ko" "$root/lib/modules/" || die "module $m.ko not in $kpkg"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
chmod -R a+rX "$root"; chmod 1777 "$root/tmp"
(cd "$root" && find . | cpio -o -H newc --owner=0:0 --quiet | gzip -1) > "$out/initramfs.gz"
# The disk image lives in memory (/dev/shm, 64 MiB) where it can: the guest's I/O then waits
# on nothing of the host's own disks, which other work on the host keeps busy (the io.max
# scenario measures the guest's queue). Removed when the lane ends, on every path.
rm -f "$out/disk.img"
if [ -d /dev/shm ] && [ -w /dev/shm ] && disk=$(mktemp /dev/shm/bh-lane-disk.XXXXXX 2>/dev/null); then
    trap 'rm -f "$disk"' EXIT; trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP
    ln -s "$disk" "$out/disk.img"
else
    disk=$out/disk.img
fi
# 256 MiB: the bench's disk cell (35-bench-disk-cell) writes two 64 MiB files beside its victim.
truncate -s 256M "$disk"; mke2fs -q -F -t ext2 "$disk"
echo "lane: initramfs $(du -h "$out/initramfs.gz" | cut -f1)"
end initramfs

# --- 4. boot and run -----------------------------------------------------------------------
begin boot
log=$out/console.log
append="console=ttyS0 quiet panic=-1"
[ -n "${BULKHEAD_VM_ONLY:-}" ] && append="$append bhlane.only=$BULKHEAD_VM_ONLY"
if [ -n "${BULKHEAD_VM_BENCH:-}" ]; then
    [[ $BULKHEAD_VM_BENCH =~ ^[1-8]:[0-9]{1,2}(\.[0-9]{1,3})?$ ]] || die "BULKHEAD_VM_BENCH must be ROUNDS:SECONDS (rounds 1 to 8), not '$BULKHEAD_VM_BENCH'"
    append="$append bhlane.bench=$BULKHEAD_VM_BENCH"
fi
# cache=unsafe: the guest's flushes end in the image's page cache, so a guest fsync measures
# the guest's own block layer and queue (where io.max acts: 34-bench-io-max), not a host disk,
# whose latency whatever else runs on the host sets.
# The disk is a provisioned volume, as a cloud disk is: qemu's block throttling caps it at
# BULKHEAD_VM_DISK_BPS bytes/s (reads and writes together) and BULKHEAD_VM_DISK_READ_IOPS read
# requests/s (0: no cap). A cap on all requests made a writer's 1 MiB write (several requests)
# delay the reads after it by 10 ms each even under io.max (the victim's p90 up by half). Without a cap an image in the host's page cache has no bandwidth to share: every
# request is served as fast as the emulated CPU submits it, so under TCG the victim's service
# was the host's load (docs/bench.md, io.max measured in the VM), and writers slowed it only by
# the CPU their requests took. With the cap the device's budget is what writers take from a
# neighbour, and what io.max gives back, whatever the emulation's speed (as long as the guest can
# submit more than the cap: about 400 4 KiB reads/s alone under TCG at load average 24).
disk_bps=${BULKHEAD_VM_DISK_BPS:-16777216}; disk_iops=${BULKHEAD_VM_DISK_READ_IOPS:-100}
[[ $disk_bps =~ ^[0-9]{1,12}$ && $disk_iops =~ ^[0-9]{1,7}$ ]] || die "BULKHEAD_VM_DISK_BPS and BULKHEAD_VM_DISK_READ_IOPS must be whole numbers (0: no cap), not '$disk_bps' and '$disk_iops'"
throttle=""
[ "$disk_bps" = 0 ] || throttle="$throttle,throttling.bps-total=$disk_bps"
[ "$disk_iops" = 0 ] || throttle="$throttle,throttling.iops-read=$disk_iops"
append="$append bhlane.disk=$disk_bps:$disk_iops bhlane.accel=$accel"
echo "lane: disk capped at $disk_bps B/s and $disk_iops reads/s (qemu block throttling: bytes of reads and writes together, read requests; 0: none)"
# A boot that never reaches the lane's init is killed after BULKHEAD_VM_BOOT_TIMEOUT seconds and
# the VM booted once more: once, under TCG, the guest stopped after SeaBIOS's "Booting from ROM"
# with both vCPUs busy, and qemu, not reading its SIGTERM there, outlived `timeout` (so the kill
# after it: -k). The console is written line by line, for the watchdog to read.
boot_timeout=${BULKHEAD_VM_BOOT_TIMEOUT:-180}
[[ $boot_timeout =~ ^[0-9]{1,4}$ ]] || die "BULKHEAD_VM_BOOT_TIMEOUT must be whole seconds, not '$boot_timeout'"
boot_vm() {
    rm -f "$out/boot-hung" "$out/vm-ended"
    (
        for _ in $(seq "$boot_timeout"); do
            sleep 1
            grep -aq 'BHLANE BOOT' "$log" 2>/dev/null && exit 0
            [ -e "$out/vm-ended" ] && exit 0
        done
        touch "$out/boot-hung"
        pkill -KILL -f -- "file=$disk," || true
    ) &
    local watchdog=$!
    set +e
    timeout -k 10 "$vm_timeout" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -m 1024 -smp 2 -nographic -no-reboot \
        -kernel "$vmlinuz" -initrd "$out/initramfs.gz" -append "$append" \
        -drive file="$disk",if=virtio,format=raw,cache=unsafe$throttle \
        </dev/null 2>&1 | stdbuf -oL tr -d '\r' | tee "$log" | grep -a --line-buffered -o 'BHLANE .*'
    qrc=${PIPESTATUS[0]}
    set -e
    touch "$out/vm-ended"
    wait "$watchdog" 2>/dev/null || true
    rm -f "$out/vm-ended"
}
boot_vm
if [ -e "$out/boot-hung" ]; then
    echo "lane: the VM did not reach the lane's init within $boot_timeout s (console ends: $(tail -c 120 "$log" | tr -c '[:print:]' ' ')); booting once more"
    boot_vm
    [ -e "$out/boot-hung" ] && echo "lane: the second boot did not reach the lane's init either"
fi
end boot

echo "lane: console log $log"
printf 'lane: whole lane %.1f s\n' "$(echo "$(now) - $lane_start" | bc)"
[ "$qrc" = 124 ] && echo "lane: the VM was killed after $vm_timeout s"
needs=$(grep -ao 'BHLANE FAIL .* needs bulkhead flag.*' "$log" | sed 's/^BHLANE FAIL \([^ ]*\) needs bulkhead flag \(.*\)/  \1: \2/' || true)
[ -n "$needs" ] && { echo "lane: scenarios waiting for bulkhead interfaces:"; echo "$needs"; }
done_line=$(grep -ao 'BHLANE DONE [0-9]* [0-9]*' "$log" | tail -1 || true)
[ -n "$done_line" ] || { echo "lane: FAILED: no DONE line (qemu exit $qrc); tail of the console:"; tail -20 "$log"; exit 1; }
set -- $done_line
echo "lane: $3 passed, $4 failed (kernel $kpkg)"
[ "$4" = 0 ] || exit 1
