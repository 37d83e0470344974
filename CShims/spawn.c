/* The child side of a launch: clone3, the step executor, the sandbox's PID-1 init.
 *
 * Rules for everything below bh_spawn's clone3: raw system calls only (each one is
 * async-signal-safe), no malloc, no stdio, no locks, and every path ends in _exit or execve.
 * The parent process may have had threads (the Swift runtime), so the child owns nothing
 * but this code and the plan it was handed. */
#include "bh_spawn.h"
#include "bh_fd_passing.h"
#include "bh_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/securebits.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(bh_msg) == 16, "bh_msg is a fixed 16-byte record on the pipe");
_Static_assert(sizeof(struct clone_args) >= 88, "clone_args with the cgroup field (Linux 5.7)");
_Static_assert(sizeof(struct sock_filter) == 8, "classic BPF instructions are 8 bytes");

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL /* Linux 5.7 */
#endif
#ifndef MOUNT_ATTR_SIZE_VER0
#define MOUNT_ATTR_SIZE_VER0 32
#endif

/* Signals the init forwards to the workload; the supervisor forwards the same set to init. */
static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define FORWARDED_COUNT (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

/* ---------------------------------------------------------------- small raw helpers */

static void send_msg(int fd, uint32_t kind, int32_t step, int32_t err, int32_t value) {
    bh_msg m = {kind, step, err, value};
    /* A 16-byte write to a pipe is atomic (< PIPE_BUF); retry only on EINTR. */
    while (write(fd, &m, sizeof m) < 0 && errno == EINTR) {}
}

/* Reads exactly len bytes: 0, EPIPE at end of file before len bytes, or read(2)'s errno. */
static int read_exact(int fd, void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EPIPE;
        got += (size_t)n;
    }
    return 0;
}

static void reset_signal_dispositions(void) {
    /* Handlers inherited from the parent's image would run non-async-signal-safe code:
     * every signal goes back to its default action. The kernel's rt_sigaction, not glibc's
     * sigaction, which refuses its two reserved realtime signals (32, 33): a caller that
     * ignores them would otherwise hand SIG_IGN of both to the workload through execve. The
     * kernel's struct (handler, flags, restorer, 64-bit mask), all zero: SIG_DFL. */
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl;
    memset(&dfl, 0, sizeof dfl);
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    }
}

static void noop_handler(int sig) { (void)sig; }

static int cap_last_cap_raw(void) {
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 40; /* CAP_CHECKPOINT_RESTORE, Linux 5.9 */
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 40;
    int v = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
    return v > 0 && v < 64 ? v : 40;
}

int bh_terminal_channel(int *launcher_end, int *sandbox_end) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return errno;
    int fl = fcntl(sv[0], F_GETFL);
    if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) < 0) { int e = errno; close(sv[0]); close(sv[1]); return e; }
    *launcher_end = sv[0];
    *sandbox_end = sv[1];
    return 0;
}

int bh_receive_pty_master(int channel, int *master) {
    *master = -1;
    int got = -1;
    int rc = bh_receive_fd(channel, &got);
    if (rc != 0 || got < 0) return rc;
    int ptn = 0;
    /* TIOCGPTN answers on a pty master only. */
    if (ioctl(got, TIOCGPTN, &ptn) < 0) {
        close(got);
        return EBADMSG;
    }
    *master = got;
    return 0;
}

int bh_become_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? errno : 0; }

int bh_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void supervisor_sigset(sigset_t *set) {
    sigemptyset(set);
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaddset(set, forwarded_signals[i]);
    sigaddset(set, SIGCHLD);
}

int bh_block_supervisor_signals(int *fd) {
    sigset_t set;
    supervisor_sigset(&set);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return errno;
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return errno;
    *fd = sfd;
    return 0;
}

int bh_block_forwardable_signals(int *fd) {
    /* The kernel's signal set (64 bits), not glibc's: sigfillset, sigaddset and sigprocmask
     * leave out glibc's two reserved realtime signals (32, SIGCANCEL; 33, SIGSETXID), whose
     * default action would end the runtime with the caller's terminal raw (a signal 32 from
     * `kill -s 32` is as easy to send as SIGTERM). The runtime is single-threaded here: it
     * neither cancels a thread nor broadcasts a set*id, the two uses glibc has for them. A
     * process it starts afterwards empties its mask (exec_process_main: glibc's SIG_SETMASK
     * with an empty set clears 32 and 33 too). */
    uint64_t set = ~(uint64_t)0;
    set &= ~(UINT64_C(1) << (SIGKILL - 1));
    set &= ~(UINT64_C(1) << (SIGSTOP - 1));
    set &= ~(UINT64_C(1) << (SIGPIPE - 1));
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, sizeof set) != 0) return errno;
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &ign, NULL) != 0) return errno;
    int sfd = (int)syscall(SYS_signalfd4, -1, &set, sizeof set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return errno;
    *fd = sfd;
    return 0;
}

int bh_read_signalfd(int fd, int *signo) {
    struct signalfd_siginfo si;
    *signo = 0;
    ssize_t n = read(fd, &si, sizeof si);
    if (n < 0) return errno == EAGAIN ? 0 : errno;
    if (n == (ssize_t)sizeof si) *signo = (int)si.ssi_signo;
    return 0;
}

/* ---------------------------------------------------------------- the steps */

static int no_symlink(const char *path, int missing_ok) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS;
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0) {
        if (errno == ENOENT && missing_ok) return 0;
        return errno; /* ELOOP: a component is a symlink (CVE-2019-19921 family) */
    }
    close(fd);
    return 0;
}

static int set_mount_attr(const char *path, uint64_t attr_set, int recursive) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attr_set;
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr) < 0)
        return errno;
    return 0;
}

/* A mount target inside the new root, as an O_PATH fd: resolved without following any symlink
 * or magic link, so what was checked is what gets the mount (a writable rootfs cannot swap a
 * directory for a symlink between a check and a mount by path). The first rootlen bytes of
 * path name the new root: the walk below it is confined to it (RESOLVE_IN_ROOT). Stores the
 * fd in *out; 0 or a positive errno (ELOOP: a component is a symlink). */
static int open_mount_target(const char *path, size_t rootlen, int *out) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    /* No O_NOFOLLOW: with it a trailing symlink would be opened itself instead of refused. */
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int dirfd = AT_FDCWD;
    const char *rest = path;
    if (rootlen > 0) {
        char root[4096];
        if (rootlen >= sizeof root || strlen(path) <= rootlen || path[rootlen] != '/') return EINVAL;
        memcpy(root, path, rootlen);
        root[rootlen] = 0;
        dirfd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dirfd < 0) return errno;
        how.resolve |= RESOLVE_IN_ROOT;
        rest = path + rootlen;
    }
    int fd = (int)syscall(SYS_openat2, dirfd, rest, &how, sizeof how);
    int e = errno;
    if (dirfd >= 0) close(dirfd);
    if (fd < 0) return e;
    *out = fd;
    return 0;
}

/* Attaches the detached mount tree mnt onto the object target_fd names (move_mount(2) with
 * both ends as fds: no path is resolved again), then closes mnt. */
static int attach_on_fd(int mnt, int target_fd) {
    int rc = 0;
    if (syscall(SYS_move_mount, mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) rc = errno;
    close(mnt);
    return rc;
}

/* A detached tmpfs (fsopen, fsconfig, fsmount) with root mode `mode`, size `size` and the
 * MOUNT_ATTR_* `attrs` (read-only with MOUNT_ATTR_RDONLY): its fd in *out; 0 or a positive errno. */
static int new_tmpfs(const char *mode, const char *size, unsigned int attrs, int *out) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) return errno;
    int rc = 0;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "tmpfs", 0) < 0 ||
        ((attrs & MOUNT_ATTR_RDONLY) && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0) ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", mode, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) rc = errno;
    if (!rc) {
        int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
        if (mnt < 0) rc = errno;
        else *out = mnt;
    }
    close(fs);
    return rc;
}

static int mask_path(const struct bh_mask_args *m) {
    int fd = -1;
    int rc = open_mount_target(m->path, m->root_len, &fd);
    if (rc) return rc == ENOENT ? 0 : rc;
    struct stat st;
    if (fstat(fd, &st) < 0) rc = errno;
    else if (S_ISDIR(st.st_mode)) {
        /* A read-only, empty tmpfs, onto the fd. */
        int mnt = -1;
        rc = new_tmpfs("0500", "0", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &mnt);
        if (!rc) rc = attach_on_fd(mnt, fd);
    } else {
        /* Anything else gets the null device bound over it (a clone of the sandbox's own). */
        int mnt = (int)syscall(SYS_open_tree, AT_FDCWD, m->null_device, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
        if (mnt < 0) rc = errno;
        else rc = attach_on_fd(mnt, fd);
    }
    close(fd);
    return rc;
}

static int make_read_only(const struct bh_make_read_only_args *r) {
    int fd = -1;
    int rc = open_mount_target(r->path, r->root_len, &fd);
    if (rc) return rc == ENOENT ? 0 : rc;
    /* A recursive clone of the tree at the fd, made read-only while detached, put back on it. */
    int mnt = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
    if (mnt < 0) rc = errno;
    else {
        struct mount_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
            rc = errno;
            close(mnt);
        } else rc = attach_on_fd(mnt, fd);
    }
    close(fd);
    return rc;
}

/* BH_OP_MAKE_DIRECTORY / BH_OP_CREATE_FILE inside the new root (rootlen = the root prefix's length): the
 * parent is opened as a mount target is (no symlink, no magic link, inside the root) and the
 * entry made relative to it with mkdirat, or mknodat for an empty regular file (no open: a FIFO
 * planted there cannot block). EEXIST is fine: the mount that follows is attached through an
 * fd and refuses a symlink. */
static int make_in_root(const char *path, size_t rootlen, int directory, mode_t mode) {
    char parent[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL || (size_t)(slash - path) < rootlen || slash[1] == 0) return EINVAL;
    size_t plen = (size_t)(slash - path);
    if (plen >= sizeof parent) return ENAMETOOLONG;
    memcpy(parent, path, plen);
    parent[plen] = 0;
    int pfd = -1, rc = 0;
    if (plen == rootlen) {
        pfd = open(parent, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0) return errno;
    } else if ((rc = open_mount_target(parent, rootlen, &pfd)) != 0) {
        return rc;
    }
    if (directory) {
        if (mkdirat(pfd, slash + 1, mode) < 0 && errno != EEXIST) rc = errno;
    } else if (mknodat(pfd, slash + 1, S_IFREG | 0644, 0) < 0 && errno != EEXIST) {
        rc = errno;
    }
    close(pfd);
    return rc;
}

