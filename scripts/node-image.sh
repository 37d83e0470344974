#!/usr/bin/env bash
# node-image.sh - builds the bench's node image offline, FROM scratch (deploy/node/Containerfile).
#
# The image holds:
#   /usr/local/bin/bulkhead   the full command line (bulkhead-cli, which does everything alone;
#                             the launch executable would exec it) in a release build with
#                             --static-swift-stdlib (the Swift runtime and
#                             Foundation linked in), or --binary PATH, with exactly the shared
#                             libraries `ldd` lists for it: glibc, libseccomp, libcap, libstdc++,
#                             libgcc_s and the loader for the release build, the Swift runtime's
#                             too for a debug build; scripts/build-release.sh's
#                             -static-executable build needs none (bulkhead runs /usr/sbin/nft
#                             and loads no library at run time).
#   /usr/sbin/nft + libs      run by bulkhead for the pods' node bridge (docs/network.md)
#   /bin/busybox + applets    /bin/sh and the shell tools the experiments' scripts use
#                             (busybox-static: no library)
#   experiment programs       those of python3 (with its standard library and lib-dynload),
#                             iperf3, ipcmk, ipcrm that this build host has (the bench runs no
#                             other program busybox lacks: no fio, no stress-ng), each
#                             with exactly the libraries ldd lists; a program the host lacks is
#                             left out, and the cells that need it say so when they run
#   /etc/passwd, /etc/group   root only; empty /tmp, /var/tmp, /run, /proc, /sys, /dev
#
# Usage: scripts/node-image.sh [--binary PATH] [--tag NAME] [--no-programs] [-- PODMAN-GLOBAL-ARGS…]
#   --binary PATH   the bulkhead to put in (default: swift build -c release --static-swift-stdlib)
#   --tag NAME      the image's name (default localhost/bulkhead-node:latest)
#   --no-programs   only bulkhead and busybox: the shell-only cells (processes, identity, proc-sys)
#   after --        podman's global options, e.g. --root DIR --runroot DIR --storage-driver vfs
# Prints the image's name on the last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary="" tag=localhost/bulkhead-node:latest programs=1 podman_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --no-programs) programs=0; shift ;;
    --) shift; podman_args=("$@"); break ;;
    *) echo "node-image.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
die() { echo "node-image.sh: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman is not installed (apt-get install podman)"
[ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' || die "/bin/busybox is not a static busybox (apt-get install busybox-static)"
if [ -z "$binary" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib --product bulkhead-cli >&2)
  binary=$(cd "$root" && swift build -c release --static-swift-stdlib --show-bin-path)/bulkhead-cli
fi
[ -x "$binary" ] || die "$binary is not an executable"
# A bulkhead: its --version prints a bare version number.
"$binary" --version 2>/dev/null | grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+' || die "$binary is not a bulkhead (its --version prints no version number)"

context=$(mktemp -d /tmp/bh-node-image.XXXXXX)
trap 'rm -rf "$context"' EXIT
fs=$context/rootfs
mkdir -p "$fs"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,tmp,var/tmp,run,proc,sys,dev}
chmod 1777 "$fs/tmp" "$fs/var/tmp"

# A file of the host at the same path in the image (symlinks resolved, the name kept).
put() { mkdir -p "$fs$(dirname "$1")"; [ -e "$fs$1" ] || cp -L "$1" "$fs$1"; }
# The shared libraries ldd lists for an ELF file, and the loader; nothing for a static one
# (ldd fails: "not a dynamic executable").
libs() {
  { ldd "$1" 2>/dev/null || true; } | awk '/=> \//{print $3} /^[ \t]*\/[^ ]*ld-linux/{print $1}' | while read -r l; do put "$l"; done
}

install -m 0755 "$binary" "$fs/usr/local/bin/bulkhead"
libs "$binary"
# The nft program bulkhead runs for the node bridge every pod is on (docs/network.md), with
# what ldd lists for it.
[ -x /usr/sbin/nft ] || die "/usr/sbin/nft is not installed (apt-get install nftables): pods need it"
put /usr/sbin/nft; libs /usr/sbin/nft
cp /bin/busybox "$fs/bin/busybox"
for a in $(/bin/busybox --list-full); do
  [ -e "$fs/$a" ] || ln -s /bin/busybox "$fs/$a"
done
if [ "$programs" = 1 ]; then
  for p in iperf3 ipcmk ipcrm; do
    path=$(PATH=/usr/bin:/bin:/usr/sbin:/sbin command -v "$p" || true)
    [ -n "$path" ] || { echo "node-image.sh: $p is not installed here: the cells that need it are skipped in the image" >&2; continue; }
    rm -f "$fs$path"; put "$path"; libs "$path"
  done
  # The distribution's python3 (not a user's pyenv): the interpreter, its standard library
  # and the C modules of lib-dynload (ctypes needs libffi), without tests and IDE parts.
  if py=$(readlink -f /usr/bin/python3 2>/dev/null) && [ -x "$py" ]; then
    ver=$(basename "$py")
    rm -f "$fs$py" "$fs/usr/bin/python3"; put "$py"; libs "$py"
    ln -sf "$ver" "$fs/usr/bin/python3"
    mkdir -p "$fs/usr/lib"
    tar -C /usr/lib --exclude="$ver/test" --exclude="$ver/idlelib" --exclude="$ver/tkinter" --exclude="$ver/turtledemo" \
        --exclude="$ver/ensurepip" --exclude="$ver/lib2to3" --exclude="$ver/site-packages" --exclude="$ver/dist-packages" \
        -cf - "$ver" | tar -C "$fs/usr/lib" -xf -
    for so in "$fs/usr/lib/$ver"/lib-dynload/*.so; do libs "${so#"$fs"}"; done
  else
    echo "node-image.sh: /usr/bin/python3 is not installed here: most cells need it and are not observed in the image" >&2
  fi
fi
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$fs/etc/passwd"
printf 'root:x:0:\n' > "$fs/etc/group"
cp "$root/deploy/node/Containerfile" "$context/Containerfile"
podman "${podman_args[@]}" build --pull=never --network none -t "$tag" -f "$context/Containerfile" "$context" >&2
echo "$tag"
