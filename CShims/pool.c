/* The warm pool's wire format and the sandbox's side of a pooled launch (bh_pool.h). No
 * allocation, async-signal-safe: the init runs this between clone3 and execve. */
#include "bh_pool.h"
#include "bh_fd_passing.h"
#include "bh_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/vfs.h>
#include <unistd.h>

/* statmount(2) (Linux 6.8; the C library's headers here predate it): the mount's superblock by
 * its unique ID, one call, no text, and no question to the filesystem (a FUSE server is never
 * asked). The layout is the kernel's uapi (include/uapi/linux/mount.h), fixed by its size field. */
#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#define BH_STATX_MNT_ID_UNIQUE 0x00004000U
#define BH_STATMOUNT_SB_BASIC 0x00000001U
#define BH_MNT_ID_REQ_SIZE_VER0 24
#define BH_FUSE_SUPER_MAGIC 0x65735546UL
struct bh_mnt_id_req { uint32_t size; uint32_t spare; uint64_t mnt_id; uint64_t param; };
struct bh_statmount {
    uint32_t size, mnt_opts;
    uint64_t mask;
    uint32_t sb_dev_major, sb_dev_minor;
    uint64_t sb_magic;
    uint32_t sb_flags, fs_type;
    uint64_t spare[59]; /* the rest of the fixed part (512 bytes), unread */
};
_Static_assert(sizeof(struct bh_statmount) == 512, "struct statmount's fixed part");

int bh_pool_check(const uint8_t *message, size_t length, uint32_t fds) {
    if (length > BH_POOL_MAX_BYTES) return EMSGSIZE;
    if (length < sizeof(bh_pool_header)) return EBADMSG;
    bh_pool_header h;
    memcpy(&h, message, sizeof h);
    if (h.magic != BH_POOL_MAGIC || h.version != BH_POOL_VERSION || h.flags != 0) return EBADMSG;
    if (h.argc == 0 || h.argc > BH_POOL_MAX_ARGS || h.envc > BH_POOL_MAX_ENV || h.execc > BH_POOL_MAX_EXEC) return EBADMSG;
    if (h.fdc < BH_POOL_MIN_FDS || h.fdc > BH_POOL_MAX_FDS || h.fdc != fds) return EBADMSG;
    /* The counts are bounded above, so the sum cannot overflow; the length must be exact. */
    if ((size_t)h.length != length - sizeof h) return EBADMSG;
    uint32_t strings = h.argc + h.envc + h.execc + 1;
    const uint8_t *p = message + sizeof h, *end = message + length;
    for (uint32_t i = 0; i < strings; i++) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        if (nul == NULL) return EBADMSG;
        if ((size_t)(nul - p) + 1 > BH_POOL_MAX_STRING) return EBADMSG;
        p = nul + 1;
    }
    return p == end ? 0 : EBADMSG;
}

/* 1 when the mount `mnt_id` (with `by_device`: the first mount of the superblock whose device
 * is major:minor) is a FUSE filesystem's ("fuse", "fuse.NAME", "fuseblk") in this process's
 * /proc/self/mountinfo, 0 when it is another's, -1 when it is not listed (another mount
 * namespace's, a detached one) or unreadable. Raw reads, a fixed buffer: a line longer than it is skipped. */
static int mount_is_fuse(uint64_t mnt_id, int by_device, unsigned int major, unsigned int minor) {
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[16384];
    size_t have = 0;
    int result = -1, skipping = 0, eof = 0;
    while (result < 0 && !eof) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) eof = 1; else have += (size_t)n;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', have - start);
            if (nl == NULL) break;
            *nl = 0;
            const char *line = buf + start;
            start = (size_t)(nl - buf) + 1;
            if (skipping) { skipping = 0; continue; }
            uint64_t id = 0;
            const char *c = line;
            while (*c >= '0' && *c <= '9') id = id * 10 + (uint64_t)(*c++ - '0');
            if (c == line || *c != ' ') continue;
            if (by_device) {
                /* The third field, the superblock's device: "ID PARENT MAJOR:MINOR ..." */
                const char *d = c + 1;
                while (*d >= '0' && *d <= '9') d++;
                if (*d++ != ' ') continue;
                uint64_t ma = 0, mi = 0;
                const char *m = d;
                while (*d >= '0' && *d <= '9' && ma <= UINT32_MAX) ma = ma * 10 + (uint64_t)(*d++ - '0');
                if (d == m || *d++ != ':') continue;
                m = d;
                while (*d >= '0' && *d <= '9' && mi <= UINT32_MAX) mi = mi * 10 + (uint64_t)(*d++ - '0');
                if (d == m || *d != ' ' || ma != major || mi != minor) continue;
            } else if (id != mnt_id) {
                continue;
            }
            const char *sep = strstr(c, " - ");
            if (sep == NULL) continue;
            result = strncmp(sep + 3, "fuse", 4) == 0 && (sep[7] == ' ' || sep[7] == '.' || strncmp(sep + 7, "blk ", 4) == 0) ? 1 : 0;
            break;
        }
        if (start == 0 && have == sizeof buf) { skipping = 1; have = 0; continue; } /* a line longer than the buffer */
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    close(fd);
    return result;
}