/* ---------------------------------------------------------------- mount points that need not exist */

/* One record of getdents64(2). */
struct bh_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* "0755" for a mode, into buf (at least 6 bytes): fsconfig takes the tmpfs root's mode as text. */
static void octal_mode(mode_t mode, char *buf) {
    buf[0] = '0';
    buf[1] = (char)('0' + ((mode >> 9) & 7));
    buf[2] = (char)('0' + ((mode >> 6) & 7));
    buf[3] = (char)('0' + ((mode >> 3) & 7));
    buf[4] = (char)('0' + (mode & 7));
    buf[5] = 0;
}

/* Covers the directory `lower` (an O_PATH fd, resolved inside the root) with a new tmpfs that
 * shows what it showed: each entry gets an empty stand-in (a directory, or a regular file for
 * anything else) with a recursive clone of the original bound onto it, taken relative to the
 * lower directory's fd (never by path); a symlink is copied as a symlink, never followed.
 * The tmpfs's root grants no sandbox id more than the directory did (cover_owner): it belongs to
 * the directory's owner and group when the sandbox maps them; an owner or group it does not map
 * (shown as the overflow id, 65534, which the sandbox may map to a user of its own) becomes the
 * sandbox's root with the directory's bits for others in its place. Stores the
 * tmpfs's root (attached over `lower`, still writable) in *out; the caller makes its entry and
 * then makes it read-only. 0 or a positive errno. */
/* The kernel's overflow uid and gid (/proc/sys/kernel/overflow{u,g}id): what an unmapped id reads as. */
#define BH_OVERFLOW_ID 65534u

/* Owner, group and mode for a copy of something the sandbox sees as `st`, such that no sandbox id
 * gets more through the copy than through the original (the copy is made by the sandbox's root,
 * which would otherwise own it: a 0700 directory of the sandbox's uid 1000 became its root's,
 * readable by a root without capabilities and closed to uid 1000). A class whose id the sandbox
 * does not map (the overflow id) gets the bits for others, and the copy goes to root there. */
static void cover_owner(const struct stat *st, uid_t *uid, gid_t *gid, mode_t *mode) {
    mode_t m = st->st_mode & 07777, other = m & 07;
    *uid = st->st_uid;
    *gid = st->st_gid;
    if (st->st_uid == BH_OVERFLOW_ID) { *uid = 0; m = (m & ~(mode_t)0700) | (other << 6); }
    if (st->st_gid == BH_OVERFLOW_ID) { *gid = 0; m = (m & ~(mode_t)0070) | (other << 3); }
    *mode = m;
}

static int overlay_directory(int lower, int *out) {
    struct stat st;
    if (fstat(lower, &st) < 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    /* Opened before the tmpfs covers it: a lookup from this fd starts in the lower directory. */
    int dir = openat(lower, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return errno;
    int rc = 0, mnt = -1;
    char mode[6];
    uid_t uid;
    gid_t gid;
    mode_t bits;
    cover_owner(&st, &uid, &gid, &bits);
    octal_mode(bits, mode);
    /* Writable until the caller has made its entry; 8m holds the stand-ins and long symlinks. */
    rc = new_tmpfs(mode, "8m", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, &mnt);
    if (!rc && (uid != 0 || gid != 0) && fchownat(mnt, "", uid, gid, AT_EMPTY_PATH) < 0) rc = errno;
    if (!rc && syscall(SYS_move_mount, mnt, "", lower, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) rc = errno;
    char buf[4096] __attribute__((aligned(8)));
    char link[4096];
    while (!rc) {
        long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n < 0) { rc = errno; break; }
        if (n == 0) break;
        for (long off = 0; off < n && !rc;) {
            struct bh_dirent64 *d = (struct bh_dirent64 *)(buf + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
            struct stat es;
            if (fstatat(dir, name, &es, AT_SYMLINK_NOFOLLOW) < 0) { rc = errno; break; }
            if (S_ISLNK(es.st_mode)) {
                ssize_t len = readlinkat(dir, name, link, sizeof link - 1);
                if (len < 0) { rc = errno; break; }
                link[len] = 0;
                if (symlinkat(link, mnt, name) < 0) rc = errno;
                /* The link's owner as well (fs.protected_symlinks compares it with the directory's). */
                else {
                    uid_t lu;
                    gid_t lg;
                    mode_t lm;
                    cover_owner(&es, &lu, &lg, &lm);
                    if ((lu != 0 || lg != 0) && fchownat(mnt, name, lu, lg, AT_SYMLINK_NOFOLLOW) < 0) rc = errno;
                }
                continue;
            }
            if (S_ISDIR(es.st_mode) ? mkdirat(mnt, name, 0755) < 0 : mknodat(mnt, name, S_IFREG | 0600, 0) < 0) { rc = errno; break; }
            int stand_in = openat(mnt, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (stand_in < 0) { rc = errno; break; }
            int clone = (int)syscall(SYS_open_tree, dir, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
            if (clone < 0) rc = errno;
            else rc = attach_on_fd(clone, stand_in);
            close(stand_in);
        }
    }
    close(dir);
    if (rc) {
        if (mnt >= 0) close(mnt);
        return rc;
    }
    *out = mnt;
    return 0;
}

/* BH_OP_MAKE_MOUNT_POINT (bh_spawn.h): walks the target one component at a time from the root's
 * fd, each opened relative to the one before with no symlink and no magic link, and makes what is
 * missing there; a parent that cannot get a new entry is covered by overlay_directory. */
static int make_mount_point(const struct bh_make_mount_point_args *a) {
    const char *path = a->path;
    size_t rootlen = a->root_len;
    char root[4096];
    if (path == NULL || rootlen == 0 || rootlen >= sizeof root || strlen(path) <= rootlen || path[rootlen] != '/') return EINVAL;
    memcpy(root, path, rootlen);
    root[rootlen] = 0;
    int cur = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cur < 0) return errno;
    struct open_how how;
    memset(&how, 0, sizeof how);
    /* No O_NOFOLLOW: with it a symlink would be opened itself instead of refused (ELOOP). */
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int overlay = -1, rc = 0;
    const char *p = path + rootlen;
    char name[256];
    for (;;) {
        while (*p == '/') p++;
        if (*p == 0) break;
        size_t len = 0;
        while (p[len] && p[len] != '/') len++;
        if (len >= sizeof name) { rc = ENAMETOOLONG; break; }
        memcpy(name, p, len);
        name[len] = 0;
        p += len;
        const char *rest = p;
        while (*rest == '/') rest++;
        int last = *rest == 0;
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) { rc = EINVAL; break; }
        int directory = !last || a->directory;
        int next = (int)syscall(SYS_openat2, cur, name, &how, sizeof how);
        if (next < 0 && errno == ENOENT) {
            /* Missing: made in the parent, or, where the parent cannot get it, in a tmpfs copy of
             * the parent (only the first missing component can need one: the rest are made in it). */
            int made = directory ? mkdirat(cur, name, 0755) : mknodat(cur, name, S_IFREG | 0644, 0);
            if (made < 0 && (errno == EROFS || errno == EACCES || errno == EPERM) && overlay < 0) {
                int mnt = -1;
                if ((rc = overlay_directory(cur, &mnt)) != 0) break;
                close(cur);
                cur = mnt;
                overlay = fcntl(mnt, F_DUPFD_CLOEXEC, 0);
                if (overlay < 0) { rc = errno; break; }
                made = directory ? mkdirat(cur, name, 0755) : mknodat(cur, name, S_IFREG | 0644, 0);
            }
            if (made < 0 && errno != EEXIST) { rc = errno; break; }
            next = (int)syscall(SYS_openat2, cur, name, &how, sizeof how);
        }
        if (next < 0) { rc = errno; break; } /* ELOOP: a symlink, never followed */
        struct stat st;
        if (fstat(next, &st) < 0) rc = errno;
        else if (directory && !S_ISDIR(st.st_mode)) rc = ENOTDIR;
        else if (!directory && S_ISDIR(st.st_mode)) rc = EISDIR;
        close(cur);
        cur = next;
        if (rc) break;
    }
    close(cur);
    if (overlay >= 0) {
        /* The tmpfs copy gets no other entry: read-only (its bound-back entries keep their own). */
        struct mount_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (syscall(SYS_mount_setattr, overlay, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 && !rc) rc = errno;
        close(overlay);
    }
    return rc;
}

/* BH_OP_OPEN_TERMINAL (bh_spawn.h): a pty of the sandbox's own devpts, so that the workload's
 * terminal is /dev/pts/N there (ttyname works); the master goes to the launcher, which relays. */
static int open_terminal(const struct bh_open_terminal_args *t) {
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return errno;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDWR | O_NOCTTY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int m = (int)syscall(SYS_openat2, root, "dev/pts/ptmx", &how, sizeof how);
    int e = errno;
    close(root);
    if (m < 0) return e;
    int rc = 0, unlock = 0, sl = -1;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0) rc = errno;
    /* TIOCGPTPEER opens the slave from the master itself, without a path lookup. */
    else if ((sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) rc = errno;
    /* The workload's own terminal, as a login gives it (its ids are mapped: the planner checks). */
    else if (fchown(sl, (uid_t)t->uid, (gid_t)t->gid) < 0) rc = errno;
    else {
        rc = bh_send_fd(t->fd, m);
        /* The slave takes the channel's fd number (closing the channel): BH_OP_ATTACH_TERMINAL's fd. */
        if (rc == 0 && dup2(sl, t->fd) < 0) rc = errno;
    }
    if (sl >= 0) close(sl);
    close(m);
    return rc;
}

/* MS_* flags a new mount can carry, as MOUNT_ATTR_* for fsmount/mount_setattr. */
static uint64_t attrs_of(unsigned long flags) {
    uint64_t a = 0;
    if (flags & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
    if (flags & MS_NODEV) a |= MOUNT_ATTR_NODEV;
    if (flags & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
    return a;
}

/* fsconfig(2) for each "key=value" or "flag" of a mount(2) data string. */
static int configure_fs(int fs, const char *data) {
    if (data == NULL) return 0;
    char buf[512];
    size_t len = strlen(data);
    if (len >= sizeof buf) return E2BIG;
    memcpy(buf, data, len + 1);
    char *p = buf;
    while (*p) {
        char *end = p;
        while (*end && *end != ',') end++;
        int last = *end == 0;
        *end = 0;
        if (*p) {
            char *eq = p;
            while (*eq && *eq != '=') eq++;
            long r;
            if (*eq) { *eq = 0; r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, p, eq + 1, 0); }
            else r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, p, NULL, 0);
            if (r < 0) return errno;
        }
        if (last) break;
        p = end + 1;
    }
    return 0;
}

/* BH_OP_MOUNT on a target inside the new root (root_len > 0): the target is opened as
 * BH_OP_MASK's is, the new mount is made detached (open_tree for a bind, fsopen,
 * fsconfig and fsmount for a filesystem) and attached to the target's fd with move_mount. No
 * path is resolved twice, so the symlink check that precedes the step cannot be raced. */
static int mount_on_fd(const struct bh_mount_args *m, int skip_missing) {
    int tfd = -1, mnt = -1;
    int rc = open_mount_target(m->target, m->root_len, &tfd);
    if (rc) return (rc == ENOENT && skip_missing) ? 0 : rc;
    unsigned long flags = (unsigned long)m->flags;
    uint64_t attr = attrs_of(flags);
    if (flags & MS_BIND) {
        int rec = (flags & MS_REC) != 0;
        /* The source was resolved on the host (every link root trusts followed) before the
         * plan, and its directories are root's or the caller's; its last component may be
         * anyone's (a pod's volume), so a link there was put there since by its owner: refused,
         * not followed (the link itself is what open_tree takes with AT_SYMLINK_NOFOLLOW). */
        struct stat st;
        mnt = (int)syscall(SYS_open_tree, AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW | (rec ? AT_RECURSIVE : 0));
        if (mnt < 0) rc = errno;
        else if (fstat(mnt, &st) < 0) rc = errno;
        else if (S_ISLNK(st.st_mode)) rc = ELOOP;
        else if (attr) {
            struct mount_attr ma;
            memset(&ma, 0, sizeof ma);
            ma.attr_set = attr;
            if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &ma, sizeof ma) < 0) rc = errno;
        }
    } else if (m->fstype == NULL) {
        rc = EINVAL;
    } else {
        int fs = (int)syscall(SYS_fsopen, m->fstype, FSOPEN_CLOEXEC);
        if (fs < 0) rc = errno;
        else {
            if (m->source && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", m->source, 0) < 0) rc = errno;
            if (!rc && (flags & MS_RDONLY) && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0) rc = errno;
            if (!rc) rc = configure_fs(fs, m->data);
            if (!rc && syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) rc = errno;
            if (!rc) {
                mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, (unsigned int)attr);
                if (mnt < 0) rc = errno;
            }
            close(fs);
        }
    }
    if (rc) {
        if (mnt >= 0) close(mnt);
    } else rc = attach_on_fd(mnt, tfd);
    close(tfd);
    return rc;
}

static int loopback_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = 0;
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) rc = errno;
    else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) rc = errno;
    }
    close(s);
    return rc;
}

