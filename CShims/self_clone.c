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

/* Is `fd` (the running binary) already one nobody can write: a memfd sealed against writes, or
 * a file of a read-only overlayfs (only lower layers, mounted read-only: the one bh_overlay_exe
 * makes)? A read-only overlayfs has no way back to a writable file of its layers. */
static int already_sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals >= 0 && (seals & BH_SEALS) == BH_SEALS) return 1;
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == OVERLAYFS_SUPER_MAGIC && (sf.f_flags & ST_RDONLY);
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
     * keeps the layer's size and times. */
    struct stat a, b;
    if (fstat(src, &a) < 0 || fstat(fd, &b) < 0 || !S_ISREG(b.st_mode) || a.st_size != b.st_size ||
        a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec || !already_sealed(fd)) {
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