/* 1 when the mount whose unique ID is `unique_id` is a FUSE filesystem's (its superblock's magic:
 * fuse and fuseblk alike), 0 when another's, -1 when it is not one this process can see (not in
 * this mount namespace, as pipefs and sockfs are not; out of this root: mountinfo does not list
 * those either), -2 when statmount itself is not there (a kernel before 6.8). */
static int mount_is_fuse_by_unique_id(uint64_t unique_id) {
    struct bh_mnt_id_req req;
    memset(&req, 0, sizeof req);
    req.size = BH_MNT_ID_REQ_SIZE_VER0;
    req.mnt_id = unique_id;
    req.param = BH_STATMOUNT_SB_BASIC; /* what to fill in: the superblock's device, magic, flags */
    struct bh_statmount sm;
    memset(&sm, 0, sizeof sm);
    if (syscall(SYS_statmount, &req, &sm, sizeof sm, 0) < 0)
        return (errno == ENOENT || errno == EPERM) ? -1 : -2;
    if (!(sm.mask & BH_STATMOUNT_SB_BASIC)) return -2;
    return (sm.sb_magic & 0xffffffffUL) == BH_FUSE_SUPER_MAGIC ? 1 : 0;
}

/* The superblocks of the kernel's internal mounts, which no mount namespace lists (statmount
 * answers ENOENT, mountinfo has no line), as a client's pipe, socket, memfd, eventfd, pidfd or
 * namespace fd is on: learned once from the pool's own such objects (fstat of those asks no
 * FUSE server). */
static dev_t internal_devices[6];
static int internal_device_count;
static pthread_once_t internal_devices_once = PTHREAD_ONCE_INIT;

static void add_internal_device(int fd) {
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) == 0 && internal_device_count < (int)(sizeof internal_devices / sizeof internal_devices[0]))
        internal_devices[internal_device_count++] = st.st_dev;
    close(fd);
}

static void learn_internal_devices(void) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) { add_internal_device(p[0]); close(p[1]); }
    add_internal_device(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    add_internal_device((int)syscall(SYS_memfd_create, "bh-pool", (unsigned int)MFD_CLOEXEC));
    add_internal_device(eventfd(0, EFD_CLOEXEC));
    add_internal_device((int)syscall(SYS_pidfd_open, (long)getpid(), 0L));
    add_internal_device(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
}

/* A file whose mount this process cannot see: a mount of another mount namespace, or one
 * detached from every namespace (umount -l, `fusermount -u -z`: any FUSE mount's owner may,
 * and the open file keeps the superblock and its server alive), or a kernel-internal mount.
 * Whether it is FUSE's must still be learned without asking (fstat and fstatfs would ask its
 * server), from what statx without sync gave (`sx`: a FUSE file's cached attributes):
 * BH_POOL_FD_OK when fstat and fstatfs may be asked (a kernel-internal mount's; a character
 * device, which only a mount allowing devices lets anyone open, and FUSE mounts an unprivileged
 * user makes are nodev; a superblock some mount of this namespace shows, not FUSE's), else
 * the kind that refuses it. */
static int unseen_mount_kind(int fd, const struct statx *sx) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    if (flags & O_PATH) return BH_POOL_FD_OPATH;
    if ((sx->stx_mask & STATX_TYPE) && S_ISCHR(sx->stx_mode)) return BH_POOL_FD_OK;
    dev_t dev = makedev(sx->stx_dev_major, sx->stx_dev_minor);
    (void)pthread_once(&internal_devices_once, learn_internal_devices);
    for (int i = 0; i < internal_device_count; i++)
        if (internal_devices[i] == dev) return BH_POOL_FD_OK;
    int shown = mount_is_fuse(0, 1, sx->stx_dev_major, sx->stx_dev_minor);
    if (shown == 0) return BH_POOL_FD_OK;
    return shown == 1 ? BH_POOL_FD_USERSPACE_FS : BH_POOL_FD_UNSEEN_MOUNT;
}