static int drop_bounding_set(uint64_t keep) {
    int last = cap_last_cap_raw();
    for (int cap = 0; cap <= last; cap++) {
        if (keep & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return errno;
    }
    return 0;
}

static int set_caps(uint64_t eff, uint64_t prm, uint64_t inh) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)eff;
    data[1].effective = (uint32_t)(eff >> 32);
    data[0].permitted = (uint32_t)prm;
    data[1].permitted = (uint32_t)(prm >> 32);
    data[0].inheritable = (uint32_t)inh;
    data[1].inheritable = (uint32_t)(inh >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0) return errno;
    /* Ambient capabilities would survive execve for a non-root uid: none are granted. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return errno;
    return 0;
}

/* Closes (not marks) every fd except the keep[n] listed ones, without allocating: the list is
 * sorted in place (it lives on the caller's stack) and close_range(2) closes each gap. */
static int close_all_except(int *keep, uint32_t n) {
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) { int t = keep[j]; keep[j] = keep[j - 1]; keep[j - 1] = t; }
    unsigned int next = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned int)keep[i] < next) continue; /* unused slot or duplicate */
        if ((unsigned int)keep[i] > next && syscall(SYS_close_range, next, (unsigned int)keep[i] - 1, 0U) < 0) return errno;
        next = (unsigned int)keep[i] + 1;
    }
    if (syscall(SYS_close_range, next, ~0U, 0U) < 0) return errno;
    return 0;
}

/* The most fds a sandbox keeps across its init: 0-2, the message pipe and sync channel, a tty
 * and the --preserve-fd ones (ChildSpawner refuses more). */
#define BH_KEEP_MAX 128

/* The workload's exec pipe (the workload's own copy of this variable): close-on-exec, it
 * reports a failed step and must survive BH_OP_CLOSE_STRAY_FILE_DESCRIPTORS. */
static int workload_exec_fd = -1;
/* A pooled launch: where the seccomp channel is after the request's fds were installed. */
static int pool_notify_channel = -1;

/* Whether the plan has a notifying filter loaded by a step after the first `op`: the seccomp
 * channel is open until that load. A filter loaded earlier (early seccomp, or a pooled
 * sandbox's filter loaded by its init before the request) has handed its listener over and
 * closed the channel: its number is then free (or another fd's, the exec pipe's) and is neither
 * kept, moved nor closed again. A function of the plan, not a variable: a pooled workload
 * shares its init's memory until its execve (start_workload). */
static int notify_load_after(const bh_spawn_config *cfg, uint32_t op) {
    if (cfg->seccomp_notify == NULL) return 0;
    int seen = 0;
    for (uint32_t i = 0; i < cfg->step_count; i++) {
        if (cfg->steps[i].op == op) seen = 1;
        else if (seen && cfg->steps[i].op == BH_OP_LOAD_SECCOMP) return 1;
    }
    return 0;
}

/* The channel is still to be used after the fd hygiene (kept, or moved out of the request's
 * fds' way). */
static int notify_channel_pending(const bh_spawn_config *cfg) { return notify_load_after(cfg, BH_OP_CLOSE_STRAY_FILE_DESCRIPTORS); }

/* The workload loads the filter: the init closes its copy of the channel once it has forked. */
static int notify_channel_in_init(const bh_spawn_config *cfg) { return notify_load_after(cfg, BH_OP_FORK_WORKLOAD); }

static int close_fds(const bh_spawn_config *cfg) {
    /* Only 0, 1, 2 and the fds the user asked to pass reach the workload (CVE-2024-21626: an
     * inherited directory fd is a way out through /proc/self/fd/N). Closed, not only marked
     * close-on-exec: the steps before execve (chdir) must not reach them either. */
    int keep[BH_KEEP_MAX];
    uint32_t n = 0;
    if (bh_pool_active()) {
        /* A pooled launch: the request's fds become 0 .. count-1 (the exec pipe sits above
         * BH_POOL_MAX_FDS already; the seccomp channel moves if it is in the way). */
        int pending = notify_channel_pending(cfg);
        if (pending) pool_notify_channel = cfg->seccomp_notify->channel;
        int *movable[1] = {&pool_notify_channel};
        uint32_t installed = 0;
        int rc = bh_pool_install_fds(movable, pending ? 1 : 0, &installed);
        if (rc) return rc;
        for (uint32_t i = 0; i < installed; i++) keep[n++] = (int)i;
        keep[n++] = workload_exec_fd;
        if (pending) keep[n++] = pool_notify_channel;
        return close_all_except(keep, n);
    }
    keep[n++] = 0; keep[n++] = 1; keep[n++] = 2;
    keep[n++] = workload_exec_fd;
    if (notify_channel_pending(cfg)) keep[n++] = cfg->seccomp_notify->channel; /* closed at BH_OP_LOAD_SECCOMP */
    if (cfg->preserve_fd_count > BH_KEEP_MAX - n) return EMFILE;
    for (uint32_t i = 0; i < cfg->preserve_fd_count; i++) keep[n++] = cfg->preserve_fds[i];
    int rc = close_all_except(keep, n);
    if (rc) return rc;
    for (uint32_t i = 0; i < cfg->preserve_fd_count; i++) {
        int fd = cfg->preserve_fds[i];
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) return errno;
    }
    return 0;
}

/* The init's first action: close every fd it neither needs nor passes on (the launcher's
 * cgroup directory, signalfd, pidfds, a pod's other pipes ...), before any step runs. Kept:
 * 0-2, its own message pipe and sync channel, the
 * pty slave of BH_OP_ATTACH_TERMINAL and the --preserve-fd fds. */
static int init_close_inherited(const bh_spawn_config *cfg, int msg_fd, int sync_fd, int extra_fd) {
    int keep[BH_KEEP_MAX];
    uint32_t n = 0;
    keep[n++] = 0; keep[n++] = 1; keep[n++] = 2;
    keep[n++] = msg_fd; keep[n++] = sync_fd; keep[n++] = extra_fd; /* -1: an unused slot */
    if (cfg->seccomp_notify != NULL) keep[n++] = cfg->seccomp_notify->channel; /* for the workload only */
    for (uint32_t i = 0; i < cfg->step_count; i++)
        if (cfg->steps[i].op == BH_OP_ATTACH_TERMINAL) { keep[n++] = cfg->steps[i].args.attach_terminal.fd; break; }
    for (uint32_t i = 0; i < cfg->step_count; i++)
        if (cfg->steps[i].op == BH_OP_WAIT_EXEC_FIFO) { keep[n++] = cfg->steps[i].args.wait_exec_fifo.fd; break; }
    for (uint32_t i = 0; i < cfg->step_count; i++)
        if (cfg->steps[i].op == BH_OP_WAIT_POOL_REQUEST) { keep[n++] = cfg->steps[i].args.wait_pool_request.fd; break; }
    /* OCI hooks run by the init: their state memfds. */
    for (uint32_t i = 0; i < cfg->step_count; i++) {
        if (cfg->steps[i].op != BH_OP_RUN_HOOK) continue;
        if (n > BH_KEEP_MAX - 1) return EMFILE;
        keep[n++] = cfg->steps[i].args.run_hook.state_fd;
    }
    if (cfg->preserve_fd_count > BH_KEEP_MAX - n) return EMFILE;
    for (uint32_t i = 0; i < cfg->preserve_fd_count; i++) keep[n++] = cfg->preserve_fds[i];
    return close_all_except(keep, n);
}

