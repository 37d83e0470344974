#ifndef BH_POOL_H
#define BH_POOL_H
/* The warm pool (`bulkhead pool`): a sandbox whose init has run every setup step waits at
 * BH_OP_WAIT_POOL_REQUEST for one request (the command, its environment, working directory and
 * file descriptors), then forks the workload, which installs the fds, enters the directory,
 * loads the filter and execs. Everything on the sandbox's side is here: no allocation (static
 * buffers, the init's own copy after clone3), async-signal-safe calls only.
 *
 * The wire format, client -> pool and pool -> init alike (one SOCK_SEQPACKET message, the fds
 * as SCM_RIGHTS in the same message):
 *   struct bh_pool_header, then argc + envc + execc + 1 NUL-terminated strings, in order:
 *   argv, the environment ("NAME=value"), the candidate paths of argv[0] (pool -> init only;
 *   0 from a client), the working directory.
 * Every count and length is bounded below; anything else is refused (EMSGSIZE, EBADMSG). */
#include "bh_common.h"

#define BH_POOL_MAGIC 0x52504842u /* "BHPR" little-endian */
#define BH_POOL_VERSION 1u
#define BH_POOL_MAX_BYTES 131072u  /* the whole message, header included */
#define BH_POOL_MAX_ARGS 1024u
#define BH_POOL_MAX_ENV 1024u
#define BH_POOL_MAX_EXEC 256u
#define BH_POOL_MAX_STRING 32768u  /* one string, its NUL included */
#define BH_POOL_MIN_FDS 3u         /* 0, 1, 2 */
#define BH_POOL_MAX_FDS 16u        /* 0, 1, 2 and up to 13 --preserve-fds */

typedef struct bh_pool_header {
    uint32_t magic;
    uint32_t version;
    uint32_t argc;
    uint32_t envc;
    uint32_t execc;
    uint32_t fdc;     /* how many fds travel with the message: they become 0 .. fdc-1 */
    uint32_t length;  /* bytes of strings after the header */
    uint32_t flags;   /* 0 */
} bh_pool_header;

/* Checks a message (header and strings) as both sides read it: 0, or EBADMSG (a count over its
 * bound, a length that does not add up, a string without its NUL, a string over
 * BH_POOL_MAX_STRING, argc 0), or EMSGSIZE (over BH_POOL_MAX_BYTES). `fds` is how many fds
 * arrived with it, which must be fdc. No allocation. */
int bh_pool_check(const uint8_t *_Nonnull message, size_t length, uint32_t fds);

/* What a client's fd is, for the pool to refuse what would lead out of the sandbox through
 * /proc/self/fd/N (CVE-2024-21626's shape): BH_POOL_FD_OK (a regular file, pipe, socket or
 * character device opened for reading or writing), _DIRECTORY, _OPATH (opened with O_PATH),
 * _HANDLE (pidfd, nsfs, anon inode), _OTHER (a block device ...), _USERSPACE_FS (a regular file
 * of a FUSE filesystem: its server answers every close's FLUSH, and the kernel waits for the
 * answer without a timeout: a close by the pool, or by a pooled spawn's helper holding a copy of
 * the pool's fd table, would hang as long as the client's server likes), _UNSEEN_MOUNT (a file
 * of a mount this process cannot see, another namespace's or a detached one, whose superblock
 * no mount here shows: whether it is FUSE's cannot be learned without asking); or -errno. Whether a
 * file is FUSE's is learned without asking its server (statx without sync, the mount's
 * superblock from statmount, or its type in /proc/self/mountinfo before Linux 6.8), before fstat
 * and fstatfs, which a server may delay. */
#define BH_POOL_FD_OK 0
#define BH_POOL_FD_DIRECTORY 1
#define BH_POOL_FD_OPATH 2
#define BH_POOL_FD_HANDLE 3
#define BH_POOL_FD_OTHER 4
#define BH_POOL_FD_USERSPACE_FS 5
#define BH_POOL_FD_UNSEEN_MOUNT 6
int bh_pool_fd_kind(int fd);