int bh_pool_fd_kind(int fd) {
    /* First, without asking the filesystem: statx without sync (a FUSE file's cached
     * attributes; with an empty mask even a FUSE mount that refuses this process answers) gives
     * the mount, whose type decides before fstat and fstatfs, which a FUSE server answers.
     * The mount's type from statmount by its unique ID (one call); where that cannot say, from
     * /proc/self/mountinfo by the reused ID (a read and a parse of every line per fd: three
     * quarters of a pooled request's checks, BENCHMARKS.md session 16). */
    struct statx sx;
    memset(&sx, 0, sizeof sx);
    int fuse;
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, BH_STATX_MNT_ID_UNIQUE, &sx) == 0 && (sx.stx_mask & BH_STATX_MNT_ID_UNIQUE))
        fuse = mount_is_fuse_by_unique_id(sx.stx_mnt_id);
    else
        fuse = -2;
    if (fuse == -2) {
        memset(&sx, 0, sizeof sx);
        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID))
            fuse = mount_is_fuse(sx.stx_mnt_id, 0, 0, 0);
    }
    if (fuse == 1) return BH_POOL_FD_USERSPACE_FS;
    if (fuse == -1) {
        int hidden = unseen_mount_kind(fd, &sx);
        if (hidden != BH_POOL_FD_OK) return hidden;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0) return -errno;
    if (flags & O_PATH) return BH_POOL_FD_OPATH;
    if (S_ISDIR(st.st_mode)) return BH_POOL_FD_DIRECTORY;
    /* ANON_INODE_FS_MAGIC, PIDFS_MAGIC, NSFS_MAGIC; an inode without a type is an anon inode. */
    unsigned long magic = (unsigned long)fs.f_type & 0xffffffffUL;
    /* FUSE_SUPER_MAGIC: a mount of another namespace, not in this one's mountinfo. */
    if (magic == 0x65735546UL && S_ISREG(st.st_mode)) return BH_POOL_FD_USERSPACE_FS;
    if (magic == 0x09041934UL || magic == 0x50494446UL || magic == 0x6e736673UL || (st.st_mode & S_IFMT) == 0)
        return BH_POOL_FD_HANDLE;
    if (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode)) return BH_POOL_FD_OK;
    return BH_POOL_FD_OTHER;
}