/* The workload's working directory, resolved inside the sandbox's root with no magic link
 * (a /proc/self/fd/N path, or a rootfs symlink to one, would lead out: CVE-2024-21626), then
 * checked to be inside the root, as runc does since its fix: getcwd(2) of a directory the
 * root cannot reach starts with "(unreachable)". */
static int enter_workdir(const char *path) {
    if (bh_pool_active() && bh_pool_cwd() != NULL) path = bh_pool_cwd(); /* the request's, resolved the same way */
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return errno;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
    int e = errno;
    close(root);
    if (fd < 0) return e;
    int rc = fchdir(fd) < 0 ? errno : 0;
    close(fd);
    if (rc) return rc;
    char cwd[4096];
    if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0) return errno;
    return cwd[0] == '/' ? 0 : EXDEV;
}

/* BH_OP_JOIN_CGROUPS. The launcher creates the v1 leaves after clone3, while the kernel
 * builds the namespaces and this init mounts; then it sends one byte on the sync channel (a
 * unix socket) carrying the leaves' `tasks` files (SCM_RIGHTS), opened with its credentials,
 * and only once every leaf exists with its limits. The init waits here for that message, so it
 * forks nothing and the workload runs nothing before it is in every leaf. "0" names the calling
 * thread; the init is single-threaded, so the whole process moves, and everything it forks
 * later is born inside. Fail closed: EOF (the launcher failed and is killing us), a message
 * with more files than announced, or a failed write stops the launch. */
static int join_cgroups(const bh_spawn_config *cfg, int sync_fd) {
    uint32_t want = cfg->cgroup_join_count;
    if (want == 0) return 0;
    if (want > BH_CGROUP_JOIN_MAX || sync_fd < 0) return EINVAL;
    char byte = 0;
    int32_t fds[BH_CGROUP_JOIN_MAX];
    uint32_t got = 0;
    /* More files than announced: EBADMSG (bh_receive_fds closes them). Fewer only when a
     * best-effort launch lost a v1 leaf (the report lists its limits as not enforced). */
    int rc = bh_receive_fds(sync_fd, 0, &byte, fds, want, &got);
    if (rc != 0) return rc; /* EPIPE: the launcher went away */
    if (byte != 1) rc = EBADMSG;
    for (uint32_t i = 0; i < got; i++) {
        if (rc == 0) {
            ssize_t w;
            while ((w = write(fds[i], "0", 1)) < 0 && errno == EINTR) {}
            if (w < 0) rc = errno;
        }
        close(fds[i]);
    }
    return rc;
}

/* One hierarchy name of BH_OP_MOUNT_CGROUPS: lower-case letters, digits, '_', ',' and '='
 * (v1 controllers, "name=systemd"), 1..63 bytes; nothing that could name another path. */
static int cgroup_name_ok(const char *n, size_t len) {
    if (len == 0 || len > 63) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ',' || c == '=')) return 0;
    }
    return 1;
}

static int mount_cgroup_tree(const char *names, unsigned long flags) {
    static const char base[] = "/sys/fs/cgroup";
    /* The final root's /sys/fs/cgroup (the container's own sysfs), reached without a symlink.
     * Nothing of the container runs yet: what was checked is what gets the mounts. */
    int rc = no_symlink(base, 0);
    if (rc) return rc;
    if (strcmp(names, "cgroup2") == 0)
        return mount("cgroup2", base, "cgroup2", flags, NULL) < 0 ? errno : 0;
    if (mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") < 0) return errno;
    const char *p = names;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        size_t len = 0;
        while (p[len] && p[len] != ' ') len++;
        if (!cgroup_name_ok(p, len)) return EINVAL;
        char name[64], path[sizeof base + 64];
        memcpy(name, p, len);
        name[len] = 0;
        memcpy(path, base, sizeof base - 1);
        path[sizeof base - 1] = '/';
        memcpy(path + sizeof base, name, len + 1);
        if (mkdir(path, 0555) < 0) return errno;
        int m = strcmp(name, "unified") == 0
            ? mount("cgroup2", path, "cgroup2", flags, NULL)
            : mount("cgroup", path, "cgroup", flags, name);
        if (m < 0) return errno;
        if (memchr(name, ',', len)) {
            /* A co-mounted hierarchy ("cpu,cpuacct"): a link per controller, as runc makes. */
            size_t start = 0;
            for (size_t i = 0; i <= len; i++) {
                if (i < len && name[i] != ',') continue;
                char link[sizeof base + 64];
                memcpy(link, base, sizeof base - 1);
                link[sizeof base - 1] = '/';
                memcpy(link + sizeof base, name + start, i - start);
                link[sizeof base + i - start] = 0;
                if (symlink(name, link) < 0 && errno != EEXIST) return errno;
                start = i + 1;
            }
        }
        p += len;
    }
    /* Nothing can be added beside the hierarchies. */
    if (mount(NULL, base, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) return errno;
    return 0;
}

/* BH_OP_MOUNT_CGROUPS (bh_spawn.h). A cgroup file system mounted in a cgroup namespace has the
 * namespace's root as its root: the init's own cgroup, never the host's root. Without a cgroup
 * namespace of the container's own, one is unshared for the mounts and left again (setns back
 * to the one the init was in), as runc's bind mounts of the container's cgroup directories. */
static int mount_cgroups(const struct bh_mount_cgroups_args *a) {
    unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (a->read_only ? MS_RDONLY : 0);
    if (!a->temporary_namespace) return mount_cgroup_tree(a->names, flags);
    int old = open("/proc/self/ns/cgroup", O_RDONLY | O_CLOEXEC); /* the sandbox's own /proc: a magic link */
    if (old < 0) return errno;
    if (unshare(CLONE_NEWCGROUP) < 0) {
        int e = errno;
        close(old);
        return e;
    }
    int rc = mount_cgroup_tree(a->names, flags);
    /* Fail closed: an init left in a cgroup namespace the config did not ask for stops here. */
    if (setns(old, CLONE_NEWCGROUP) < 0 && rc == 0) rc = errno;
    close(old);
    return rc;
}

static int load_seccomp(const bh_spawn_config *cfg) {
    if (cfg->seccomp_prog == NULL || cfg->seccomp_len == 0) return 0;
    if (cfg->seccomp_notify != NULL && bh_pool_active()) {
        /* The workload's filter: the channel where its fd hygiene moved it. The init's (early
         * seccomp, before the fork and the request's fds are installed): where the plan put it. */
        bh_seccomp_notify_config moved = *cfg->seccomp_notify;
        if (pool_notify_channel >= 0) moved.channel = pool_notify_channel;
        return bh_seccomp_load_notifying(cfg->seccomp_prog, cfg->seccomp_len, (uint32_t)cfg->seccomp_flags, &moved);
    }
    if (cfg->seccomp_notify != NULL)
        return bh_seccomp_load_notifying(cfg->seccomp_prog, cfg->seccomp_len, (uint32_t)cfg->seccomp_flags, cfg->seccomp_notify);
    struct sock_fprog prog;
    prog.len = (unsigned short)(cfg->seccomp_len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)(uintptr_t)cfg->seccomp_prog;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned int)cfg->seccomp_flags, &prog) < 0) return errno;
    return 0;
}

static int exec_candidates(const bh_spawn_config *cfg) {
    /* The PATH search of execvp(3), on paths the planner built: ENOENT and friends move on
     * to the next candidate; EACCES is remembered as the answer if nothing else runs. */
    int saw_eacces = 0, last = ENOENT;
    uint32_t count = cfg->exec_path_count;
    const char *const *paths = cfg->exec_paths;
    char *const *argv = cfg->argv, *const *envp = cfg->envp;
    if (bh_pool_active()) { paths = bh_pool_exec_paths(&count); argv = bh_pool_argv(); envp = bh_pool_envp(); }
    for (uint32_t i = 0; i < count; i++) {
        execve(paths[i], argv, envp);
        last = errno;
        switch (last) {
        case EACCES: saw_eacces = 1; /* fallthrough */
        case ENOENT: case ENOTDIR: case ELOOP: case ENAMETOOLONG: case ENODEV: case ETIMEDOUT: case ESTALE:
            continue;
        default:
            return last;
        }
    }
    return saw_eacces ? EACCES : last;
}

/* ---------------------------------------------------------------- Landlock (landlock(7))
 * The uapi structs are spelled out here so the shim builds against older kernel headers;
 * their layout is the kernel's ABI. */
struct bh_landlock_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
};
struct bh_landlock_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct bh_landlock_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};
_Static_assert(sizeof(struct bh_landlock_path_beneath_attr) == 12, "landlock_path_beneath_attr is packed");
#define BH_LANDLOCK_RULE_PATH_BENEATH 1
#define BH_LANDLOCK_RULE_NET_PORT 2
#define BH_SYS_landlock_create_ruleset 444
#define BH_SYS_landlock_add_rule 445
#define BH_SYS_landlock_restrict_self 446
/* Rights that apply to a file (not a directory): execute, write, read, truncate, ioctl_dev. */
#define BH_LANDLOCK_FILE_RIGHTS ((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 14) | (1ULL << 15))

static int landlock_fd = -1; /* the child's own copy of this variable: one ruleset per launch */

static int landlock_create_ruleset(uint64_t fs, uint64_t net) {
    struct bh_landlock_ruleset_attr attr = {fs, net};
    /* Without network rights, pass the ABI 1 size so kernels before 6.7 accept it. */
    size_t size = net ? sizeof attr : sizeof attr.handled_access_fs;
    int fd = (int)syscall(BH_SYS_landlock_create_ruleset, &attr, size, 0);
    if (fd < 0) return errno;
    landlock_fd = fd;
    return 0;
}

static int landlock_allow_path(const char *path, uint64_t access) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    if (fstat(fd, &st) < 0) { int e = errno; close(fd); return e; }
    struct bh_landlock_path_beneath_attr rule = {S_ISDIR(st.st_mode) ? access : (access & BH_LANDLOCK_FILE_RIGHTS), fd};
    int rc = (int)syscall(BH_SYS_landlock_add_rule, landlock_fd, BH_LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    int e = errno;
    close(fd);
    return rc < 0 ? e : 0;
}

