#define _GNU_SOURCE
#include "bh_self_clone.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BH_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

/* Is mount `id` one of this mount namespace's (a line of /proc/self/mountinfo starts with it)?
 * 1 yes, 0 no, -1 unknown (unreadable). Plain reads into a stack buffer, digits parsed across
 * read boundaries. */
static int mount_attached(unsigned long long id) {
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[8192];
    int at_start = 1, in_id = 0, found = 0;
    unsigned long long cur = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) { if (errno == EINTR) continue; close(fd); return -1; }
        if (n == 0) break;
        for (ssize_t i = 0; i < n && !found; i++) {
            char c = buf[i];
            if (at_start) { at_start = 0; in_id = 1; cur = 0; }
            if (c == '\n') { at_start = 1; in_id = 0; continue; }
            if (!in_id) continue;
            if (c >= '0' && c <= '9') {
                if (cur > (~0ULL - 9) / 10) { in_id = 0; continue; }
                cur = cur * 10 + (unsigned long long)(c - '0');
            } else {
                if (c == ' ' && cur == id) found = 1;
                in_id = 0;
            }
        }
        if (found) break;
    }
    close(fd);
    return found;
}

/* Is `fd` (the running binary) already one nobody can write: a memfd sealed against writes, or
 * a file of the overlayfs bh_overlay_exe makes: read-only overlayfs on a mount that no path of
 * this mount namespace names (fsmount, never attached; nothing can remount it). A read-only
 * overlayfs mount that is attached is not enough: it may have a writable upper layer and be
 * made writable again (`mount -o remount,rw`, a `--read-only` container's rootfs), and a
 * descriptor of the binary taken while it was read-only then writes it. */
static int already_sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals >= 0 && (seals & BH_SEALS) == BH_SEALS) return 1;
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0 || (unsigned long)sf.f_type != OVERLAYFS_SUPER_MAGIC || !(sf.f_flags & ST_RDONLY)) return 0;
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID)) return 0;
    return mount_attached(sx.stx_mnt_id) == 0;
}

/* An O_PATH descriptor of the running binary seen through an overlayfs that no path names
 * (fsopen/fsmount, never attached): lower layers only (the binary's directory on top, /sys
 * below as the second layer overlayfs needs), mounted read-only, nodev, nosuid. No copy: the
 * page cache of the binary is shared. -1 when the kernel cannot (no fsopen or overlayfs, a
 * kernel before 6.8 without "lowerdir+", a binary on a filesystem overlayfs refuses): the
 * caller then copies into a sealed memfd. */
static int bh_overlay_exe(int src) {
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 1 || (size_t)n >= sizeof path - 1 || path[0] != '/') return -1;
    path[n] = 0;
    char *slash = strrchr(path, '/');
    char *name = slash + 1;
    if (*name == 0) return -1;
    char dir[PATH_MAX];
    size_t dlen = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, dlen);
    dir[dlen] = 0;
    int ctx = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (ctx < 0) return -1;
    int fd = -1, mnt = -1;
    if (syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "lowerdir+", dir, 0) < 0) goto out;
    if (syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "lowerdir+", "/sys", 0) < 0) goto out;
    (void)syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "xino", "off", 0);
    if (syscall(SYS_fsconfig, ctx, FSCONFIG_CMD_CREATE, 0, 0, 0) < 0) goto out;
    mnt = (int)syscall(SYS_fsmount, ctx, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
    if (mnt < 0) goto out;
    fd = openat(mnt, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) goto out;
    /* The same file as the running one (a name replaced in between is not used): overlayfs
     * keeps the layer's inode number, size and times. The change time too, which no one can set
     * (a planted file of the same size can have any mtime). */
    struct stat a, b;
    if (fstat(src, &a) < 0 || fstat(fd, &b) < 0 || !S_ISREG(b.st_mode) || a.st_ino != b.st_ino || a.st_size != b.st_size ||
        a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec ||
        a.st_ctim.tv_sec != b.st_ctim.tv_sec || a.st_ctim.tv_nsec != b.st_ctim.tv_nsec || !already_sealed(fd)) {
        close(fd);
        fd = -1;
    }
out:
    if (mnt >= 0) close(mnt);
    close(ctx);
    return fd;
}

int bh_reexec_from_sealed_copy(char *const *argv, char *const *envp) {
    int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (src < 0) return errno;
    if (already_sealed(src)) { close(src); return 0; }
    int ofd = bh_overlay_exe(src);
    if (ofd >= 0) {
        close(src);
        syscall(SYS_execveat, ofd, "", argv, envp, AT_EMPTY_PATH);
        int e = errno;
        close(ofd);
        return e;
    }
    struct stat st;
    if (fstat(src, &st) < 0) { int e = errno; close(src); return e; }
    int mfd = memfd_create("bulkhead-runc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0) { int e = errno; close(src); return e; }
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int e = n < 0 ? errno : EIO; close(src); close(mfd); return e; }
    }
    close(src);
    if (fcntl(mfd, F_ADD_SEALS, BH_SEALS) < 0) { int e = errno; close(mfd); return e; }
    syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
    int e = errno;
    close(mfd);
    return e;
}