int bh_pool_send(int socket, const uint8_t *message, size_t length, const int32_t *fds, uint32_t fd_count) {
    if (fd_count > BH_POOL_MAX_FDS) return EINVAL;
    struct iovec iov = {(void *)(uintptr_t)message, length};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * BH_POOL_MAX_FDS)]; } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd_count > 0 && fds != NULL) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * fd_count);
    }
    ssize_t n;
    while ((n = sendmsg(socket, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
    if (n < 0) return errno;
    return (size_t)n == length ? 0 : EMSGSIZE;
}

_Static_assert(BH_POOL_MAX_FDS <= BH_FD_PASSING_MAX, "bh_pool_receive takes BH_POOL_MAX_FDS through bh_receive_message");

int bh_pool_receive_keeping(int socket, uint8_t *buf, size_t capacity, size_t *length, int32_t *fds, uint32_t *fd_count, int nonblocking) {
    /* The one receiver (bh_fd_passing.h); a message that fills the buffer is over the bound. */
    int rc = bh_receive_message_keeping(socket, nonblocking ? MSG_DONTWAIT : 0, buf, capacity, length, fds, BH_POOL_MAX_FDS, fd_count);
    if (rc == 0 && *length >= capacity) {
        *length = 0;
        return EMSGSIZE;
    }
    return rc;
}

int bh_pool_receive(int socket, uint8_t *buf, size_t capacity, size_t *length, int32_t *fds, uint32_t *fd_count, int nonblocking) {
    int32_t all[BH_FD_PASSING_ALL];
    uint32_t got = 0;
    int rc = bh_pool_receive_keeping(socket, buf, capacity, length, all, &got, nonblocking);
    *fd_count = 0;
    if (rc != 0) {
        for (uint32_t i = 0; i < got; i++) close(all[i]);
        *length = 0;
        return rc;
    }
    memcpy(fds, all, sizeof(int32_t) * got);
    *fd_count = got;
    return 0;
}

/* ------------------------------------------------------------ the sandbox's side */

static uint8_t request_buf[BH_POOL_MAX_BYTES + 1];
static int32_t request_fds[BH_POOL_MAX_FDS];
static uint32_t request_fd_count;
static char *request_argv[BH_POOL_MAX_ARGS + 1];
static char *request_envp[BH_POOL_MAX_ENV + 1];
static const char *request_exec[BH_POOL_MAX_EXEC + 1];
static uint32_t request_exec_count;
static const char *request_cwd;
static int request_active;

int bh_pool_wait_request(int channel, int msg_fd) {
    bh_msg m = {BH_MSG_POOL_READY, -1, 0, 0};
    ssize_t w;
    while ((w = write(msg_fd, &m, sizeof m)) < 0 && errno == EINTR) {}
    if (w != (ssize_t)sizeof m) return EPIPE;
    size_t length = 0;
    uint32_t fd_count = 0;
    int rc = bh_pool_receive(channel, request_buf, sizeof request_buf, &length, request_fds, &fd_count, 0);
    close(channel);
    if (rc) return rc;
    rc = bh_pool_check(request_buf, length, fd_count);
    if (rc) {
        for (uint32_t i = 0; i < fd_count; i++) close(request_fds[i]);
        return rc;
    }
    bh_pool_header h;
    memcpy(&h, request_buf, sizeof h);
    char *p = (char *)request_buf + sizeof h;
    for (uint32_t i = 0; i < h.argc; i++) { request_argv[i] = p; p += strlen(p) + 1; }
    request_argv[h.argc] = NULL;
    for (uint32_t i = 0; i < h.envc; i++) { request_envp[i] = p; p += strlen(p) + 1; }
    request_envp[h.envc] = NULL;
    for (uint32_t i = 0; i < h.execc; i++) { request_exec[i] = p; p += strlen(p) + 1; }
    request_exec[h.execc] = NULL;
    request_exec_count = h.execc;
    request_cwd = p;
    request_fd_count = fd_count;
    request_active = 1;
    return 0;
}

int bh_pool_active(void) { return request_active; }

int bh_pool_accept(int socket) {
    int fd;
    while ((fd = accept4(socket, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR) {}
    return fd;
}

int bh_pool_pipe(int32_t fds[_Nonnull 2]) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return errno;
    fds[0] = p[0]; fds[1] = p[1];
    return 0;
}

int bh_pool_peer(int socket, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred c;
    socklen_t len = sizeof c;
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0) return errno;
    *pid = c.pid; *uid = c.uid; *gid = c.gid;
    return 0;
}

int bh_pool_install_fds(int **keep, uint32_t keep_count, uint32_t *installed) {
    uint32_t n = request_fd_count;
    *installed = 0;
    /* Everything that must survive and sits on a target number moves above the targets. */
    for (uint32_t k = 0; k < keep_count; k++) {
        int fd = *keep[k];
        if (fd >= 0 && (uint32_t)fd < n) {
            int moved = fcntl(fd, F_DUPFD_CLOEXEC, (int)n);
            if (moved < 0) return errno;
            close(fd);
            *keep[k] = moved;
        }
    }
    int moved[BH_POOL_MAX_FDS];
    for (uint32_t i = 0; i < n; i++) {
        moved[i] = fcntl(request_fds[i], F_DUPFD_CLOEXEC, (int)n);
        if (moved[i] < 0) return errno;
        close(request_fds[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (dup2(moved[i], (int)i) < 0) return errno;
        close(moved[i]);
    }
    *installed = n;
    return 0;
}

void bh_pool_close_request_fds(void) {
    for (uint32_t i = 0; i < request_fd_count; i++) close(request_fds[i]);
    request_fd_count = 0;
}

char *const *bh_pool_argv(void) { return request_active ? request_argv : NULL; }
char *const *bh_pool_envp(void) { return request_active ? request_envp : NULL; }
const char *const *bh_pool_exec_paths(uint32_t *count) {
    *count = request_active ? request_exec_count : 0;
    return request_active ? request_exec : NULL;
}
const char *bh_pool_cwd(void) { return request_active ? request_cwd : NULL; }

int bh_pool_timer_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}

int bh_pool_timer_arm(int timer, uint64_t nanoseconds) {
    struct itimerspec t;
    memset(&t, 0, sizeof t);
    t.it_value.tv_sec = (time_t)(nanoseconds / 1000000000u);
    t.it_value.tv_nsec = (long)(nanoseconds % 1000000000u);
    if (t.it_value.tv_sec == 0 && t.it_value.tv_nsec == 0) t.it_value.tv_nsec = 1; /* 0 disarms */
    return timerfd_settime(timer, 0, &t, NULL) < 0 ? errno : 0;
}

void bh_pool_timer_drain(int timer) {
    uint64_t expirations;
    while (read(timer, &expirations, sizeof expirations) < 0 && errno == EINTR) {}
}