static int landlock_allow_port(uint64_t access, uint64_t port) {
    struct bh_landlock_net_port_attr rule = {access, port};
    return syscall(BH_SYS_landlock_add_rule, landlock_fd, BH_LANDLOCK_RULE_NET_PORT, &rule, 0) < 0 ? errno : 0;
}

static int landlock_restrict_self(void) {
    int rc = (int)syscall(BH_SYS_landlock_restrict_self, landlock_fd, 0);
    int e = errno;
    close(landlock_fd);
    landlock_fd = -1;
    return rc < 0 ? e : 0;
}

/* A change of euid/egid/fsuid/fsgid clears the parent-death signal and resets dumpable
 * (kernel/cred.c, commit_creds). Re-arm both, then make sure the launcher did not die in
 * between: it holds the write end of sync_fd open for the sandbox's lifetime, so POLLHUP on
 * our read end means it is gone (and PDEATHSIG, armed before the check, cannot be missed). */
/* OCI exec's process (this process's own copy): its parent, the joiner, exits once it has
 * executed, so a credential change arms no parent-death signal (it would kill the exec'd
 * command); everything else is as for a workload. */
static int exec_mode = 0;

static int rearm_after_credential_change(int sync_fd) {
    if (!exec_mode && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return errno;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return errno;
    if (sync_fd >= 0) {
        struct pollfd p = {sync_fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))) return EPIPE;
    }
    return 0;
}

/* ---------------------------------------------------------------- OCI hooks */