/* Sends one message with `fd_count` fds (MSG_NOSIGNAL, EINTR retried). 0 or a positive errno. */
int bh_pool_send(int socket, const uint8_t *_Nonnull message, size_t length, const int32_t *_Nullable fds, uint32_t fd_count);

/* Receives one message into buf (capacity BH_POOL_MAX_BYTES + 1, so an oversized one is seen)
 * and its fds (close-on-exec) into fds (capacity BH_POOL_MAX_FDS). *length, *fd_count: what
 * came. 0, EPIPE (the peer closed), EMSGSIZE (message or fds truncated: every fd that came is
 * closed), or the call's errno. Blocks unless `nonblocking`. */
int bh_pool_receive(int socket, uint8_t *_Nonnull buf, size_t capacity, size_t *_Nonnull length,
                    int32_t *_Nonnull fds, uint32_t *_Nonnull fd_count, int nonblocking);

/* bh_pool_receive, closing nothing: fds (capacity BH_FD_PASSING_ALL) gets every fd that came,
 * *fd_count how many, whatever the answer; the caller closes them (bh_receive_message_keeping). */
int bh_pool_receive_keeping(int socket, uint8_t *_Nonnull buf, size_t capacity, size_t *_Nonnull length,
                            int32_t *_Nonnull fds, uint32_t *_Nonnull fd_count, int nonblocking);

/* accept4(2) with SOCK_CLOEXEC (EINTR retried): -1/errno, as the call. */
int bh_pool_accept(int socket);
/* pipe2(2) with O_CLOEXEC. 0 or a positive errno. */
int bh_pool_pipe(int32_t fds[_Nonnull 2]);

/* The pool's refill timer: a timerfd on CLOCK_MONOTONIC, close-on-exec and non-blocking (-1/errno
 * as the call); armed once for `nanoseconds` from now (0 or a positive errno); its expirations
 * read and discarded. */
int bh_pool_timer_create(void);
int bh_pool_timer_arm(int timer, uint64_t nanoseconds);
void bh_pool_timer_drain(int timer);

/* SO_PEERCRED of a unix socket: the peer's pid, uid and gid as the kernel recorded them at
 * connect(2) or listen(2). 0 or a positive errno. */
int bh_pool_peer(int socket, int32_t *_Nonnull pid, uint32_t *_Nonnull uid, uint32_t *_Nonnull gid);

/* The sandbox's side (spawn.c). BH_OP_WAIT_POOL_REQUEST: tell the launcher the init is ready
 * (a BH_MSG_POOL_READY record on msg_fd), receive one request on `channel`, check it
 * (bh_pool_check), keep it in static storage, close the channel. 0 or a positive errno. */
int bh_pool_wait_request(int channel, int msg_fd);
/* Whether a request was received (in the init, and in the workload it forks). */
int bh_pool_active(void);
/* The workload, first of BH_OP_CLOSE_STRAY_FILE_DESCRIPTORS: the received fds become 0 ..
 * fdc-1 (dup2, so not close-on-exec); each of `keep` (the exec pipe, the seccomp channel) that
 * sits on one of those numbers moves above them first (*keep[i] updated). 0 or errno. */
int bh_pool_install_fds(int *_Nonnull *_Nonnull keep, uint32_t keep_count, uint32_t *_Nonnull installed);
/* The init, once it has forked the workload: its own copies of the request's fds are closed
 * (the workload has them on 0 .. fdc-1), so a reader of the client's pipes sees their end when
 * the workload's processes close them, not when the init's exit is torn down. */
void bh_pool_close_request_fds(void);
/* The request's argv, envp, candidate paths and working directory (NULL when none received). */
char *_Nullable const *_Nullable bh_pool_argv(void);
char *_Nullable const *_Nullable bh_pool_envp(void);
const char *_Nullable const *_Nullable bh_pool_exec_paths(uint32_t *_Nonnull count);
const char *_Nullable bh_pool_cwd(void);

#endif