static int64_t monotonic_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int bh_state_memfd(void) {
    int fd = memfd_create("bulkhead-oci-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    return fd < 0 ? -errno : fd;
}

int bh_state_memfd_fill(int fd, const void *data, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = pwrite(fd, (const char *)data + off, len - off, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        off += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) return errno;
    return 0;
}

int bh_run_hook(const struct bh_run_hook_args *h, int *wait_status) {
    *wait_status = 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return errno;
    int pidfd = -1;
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    ca.exit_signal = SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) { int e = errno; close(report[0]); close(report[1]); return e; }
    if (pid == 0) {
        close(report[0]);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int e = 0;
        if (lseek(h->state_fd, 0, SEEK_SET) < 0 || dup2(h->state_fd, 0) < 0) e = errno;
        if (e == 0 && h->root != NULL && (chroot(h->root) < 0 || chdir("/") < 0)) e = errno;
        if (e == 0) {
            execve(h->path, h->argv, h->envp);
            e = errno;
        }
        while (write(report[1], &e, sizeof e) < 0 && errno == EINTR) {}
        _exit(127);
    }
    close(report[1]);
    int exec_errno = 0;
    ssize_t n;
    while ((n = read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
    close(report[0]);
    if (n != (ssize_t)sizeof exec_errno) exec_errno = 0;
    int timed_out = 0;
    if (exec_errno == 0 && h->timeout_ms > 0) {
        int64_t deadline = monotonic_ms() + h->timeout_ms;
        for (;;) {
            int64_t left = deadline - monotonic_ms();
            if (left <= 0) { timed_out = 1; break; }
            struct pollfd p = {pidfd, POLLIN, 0};
            int r = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
            if (r > 0) break;
            if (r < 0 && errno != EINTR) { timed_out = 1; break; }
        }
        if (timed_out) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid((idtype_t)3 /* P_PIDFD */, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR) {}
    close(pidfd);
    *wait_status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : (si.si_status & 0x7f);
    if (exec_errno != 0) return exec_errno;
    if (timed_out) return ETIMEDOUT;
    if (si.si_code == CLD_EXITED && si.si_status == 0) return 0;
    return ECHILD;
}

/* The init's message pipe (the init's own copy): BH_OP_WAIT_EXEC_FIFO reports on it and then
 * points it at /dev/null. */
static int init_msg_fd = -1;

/* BH_OP_WAIT_EXEC_FIFO (bh_spawn.h). Async-signal-safe: no allocation, no stdio. */
static int wait_exec_fifo(int fifo) {
    if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) return errno;
    char path[32] = "/proc/self/fd/";
    char digits[12];
    int nd = 0;
    unsigned int v = (unsigned int)fifo;
    do { digits[nd++] = (char)('0' + v % 10); v /= 10; } while (v > 0 && nd < 11);
    size_t at = strlen(path);
    while (nd > 0) path[at++] = digits[--nd];
    path[at] = 0;
    send_msg(init_msg_fd, BH_MSG_CREATED, -1, 0, 0);
    int w;
    while ((w = open(path, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR) {}
    if (w < 0) return errno;
    char zero = '0';
    ssize_t n;
    while ((n = write(w, &zero, 1)) < 0 && errno == EINTR) {}
    int e = n < 0 ? errno : 0;
    close(fifo);
    if (e) { close(w); return e; }
    /* The creating launcher has exited; `start` holds the fifo's read end until it reads end of
     * file. The message fd becomes the fifo's write end (close-on-exec): a step that fails from
     * here on (startContainer hooks, working directory, Landlock, seccomp, execve) is reported
     * to `start` as a bh_msg after the byte, and execve closes it, which `start` reads as
     * success. It survives BH_OP_CLOSE_STRAY_FILE_DESCRIPTORS as the workload's report fd. */
    if (dup3(w, init_msg_fd, O_CLOEXEC) < 0) { e = errno; close(w); return e; }
    close(w);
    workload_exec_fd = init_msg_fd;
    /* An OCI plan forks no workload: this process becomes the workload (the container's PID 1,
     * as with runc) and starts, like any new process, with an empty signal mask (the launcher's
     * blocked supervisor signals were inherited through clone3); dispositions are default
     * since child_main. */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) return errno;
    return 0;
}

static int run_step(const bh_spawn_config *cfg, const bh_step *s, int sync_fd) {
    const union bh_step_args *a = &s->args;
    switch (s->op) {
    case BH_OP_WAIT_FOR_RELEASE: {
        char c;
        if (read_exact(sync_fd, &c, 1) != 0) return EPIPE; /* the launcher went away before releasing us */
        return 0;
    }
    case BH_OP_SET_DUMPABLE:
        return prctl(PR_SET_DUMPABLE, (unsigned long)a->set_dumpable.on, 0, 0, 0) < 0 ? errno : 0;
    case BH_OP_NEW_SESSION:
        return setsid() < 0 ? errno : 0;
    case BH_OP_MOUNT:
    case BH_OP_MOUNT_IF_PRESENT: {
        const struct bh_mount_args *m = &a->mount;
        int skip_missing = s->op == BH_OP_MOUNT_IF_PRESENT;
        if (m->root_len > 0) return mount_on_fd(m, skip_missing);
        if (mount(m->source, m->target, m->fstype, (unsigned long)m->flags, m->data) == 0) return 0;
        return (errno == ENOENT && skip_missing) ? 0 : errno;
    }
    case BH_OP_MAKE_DIRECTORY: {
        const struct bh_make_directory_args *d = &a->make_directory;
        if (d->root_len > 0) return make_in_root(d->path, d->root_len, 1, (mode_t)d->mode);
        return (mkdir(d->path, (mode_t)d->mode) < 0 && errno != EEXIST) ? errno : 0;
    }
    case BH_OP_CREATE_FILE: {
        const struct bh_create_file_args *f = &a->create_file;
        if (f->root_len > 0) return make_in_root(f->path, f->root_len, 0, 0644);
        int fd = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) return errno;
        close(fd);
        return 0;
    }
    case BH_OP_OPEN_TERMINAL:
        return open_terminal(&a->open_terminal);
    case BH_OP_MAKE_MOUNT_POINT:
        return make_mount_point(&a->make_mount_point);
    case BH_OP_SYMLINK:
        return (symlink(a->symlink.target, a->symlink.link_path) < 0 && errno != EEXIST) ? errno : 0;
    case BH_OP_CHANGE_DIRECTORY:
        return chdir(a->change_directory.path) < 0 ? errno : 0;
    case BH_OP_PIVOT_ROOT:
        return syscall(SYS_pivot_root, a->pivot_root.new_root, a->pivot_root.put_old) < 0 ? errno : 0;
    case BH_OP_UNMOUNT_DETACHED:
        return umount2(a->unmount_detached.path, MNT_DETACH) < 0 ? errno : 0;
    case BH_OP_SET_MOUNT_ATTRIBUTES:
        return set_mount_attr(a->set_mount_attributes.path, a->set_mount_attributes.attr_set, a->set_mount_attributes.recursive != 0);
    case BH_OP_REFUSE_SYMLINKS:
        return no_symlink(a->refuse_symlinks.path, a->refuse_symlinks.missing_ok != 0);
    case BH_OP_MASK:
        return mask_path(&a->mask);
    case BH_OP_MAKE_READ_ONLY:
        return make_read_only(&a->make_read_only);
    case BH_OP_ENTER_WORKING_DIRECTORY:
        return enter_workdir(a->enter_working_directory.path);
    case BH_OP_SET_HOSTNAME:
        return sethostname(a->set_hostname.name, strlen(a->set_hostname.name)) < 0 ? errno : 0;
    case BH_OP_LOOPBACK_UP:
        return loopback_up();
    case BH_OP_SET_RLIMIT: {
        struct rlimit rl = {(rlim_t)a->set_rlimit.soft, (rlim_t)a->set_rlimit.hard};
        return setrlimit((int)a->set_rlimit.resource, &rl) < 0 ? errno : 0;
    }
    case BH_OP_DROP_BOUNDING_SET:
        return drop_bounding_set(a->drop_bounding_set.keep);
    case BH_OP_KEEP_CAPABILITIES:
        return prctl(PR_SET_KEEPCAPS, (unsigned long)a->keep_capabilities.on, 0, 0, 0) < 0 ? errno : 0;
    case BH_OP_SET_GROUPS: {
        _Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");
        uint32_t n = a->set_groups.count;
        if (n > BH_MAX_GROUPS) return EINVAL; /* the model refuses more; never read past the array */
        /* Raw syscall: glibc's setgroups would broadcast to threads with a signal. */
        return syscall(SYS_setgroups, (long)n, (const gid_t *)a->set_groups.gids) < 0 ? errno : 0;
    }
    case BH_OP_SET_GID: {
        gid_t g = (gid_t)a->set_gid.id;
        if (syscall(SYS_setresgid, g, g, g) < 0) return errno;
        return rearm_after_credential_change(sync_fd);
    }
    case BH_OP_SET_UID: {
        uid_t u = (uid_t)a->set_uid.id;
        if (syscall(SYS_setresuid, u, u, u) < 0) return errno;
        return rearm_after_credential_change(sync_fd);
    }
    case BH_OP_SET_CAPABILITIES:
        return set_caps(a->set_capabilities.effective, a->set_capabilities.permitted, a->set_capabilities.inheritable);
    case BH_OP_RAISE_AMBIENT_CAPABILITIES:
        for (unsigned long c = 0; c < 64; c++)
            if ((a->raise_ambient_capabilities.keep >> c) & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) return errno;
        return 0;
    case BH_OP_NO_NEW_PRIVILEGES:
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? errno : 0;
    case BH_OP_CLOSE_STRAY_FILE_DESCRIPTORS:
        return close_fds(cfg);
    case BH_OP_JOIN_CGROUPS:
        return join_cgroups(cfg, sync_fd);
    case BH_OP_LOAD_SECCOMP:
        return load_seccomp(cfg);
    case BH_OP_EXEC:
        return exec_candidates(cfg);
    case BH_OP_RUN_HOOK: {
        int status;
        return bh_run_hook(&a->run_hook, &status);
    }
    case BH_OP_PAUSE: /* handled by run_steps: it reports readiness first */
        for (;;) pause();
    case BH_OP_ATTACH_TERMINAL: {
        int fd = a->attach_terminal.fd;
        /* The init of an OCI plan (no fork) leads its session already (BH_OP_NEW_SESSION). */
        if (setsid() < 0 && getsid(0) != getpid()) return errno;
        if (ioctl(fd, TIOCSCTTY, 0) < 0) return errno;
        for (int i = 0; i < 3; i++)
            if (dup2(fd, i) < 0) return errno;
        if (fd > 2) close(fd);
        return 0;
    }
    case BH_OP_UNSHARE_NAMESPACES:
        return unshare((int)a->unshare_namespaces.clone_flags) < 0 ? errno : 0;
    case BH_OP_LANDLOCK_CREATE_RULESET:
        return landlock_create_ruleset(a->landlock_create_ruleset.handled_filesystem, a->landlock_create_ruleset.handled_network);
    case BH_OP_LANDLOCK_ALLOW_PATH:
        return landlock_allow_path(a->landlock_allow_path.path, a->landlock_allow_path.access);
    case BH_OP_LANDLOCK_ALLOW_PORT:
        return landlock_allow_port(a->landlock_allow_port.access, a->landlock_allow_port.port);
    case BH_OP_LANDLOCK_RESTRICT_SELF:
        return landlock_restrict_self();
    case BH_OP_BECOME_TRACEE:
        return bh_record_traceme();
    case BH_OP_WRITE_SYSCTL: {
        int fd = open(a->write_sysctl.path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return errno;
        size_t len = strlen(a->write_sysctl.value);
        ssize_t n;
        while ((n = write(fd, a->write_sysctl.value, len)) < 0 && errno == EINTR) {}
        int e = n < 0 ? errno : ((size_t)n != len ? EIO : 0);
        close(fd);
        return e;
    }
    case BH_OP_WAIT_EXEC_FIFO:
        return wait_exec_fifo(a->wait_exec_fifo.fd);
    case BH_OP_MOUNT_CGROUPS:
        return mount_cgroups(&a->mount_cgroups);
    case BH_OP_WAIT_POOL_REQUEST:
        return bh_pool_wait_request(a->wait_pool_request.fd, init_msg_fd);
    case BH_OP_FORK_WORKLOAD: /* handled by run_steps and child_main */
        return EINVAL;
    }
    return EINVAL; /* an op this executor does not know */
}

/* Runs steps [from, count) and stops at BH_OP_FORK_WORKLOAD (returns its index) or the end
 * (returns count). On failure reports {index, errno} on msg_fd and returns -1. */
static int run_steps(const bh_spawn_config *cfg, uint32_t from, int msg_fd, int sync_fd) {
    for (uint32_t i = from; i < cfg->step_count; i++) {
        const bh_step *s = &cfg->steps[i];
        if (s->op == BH_OP_FORK_WORKLOAD) return (int)i;
        if (s->op == BH_OP_PAUSE && (int32_t)i != cfg->fail_at_step) {
            /* A pod's holder: every step before this one succeeded; say so and wait. */
            send_msg(msg_fd, BH_MSG_EXEC_OK, (int32_t)i, 0, (int32_t)getpid());
            for (;;) pause();
        }
        int err = ((int32_t)i == cfg->fail_at_step) ? ECANCELED : run_step(cfg, s, sync_fd);
        if (err != 0) {
            send_msg(msg_fd, BH_MSG_STEP_FAILED, (int32_t)i, err, 0);
            return -1;
        }
    }
    return (int)cfg->step_count;
}

static int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}

/* ---------------------------------------------------------------- the workload and init */

__attribute__((noreturn)) static void workload_main(const bh_spawn_config *cfg, uint32_t from, int exec_fd) {
    /* The workload starts with default dispositions and an empty mask, like any new process. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    workload_exec_fd = exec_fd;
    run_steps(cfg, from, exec_fd, -1);
    /* Reached only when a step failed (execve does not return on success). */
    _exit(127);
}

/* The workload's process when it shares the init's memory (start_workload). */
struct workload_start {
    const bh_spawn_config *cfg;
    uint32_t from;
    int exec_pipe[2];
    int msg_fd;
    int sync_fd;
};

static int workload_entry(void *p) {
    const struct workload_start *w = p;
    /* Its own fd table: these close the workload's copies only. */
    close(w->exec_pipe[0]);
    close(w->msg_fd);
    close(w->sync_fd);
    workload_main(w->cfg, w->from, w->exec_pipe[1]);
}

#define BH_WORKLOAD_STACK (256 * 1024)

/* Starts the workload: 0 and its pid in *pid_out, or an errno (nothing started).
 *
 * A pooled init is a copy of the pool process's address space (hundreds of MB mapped, page
 * tables over 100 KiB); a fork (clone with SIGCHLD alone) copies it once more only for the
 * workload's execve to tear the copy down, on the client's path. So a pooled launch's workload,
 * as glibc's posix_spawn does, shares the init's memory until its execve or exit (CLONE_VM |
 * CLONE_VFORK: the init is suspended until then) on a stack of its own with a guard page below
 * it. It shares nothing else: its own fd table (no CLONE_FILES), its own signal dispositions
 * (no CLONE_SIGHAND), its own credentials, seccomp filter and Landlock domain (per task), its
 * own fs_struct (no CLONE_FS). What sharing the memory asks, and why it holds:
 * - no handler of the init's runs in it: every signal is blocked (child_main) until
 *   workload_main has set the dispositions to default; the init's handlers are no-ops anyway;
 * - what it writes the init does not read as its own: the globals it sets (workload_exec_fd,
 *   pool_notify_channel, landlock_fd; exec_mode and init_msg_fd are not written by a pooled
 *   plan's steps) and the mm's dumpable flag (a credential change or BH_OP_SET_DUMPABLE) are
 *   put back by the init once it resumes; errno (the same TLS) is read after the clone only
 *   when it failed, so when no workload ran; the request's fds are moved in the workload's own
 *   table (bh_pool_install_fds leaves request_fds and their count as they were);
 * - the seccomp hand-over (seccomp_notify.c) is a thread of the workload on the workload's
 *   stack and has exited before the filter's caller returns, so before the execve;
 * - its failures reach the init as before: the exec pipe, read once the workload has exec'd
 *   (end of file) or exited (its record is in the pipe).
 * Other launches fork as before: record mode's init must run as the tracer while the workload
 * stops before execve (a suspended vfork parent cannot), and the cold, OCI and pod plans have
 * steps (hooks, the exec fifo) not vetted for a shared address space. */
static int start_workload(const bh_spawn_config *cfg, uint32_t from, int exec_pipe[2], int msg_fd, int sync_fd, pid_t *pid_out) {
    if (cfg->record_table != NULL || !bh_pool_active()) {
        pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0) return errno;
        if (pid == 0) {
            close(exec_pipe[0]);
            close(msg_fd);
            close(sync_fd);
            workload_main(cfg, from, exec_pipe[1]);
        }
        *pid_out = pid;
        return 0;
    }
    size_t size = BH_WORKLOAD_STACK + 4096;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    if (mprotect(stack, 4096, PROT_NONE) < 0) { int e = errno; munmap(stack, size); return e; }
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    int saved_exec_fd = workload_exec_fd, saved_notify = pool_notify_channel, saved_landlock = landlock_fd;
    int saved_mode = exec_mode, saved_msg = init_msg_fd;
    struct workload_start w = {cfg, from, {exec_pipe[0], exec_pipe[1]}, msg_fd, sync_fd};
    int pid = clone(workload_entry, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &w);
    int e = errno;
    /* Here only once the workload has exec'd (an address space of its own) or exited. */
    workload_exec_fd = saved_exec_fd; pool_notify_channel = saved_notify; landlock_fd = saved_landlock;
    exec_mode = saved_mode; init_msg_fd = saved_msg;
    munmap(stack, size);
    if (pid < 0) return e;
    if (dumpable >= 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != dumpable &&
        prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0, 0, 0) < 0) {
        e = errno;
        kill(pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return e;
    }
    *pid_out = (pid_t)pid;
    return 0;
}

__attribute__((noreturn)) static void init_loop(pid_t workload, int msg_fd) {
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig == SIGCHLD) {
            /* Reap every zombie: orphans re-parented to PID 1 as well as the workload. */
            for (;;) {
                int status;
                pid_t p = waitpid(-1, &status, WNOHANG);
                if (p <= 0) break;
                if (p == workload) {
                    /* The zombies already there are reaped too; ECHILD then means that no
                     * process of the sandbox is left but this one (every other one descends
                     * from it: orphans come back to the subreaper). A child still running
                     * leaves the end to the kernel, which kills it as this init exits. */
                    uint32_t kind = BH_MSG_EXITED;
                    for (;;) {
                        int other;
                        pid_t q = waitpid(-1, &other, WNOHANG);
                        if (q > 0) continue;
                        if (q < 0 && errno == EINTR) continue;
                        if (q < 0 && errno == ECHILD) kind = BH_MSG_EXITED_LAST;
                        break;
                    }
                    send_msg(msg_fd, kind, -1, 0, status);
                    /* PID 1 leaving tears the PID namespace down: every other process in it
                     * is killed by the kernel, as in a Kubernetes container. */
                    _exit(exit_code_of(status));
                }
            }
            continue;
        }
        for (size_t i = 0; i < FORWARDED_COUNT; i++)
            if (sig == forwarded_signals[i]) kill(workload, sig);
    }
}

/* EOF on the exec pipe means execve succeeded (the write end was close-on-exec) and returns;
 * a record means a step of the child failed: it is passed on, the child reaped, and the caller
 * exits 125. */
static void await_exec(int exec_read, pid_t pid, int msg_fd) {
    bh_msg m;
    int rc_read = read_exact(exec_read, &m, sizeof m);
    close(exec_read);
    if (rc_read == 0) {
        send_msg(msg_fd, m.kind, m.step, m.err, m.value);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        _exit(125);
    }
}

__attribute__((noreturn)) static void child_main(const bh_spawn_config *cfg, int msg_fd, int sync_fd) {
    /* First of all: every fd the init does not need or pass on is closed. A failure here is
     * reported as step -1 (no step of the plan has run). */
    init_msg_fd = msg_fd;
    int rc = init_close_inherited(cfg, msg_fd, sync_fd, -1);
    if (rc != 0) {
        send_msg(msg_fd, BH_MSG_STEP_FAILED, -1, rc, 0);
        _exit(125);
    }
    /* If the launcher dies (even SIGKILL) the init dies, and with it the PID namespace. The
     * launcher could have died before this line: BH_OP_WAIT_FOR_RELEASE then reads EOF and fails.
     * In pod mode the parent is the trampoline, which exits at once: the signal is armed after
     * the release instead (rearm_after_credential_change), when the launcher is the parent. */
    if (cfg->join_count == 0) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    reset_signal_dispositions();

    int at = run_steps(cfg, 0, msg_fd, sync_fd);
    if (at < 0) _exit(125);
    if ((uint32_t)at >= cfg->step_count) _exit(125); /* a plan always forks the workload */

    /* Init receives the forwarded signals through sigwaitinfo. A PID 1 only gets signals
     * from its parent namespace for which it has a handler (pid_namespaces(7)), hence the
     * no-op handlers; the signals stay blocked and are taken synchronously. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = noop_handler;
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &sa, NULL);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    /* Outside a PID namespace the init still collects orphans. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    int exec_pipe[2];
    if (at == cfg->fail_at_step) {
        send_msg(msg_fd, BH_MSG_STEP_FAILED, at, ECANCELED, 0);
        _exit(125);
    }
    if (pipe2(exec_pipe, O_CLOEXEC) < 0) {
        send_msg(msg_fd, BH_MSG_STEP_FAILED, at, errno, 0);
        _exit(125);
    }
    if (bh_pool_active()) {
        /* A pooled launch: the request's fds become the workload's 0 .. n-1; the exec pipe
         * stays out of their way. */
        for (int i = 0; i < 2; i++) {
            int high = fcntl(exec_pipe[i], F_DUPFD_CLOEXEC, (int)BH_POOL_MAX_FDS);
            if (high < 0) { send_msg(msg_fd, BH_MSG_STEP_FAILED, at, errno, 0); _exit(125); }
            close(exec_pipe[i]);
            exec_pipe[i] = high;
        }
    }
    pid_t pid = 0;
    int started = start_workload(cfg, (uint32_t)at + 1, exec_pipe, msg_fd, sync_fd, &pid);
    if (started != 0) {
        send_msg(msg_fd, BH_MSG_STEP_FAILED, at, started, 0);
        _exit(125);
    }
    close(exec_pipe[1]);
    if (notify_channel_in_init(cfg)) close(cfg->seccomp_notify->channel); /* the workload's alone */
    if (bh_pool_active()) bh_pool_close_request_fds(); /* the workload's alone, on 0 .. n-1 */
    /* Record mode: the init traces the workload instead of waiting on the exec pipe (the
     * workload stops before execve until the tracer resumes it). */
    if (cfg->record_table != NULL)
        bh_record_init_loop(cfg->record_table, pid, msg_fd, exec_pipe[0], forwarded_signals, (uint32_t)FORWARDED_COUNT);

    await_exec(exec_pipe[0], pid, msg_fd);
    send_msg(msg_fd, BH_MSG_EXEC_OK, -1, 0, pid);
    init_loop(pid, msg_fd);
}

/* ---------------------------------------------------------------- the parent side */

/* clone3 of the sandbox's init: the child runs child_main; stores the pid in *pid and the pidfd
 * in *pidfd. 0 or a positive errno. */
static int clone_init(const bh_spawn_config *cfg, pid_t *pid_out, int *pidfd, int msg[2], int sync[2], uint64_t extra_flags) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = cfg->clone_flags | CLONE_PIDFD | extra_flags;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    /* With CLONE_PARENT clone3 takes no exit signal: the caller's own is inherited. */
    args.exit_signal = (extra_flags & CLONE_PARENT) ? 0 : SIGCHLD;
    if (cfg->cgroup_fd >= 0) {
        /* Born inside its cgroup: the child never runs an instruction outside its limits. */
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cfg->cgroup_fd;
    }
    /* The user namespace's owner: the thread takes the owner's euid for the clone alone (raw
     * setresuid: this thread only, no glibc broadcast), keeping its capabilities
     * (SECBIT_NO_SETUID_FIXUP), which CLONE_INTO_CGROUP's permission check needs. */
    int as_owner = cfg->userns_owner >= 0 && (cfg->clone_flags & CLONE_NEWUSER) && geteuid() == 0;
    int bits = 0, dumpable = 1;
    if (as_owner) {
        bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        if (bits < 0 || prctl(PR_SET_SECUREBITS, (unsigned long)bits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0) return errno;
        if (syscall(SYS_setresuid, -1, (uid_t)cfg->userns_owner, -1) < 0) {
            int e = errno;
            prctl(PR_SET_SECUREBITS, (unsigned long)bits, 0, 0, 0);
            return e;
        }
    }
    long pid = syscall(SYS_clone3, &args, sizeof args);
    int clone_errno = errno;
    if (pid == 0) {
        /* The child: the launcher's securebits again (it has every capability in its new user
         * namespace, CAP_SETPCAP included); the euid stays the owner's, which the id map makes
         * the namespace's root. */
        if (as_owner && prctl(PR_SET_SECUREBITS, (unsigned long)bits, 0, 0, 0) < 0) _exit(125);
        close(msg[0]);
        close(sync[1]);
        child_main(cfg, msg[1], sync[0]);
    }
    if (as_owner) {
        /* Back to root. A euid change makes the process non-dumpable; it was not before. */
        if (syscall(SYS_setresuid, -1, 0, -1) < 0) abort();
        prctl(PR_SET_SECUREBITS, (unsigned long)bits, 0, 0, 0);
        if (dumpable > 0) prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0, 0, 0);
    }
    if (pid < 0) return clone_errno;
    *pid_out = (pid_t)pid;
    return 0;
}

/* Pod mode. The trampoline joins the pod's namespaces (the user namespace first: joining it
 * grants the capabilities that the other setns calls and the new namespaces need), creates the
 * init, reports the init's pid, waits until the launcher holds a pidfd of it, and exits. */
static int spawn_joined(const bh_spawn_config *cfg, int msg[2], int sync[2], bh_spawn_result *out) {
    int tramp[2], ack[2];
    if (pipe2(tramp, O_CLOEXEC) < 0) return errno;
    if (pipe2(ack, O_CLOEXEC) < 0) { int e = errno; close(tramp[0]); close(tramp[1]); return e; }
    long t = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (t < 0) { int e = errno; close(tramp[0]); close(tramp[1]); close(ack[0]); close(ack[1]); return e; }
    if (t == 0) {
        close(tramp[0]);
        close(ack[1]);
        reset_signal_dispositions();
        int32_t report[2] = {0, 0}; /* {pid, errno} */
        for (uint32_t i = 0; i < cfg->join_count && report[1] == 0; i++)
            if (setns(cfg->join_fds[i], cfg->join_types[i]) < 0) report[1] = errno;
        int pidfd = -1;
        pid_t pid = 0;
        if (report[1] == 0) {
            report[1] = clone_init(cfg, &pid, &pidfd, msg, sync, 0);
            report[0] = (int32_t)pid;
        }
        while (write(tramp[1], report, sizeof report) < 0 && errno == EINTR) {}
        char c;
        (void)read_exact(ack[0], &c, 1);
        _exit(0);
    }
    close(tramp[1]);
    close(ack[0]);
    int32_t report[2] = {0, EPIPE};
    int err = read_exact(tramp[0], report, sizeof report) != 0 ? EPIPE : report[1];
    close(tramp[0]);
    int pidfd = -1;
    if (err == 0) {
        /* The init cannot exit before its release, and the trampoline has not been reaped,
         * so the pid still names the init. */
        pidfd = (int)syscall(SYS_pidfd_open, report[0], 0);
        if (pidfd < 0) err = errno;
    }
    char one = 1;
    while (write(ack[1], &one, 1) < 0 && errno == EINTR) {}
    close(ack[1]);
    int status;
    while (waitpid((pid_t)t, &status, 0) < 0 && errno == EINTR) {}
    if (err) {
        if (pidfd >= 0) { syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0); close(pidfd); }
        return err;
    }
    out->pid = report[0];
    out->pidfd = pidfd;
    return 0;
}

/* The warm pool: its launcher is a multi-threaded process whose other threads receive clients'
 * requests, fds included (SCM_RIGHTS), while a sandbox is being created; clone3 copies the
 * calling thread's fd table, so a sandbox cloned from it would hold a copy of another client's
 * fds until its init's first step closes them. Instead the init is cloned from a helper that
 * shares the launcher's memory (CLONE_VM | CLONE_VFORK: no address space is copied for it, the
 * caller waits) but not its fd table (no CLONE_FILES): the helper first closes, in its own copy,
 * every fd the init does not keep (init_close_inherited's set, plus the cgroup fd clone3 needs),
 * then clones the init with CLONE_PARENT: the init is the caller's child as clone_init's is (its
 * parent thread the caller: PDEATHSIG, wait4 and /proc/PID/task/TID/children as before; its
 * exit signal SIGCHLD, the helper's, which CLONE_PARENT passes on). So no fd of the launcher
 * but the init's own is ever in the table a pooled sandbox is cloned from. The helper runs this
 * file's C only, on a stack of its own (a guard page below it), with every signal blocked, and
 * exits; the caller then takes a pidfd of the init
 * (its child, not reaped: the pid cannot name another process). */
static int is_pooled(const bh_spawn_config *cfg) {
    for (uint32_t i = 0; i < cfg->step_count; i++)
        if (cfg->steps[i].op == BH_OP_WAIT_POOL_REQUEST) return 1;
    return 0;
}

struct isolated_clone { const bh_spawn_config *cfg; int *msg; int *sync; pid_t pid; int err; };

static int isolated_clone_main(void *p) {
    struct isolated_clone *a = p;
    int rc = init_close_inherited(a->cfg, a->msg[1], a->sync[0], a->cfg->cgroup_fd);
    if (rc == 0) {
        int pidfd = -1; /* in the helper's table: closed by its exit */
        pid_t pid = 0;
        rc = clone_init(a->cfg, &pid, &pidfd, a->msg, a->sync, CLONE_PARENT);
        a->pid = pid;
    }
    a->err = rc;
    syscall(SYS_exit, 0);
    return 0;
}

#define BH_ISOLATED_STACK (512 * 1024)

static int clone_init_isolated(const bh_spawn_config *cfg, pid_t *pid_out, int *pidfd_out, int msg[2], int sync[2]) {
    /* A guard page below the helper's stack. */
    size_t size = BH_ISOLATED_STACK + 4096;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    if (mprotect(stack, 4096, PROT_NONE) < 0) { int e = errno; munmap(stack, size); return e; }
    struct isolated_clone a = { cfg, msg, sync, 0, EPIPE };
    /* Every signal blocked while the helper runs in the pool's memory (as posix_spawn does): no
     * handler of the pool's image ever runs in it. The init inherits the mask; child_main and
     * workload_main set their own. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int h = clone(isolated_clone_main, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (h < 0) { munmap(stack, size); return e; }
    int status;
    while (waitpid(h, &status, 0) < 0 && errno == EINTR) {}
    munmap(stack, size);
    if (a.err != 0 || a.pid <= 0) return a.err != 0 ? a.err : EPIPE;
    int pidfd = (int)syscall(SYS_pidfd_open, a.pid, 0);
    if (pidfd < 0) {
        e = errno;
        kill(a.pid, SIGKILL);
        while (waitpid(a.pid, &status, 0) < 0 && errno == EINTR) {}
        return e;
    }
    *pid_out = a.pid;
    *pidfd_out = pidfd;
    return 0;
}

int bh_spawn(const bh_spawn_config *cfg, bh_spawn_result *out) {
    int msg[2], sync[2];
    if (pipe2(msg, O_CLOEXEC) < 0) return errno;
    /* The sync channel is a unix socket, not a pipe: besides the release bytes it carries the
     * cgroup v1 `tasks` files to BH_OP_JOIN_CGROUPS (SCM_RIGHTS). The launcher's end closing
     * is a hang-up on the init's end, as with a pipe (rearm_after_credential_change). */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0) {
        int e = errno;
        close(msg[0]);
        close(msg[1]);
        return e;
    }
    int rc = 0;
    if (cfg->join_count > 0) {
        rc = spawn_joined(cfg, msg, sync, out);
    } else {
        int pidfd = -1;
        pid_t pid = 0;
        rc = is_pooled(cfg) ? clone_init_isolated(cfg, &pid, &pidfd, msg, sync) : clone_init(cfg, &pid, &pidfd, msg, sync, 0);
        if (rc == 0) { out->pid = (int32_t)pid; out->pidfd = pidfd; }
    }
    if (rc != 0) {
        close(msg[0]); close(msg[1]); close(sync[0]); close(sync[1]);
        return rc;
    }
    close(msg[1]);
    close(sync[0]);
    out->msg_fd = msg[0];
    out->sync_fd = sync[1];
    return 0;
}

/* ---------------------------------------------------------------- OCI exec (bh_exec_into) */

/* The exec'd process: the joiner's child, born in the container's PID (and time) namespace. It
 * runs the exec plan's steps with the same executor as a workload; the exec pipe's write end
 * (close-on-exec) reports a failed step, its EOF a successful execve. */
__attribute__((noreturn)) static void exec_process_main(const bh_spawn_config *cfg, int exec_fd) {
    exec_mode = 1;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    workload_exec_fd = exec_fd;
    run_steps(cfg, 0, exec_fd, -1);
    _exit(127);
}

/* The joiner (bh_spawn.h): single-threaded, so it may enter a user namespace. */
__attribute__((noreturn)) static void exec_joiner(const bh_exec_config *x, int msg_fd, int ack_fd) {
    const bh_spawn_config *cfg = x->process;
    /* First: non-dumpable (CVE-2016-9962), inherited by the process it forks; nothing of the
     * container can ptrace either of them or open their /proc/PID/fd until execve. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) { send_msg(msg_fd, BH_MSG_STEP_FAILED, BH_EXEC_STAGE_CLOSE_FDS, errno, 0); _exit(125); }
    reset_signal_dispositions();
    /* The cgroups first, while still the host's root in the host's namespaces (v1 `tasks`
     * files, opened by the runtime; a v2 one was joined by CLONE_INTO_CGROUP); each file is
     * closed once written, before anything else is closed. */
    int32_t stage = BH_EXEC_STAGE_JOIN_CGROUPS;
    int rc = x->cgroup_join_count > BH_CGROUP_JOIN_MAX ? EINVAL : 0;
    for (uint32_t i = 0; i < x->cgroup_join_count && x->cgroup_join_fds != NULL; i++) {
        int fd = x->cgroup_join_fds[i];
        if (rc == 0) {
            ssize_t w;
            while ((w = write(fd, "0", 1)) < 0 && errno == EINTR) {}
            if (w < 0) rc = errno;
        }
        close(fd);
    }
    if (rc == 0) { stage = BH_EXEC_STAGE_CLOSE_FDS; rc = init_close_inherited(cfg, msg_fd, ack_fd, x->target_pidfd); }
    /* Then the namespaces, through the init's pidfd (no pid, no path: pid reuse cannot lead
     * into another process's): those the host's user namespace owns while still privileged
     * there, then the container's user namespace and the ones it owns. The mount namespace
     * sets root and working directory to the container's root. */
    if (rc == 0 && x->first_namespaces != 0) {
        stage = BH_EXEC_STAGE_JOIN_HOST_NAMESPACES;
        if (setns(x->target_pidfd, (int)x->first_namespaces) < 0) rc = errno;
    }
    if (rc == 0 && x->namespaces != 0) {
        stage = BH_EXEC_STAGE_JOIN_NAMESPACES;
        if (setns(x->target_pidfd, (int)x->namespaces) < 0) rc = errno;
    }
    close(x->target_pidfd);
    int exec_pipe[2] = {-1, -1};
    if (rc == 0) {
        stage = BH_EXEC_STAGE_FORK;
        if (pipe2(exec_pipe, O_CLOEXEC) < 0) rc = errno;
    }
    if (rc != 0) {
        send_msg(msg_fd, BH_MSG_STEP_FAILED, stage, rc, 0);
        _exit(125);
    }
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) {
        send_msg(msg_fd, BH_MSG_STEP_FAILED, stage, errno, 0);
        _exit(125);
    }
    if (pid == 0) {
        close(exec_pipe[0]);
        close(msg_fd);
        close(ack_fd);
        exec_process_main(cfg, exec_pipe[1]);
    }
    close(exec_pipe[1]);
    await_exec(exec_pipe[0], pid, msg_fd);
    /* The pid as this (the host's) PID namespace sees it. The process stays this one's child,
     * unreaped, until the runtime holds a pidfd of it; then it is re-parented to the runtime,
     * a child subreaper (or the caller's, with --detach). */
    send_msg(msg_fd, BH_MSG_EXEC_OK, -1, 0, (int32_t)pid);
    char c;
    (void)read_exact(ack_fd, &c, 1);
    _exit(0);
}

int bh_exec_into(const bh_exec_config *x, bh_exec_result *out) {
    out->pid = -1;
    out->pidfd = -1;
    out->step = BH_EXEC_STAGE_RUNTIME;
    int msg[2], ack[2];
    if (pipe2(msg, O_CLOEXEC) < 0) return errno;
    if (pipe2(ack, O_CLOEXEC) < 0) { int e = errno; close(msg[0]); close(msg[1]); return e; }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    if (x->cgroup_fd >= 0) {
        /* Born in the container's cgroup v2: the joiner and what it forks never run outside. */
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)x->cgroup_fd;
    }
    long t = syscall(SYS_clone3, &args, sizeof args);
    if (t < 0) {
        int e = errno;
        close(msg[0]); close(msg[1]); close(ack[0]); close(ack[1]);
        return e;
    }
    if (t == 0) {
        close(msg[0]);
        close(ack[1]);
        exec_joiner(x, msg[1], ack[0]);
    }
    close(msg[1]);
    close(ack[0]);
    bh_msg m;
    int err = 0;
    if (read_exact(msg[0], &m, sizeof m) != 0) {
        err = EPIPE;
        out->step = BH_EXEC_STAGE_CLOSE_FDS;
    } else if (m.kind == BH_MSG_STEP_FAILED) {
        err = m.err > 0 ? m.err : EIO;
        out->step = m.step;
    } else if (m.kind == BH_MSG_EXEC_OK && m.value > 0) {
        int pfd = (int)syscall(SYS_pidfd_open, (pid_t)m.value, 0);
        if (pfd < 0) err = errno; else { out->pid = m.value; out->pidfd = pfd; }
    } else {
        err = EPROTO;
    }
    char one = 1;
    while (write(ack[1], &one, 1) < 0 && errno == EINTR) {}
    close(ack[1]);
    close(msg[0]);
    int status;
    while (waitpid((pid_t)t, &status, 0) < 0 && errno == EINTR) {}
    return err;
}
