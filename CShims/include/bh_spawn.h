#ifndef BH_SPAWN_H
#define BH_SPAWN_H
/* The launcher's child side: everything between clone3 and execve.
 *
 * Swift builds a launch plan (an ordered list of steps), turns it into the plain C records
 * below and calls bh_spawn(). The child runs the steps with raw system calls only: no
 * allocation, no Swift, no locks (the parent may have had other threads). A failed step is
 * reported to the parent as {step index, errno} on a close-on-exec pipe and the child exits;
 * the workload is never executed after a failure.
 *
 * Process shape:
 *   launcher (supervisor) --clone3(CLONE_NEW*)--> init (sandbox PID 1, this file's C loop)
 *                                                  --fork--> workload --execve--> CMD
 * The init's first action, before any step, closes every fd but 0-2, its two pipes, the v1
 * cgroup files, the pty slave and the preserve_fds (a failure there is reported as step -1).
 * Steps before BH_OP_FORK_WORKLOAD run in init (mounts, hostname, rlimits, identity,
 * capabilities, no_new_privs); the steps after it run in the workload child only
 * (fd hygiene, then the working directory, seccomp, execve). */
#include "bh_common.h"
#include "bh_recorder.h"
#include <sys/types.h>

/* One operation of the plan. Arguments: a, b, c, d are strings (NULL when unused),
 * n1, n2, n3 are numbers; each op documents what it reads. */
enum bh_step_op {
    BH_OP_WAIT_PARENT = 1, /* block until the parent has written the id maps */
    BH_OP_DUMPABLE,        /* prctl(PR_SET_DUMPABLE, n1) */
    BH_OP_SETSID,          /* setsid(): no controlling terminal (TIOCSTI) */
    BH_OP_MOUNT,           /* mount(a source, b target, c fstype, n1 flags, d data); n2 = 1: skip a missing target.
                              n3 > 0: b is inside the new root, whose path is b's first n3 bytes: b is
                              opened as BH_OP_MASK's and the mount attached to the fd (open_tree or
                              fsopen/fsmount, then move_mount); a symlink on the way is ELOOP */
    BH_OP_MKDIR,           /* mkdir(b, n1 mode); EEXIST is fine. n3 > 0: as BH_OP_MOUNT's, b's parent is
                              opened inside the new root without symlinks and mkdirat used */
    BH_OP_CREATE_FILE,     /* open(b, O_CREAT) then close: a bind target for a file. n3 > 0: mknodat of
                              an empty regular file in b's parent, opened as BH_OP_MKDIR's */
    BH_OP_SYMLINK,         /* symlink(a target, b linkpath) */
    BH_OP_CHDIR,           /* chdir(b) */
    BH_OP_PIVOT_ROOT,      /* pivot_root(a new_root, b put_old) */
    BH_OP_UMOUNT,          /* umount2(b, n1 flags) */
    BH_OP_SETATTR,         /* mount_setattr(b, n2 ? AT_RECURSIVE : 0, set n1 MOUNT_ATTR_*) */
    BH_OP_NO_SYMLINK,      /* refuse if any component of b is a symlink (openat2 RESOLVE_NO_SYMLINKS);
                              n1 = 1: a missing path is fine */
    BH_OP_MASK,            /* hide b: a file gets a (a /dev/null path) bound over it, a directory a
                              read-only empty tmpfs; a missing path is skipped. b is opened O_PATH
                              with no symlink or magic link (c: the root b is resolved in) and the
                              mount goes onto that fd (move_mount): a symlink is refused (ELOOP) */
    BH_OP_READONLY,        /* bind b onto itself and make it read-only (recursive); missing: skip.
                              Resolved and mounted through an fd as BH_OP_MASK */
    BH_OP_SETHOSTNAME,     /* sethostname(a) */
    BH_OP_LOOPBACK_UP,     /* bring "lo" up in the new network namespace */
    BH_OP_SETRLIMIT,       /* prlimit(0, n1 resource, {n2 soft, n3 hard}) */
    BH_OP_CAPBSET,         /* drop every capability 0..cap_last_cap not in mask n1 from the bounding set */
    BH_OP_KEEPCAPS,        /* prctl(PR_SET_KEEPCAPS, n1) */
    BH_OP_SETGROUPS,       /* setgroups(n2 ? 1 : 0, {n1}) */
    BH_OP_SETRESGID,       /* setresgid(n1, n1, n1) */
    BH_OP_SETRESUID,       /* setresuid(n1, n1, n1) */
    BH_OP_CAPSET,          /* capset(effective n1, permitted n2, inheritable n3); ambient cleared */
    BH_OP_NO_NEW_PRIVS,    /* prctl(PR_SET_NO_NEW_PRIVS, 1) */
    BH_OP_FORK_WORKLOAD,   /* init forks the workload; the remaining steps run in the workload */
    BH_OP_CLOSE_FDS,       /* close every fd but 0, 1, 2, the workload's exec pipe and the config's
                              preserve_fds (whose close-on-exec flag is cleared) */
    BH_OP_SECCOMP,         /* seccomp(SECCOMP_SET_MODE_FILTER) with the config's program */
    BH_OP_EXEC,            /* execve each of the config's exec_paths in turn (PATH search) */
    BH_OP_UNSHARE,         /* unshare(n1 CLONE_NEW* flags) */
    BH_OP_LANDLOCK_CREATE, /* landlock_create_ruleset(handled fs n1, handled net n2) */
    BH_OP_LANDLOCK_PATH,   /* allow n1 beneath path b (file rights only, if b is not a directory) */
    BH_OP_LANDLOCK_PORT,   /* allow n1 (bind/connect) on TCP port n2 */
    BH_OP_LANDLOCK_RESTRICT, /* landlock_restrict_self, then close the ruleset */
    BH_OP_PAUSE,           /* a pod's holder: wait, doing nothing, until killed (the pause container) */
    BH_OP_ATTACH_TTY,      /* setsid, TIOCSCTTY on fd n1, dup2 it onto 0, 1, 2, close it */
    BH_OP_TRACEME,         /* record mode: PTRACE_TRACEME and stop; the init traces from here (bh_recorder.h) */
    BH_OP_JOIN_CGROUPS,    /* write "0" to each cgroup_join_fds (v1 `tasks` files) and close it */
    BH_OP_WORKDIR,         /* the workload's cwd: openat2(b, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
                              from "/", fchdir, then getcwd must be inside the root (EXDEV if not) */
};

typedef struct bh_step {
    uint32_t op;
    uint32_t reserved;
    const char *_Nullable a;
    const char *_Nullable b;
    const char *_Nullable c;
    const char *_Nullable d;
    uint64_t n1;
    uint64_t n2;
    uint64_t n3;
} bh_step;

typedef struct bh_spawn_config {
    uint64_t clone_flags;                   /* CLONE_NEW* only; CLONE_PIDFD is added here */
    int32_t cgroup_fd;                      /* >= 0: CLONE_INTO_CGROUP with this directory fd */
    int32_t fail_at_step;                   /* test-only fault injection: fail step N with ECANCELED; -1 off */
    const bh_step *_Nonnull steps;
    uint32_t step_count;
    uint32_t seccomp_len;                   /* bytes of a classic BPF program (8 per instruction) */
    const uint8_t *_Nullable seccomp_prog;
    uint64_t seccomp_flags;                 /* SECCOMP_FILTER_FLAG_* */
    const char *const _Nonnull *_Nonnull exec_paths; /* candidate paths for argv[0] */
    uint32_t exec_path_count;
    uint32_t preserve_fd_count;
    const int32_t *_Nullable preserve_fds;
    char *const _Nullable *_Nonnull argv;   /* NULL-terminated */
    char *const _Nullable *_Nonnull envp;   /* NULL-terminated */
    /* Record mode (`bulkhead seccomp record`): a MAP_SHARED table the init fills by tracing the
     * workload (bh_recorder.h); NULL for an ordinary launch. */
    struct bh_record_table *_Nullable record_table;
    /* Pod mode: namespaces to join before clone3, as (fd, CLONE_NEW* type) pairs, the user
     * namespace first. The sandbox is then created by a single-threaded trampoline that
     * setns()es into them, so that the namespaces clone3 creates are owned by the joined user
     * namespace; the trampoline exits and the init is re-parented to the launcher, which must be
     * a child subreaper (PR_SET_CHILD_SUBREAPER). */
    uint32_t join_count;
    const int32_t *_Nullable join_fds;
    const int32_t *_Nullable join_types;
    /* cgroup v1: the sandbox's `tasks` files, opened for writing by the launcher. At
     * BH_OP_JOIN_CGROUPS the init writes "0" to each: the kernel moves the calling thread
     * without taking the global cgroup_threadgroup_rwsem (Linux 6.0, "cgroup: Optimize single
     * thread migration"), whose write side waits for an RCU grace period (milliseconds) when the
     * launcher moves the process by pid. The write is checked against the opener's credentials. */
    uint32_t cgroup_join_count;
    const int32_t *_Nullable cgroup_join_fds;
    /* >= 0, a new user namespace in clone_flags and a launcher running as euid 0: clone3 runs
     * with this host uid as its effective uid (the calling thread only, capabilities kept with
     * SECBIT_NO_SETUID_FIXUP), so the user namespace is owned by it and not by root. The kernel
     * charges per-user budgets of everything inside (inotify instances and watches, user
     * namespaces; kernel/ucount.c) to the owner in the initial namespace. -1: owned by the
     * launcher's euid. */
    int64_t userns_owner;
} bh_spawn_config;

/* What the sandbox's init tells the supervisor, one fixed record at a time. */
enum bh_msg_kind {
    BH_MSG_STEP_FAILED = 1, /* step = index into steps, err = errno; nothing was executed */
    BH_MSG_EXEC_OK = 2,     /* the workload passed execve; value = its pid inside the sandbox */
    BH_MSG_EXITED = 3,      /* the workload ended; value = its wait status */
};

typedef struct bh_msg {
    uint32_t kind;
    int32_t step;
    int32_t err;
    int32_t value;
} bh_msg;

typedef struct bh_spawn_result {
    int32_t pid;     /* the init's pid in the launcher's namespace */
    int32_t pidfd;   /* pidfd of init (CLONE_PIDFD) */
    int32_t msg_fd;  /* read end: bh_msg records, EOF when init has exited */
    int32_t sync_fd; /* write end: write one byte once the id maps are written */
} bh_spawn_result;

/* Creates the sandbox's init with clone3. Returns 0, or a positive errno from pipe2/clone3
 * (nothing was created then). The child waits at BH_OP_WAIT_PARENT until a byte arrives on
 * sync_fd, or exits if the parent goes away. Compound shim: 0 or a positive errno. */
int bh_spawn(const bh_spawn_config *_Nonnull config, bh_spawn_result *_Nonnull result);

/* Makes the calling process a child subreaper, so that a pod's containers, whose trampoline
 * exits, are re-parented to it. -1/errno. */
int bh_become_subreaper(void);

/* --tty: a pty pair, the master close-on-exec, the slave not (the sandbox inherits it).
 * Compound shim: 0 or a positive errno. */
int bh_open_pty(int *_Nonnull master, int *_Nonnull slave);

/* Highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap). */
int bh_cap_last_cap(void);

/* Wrappers kept -1/errno: pidfd_send_signal(2) and close_range(2). */
int bh_pidfd_send_signal(int pidfd, int sig);

/* Signal-mask helpers for the launcher (sigprocmask + signalfd), called on its main thread before
 * it starts any other, so that a pod's container threads inherit the mask. The set is
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH. Returns a signalfd
 * (close-on-exec, non-blocking) or -1/errno. */
int bh_block_supervisor_signals(void);
/* Reads one signal from the signalfd: the signal number, 0 when none is pending, -1/errno. */
int bh_read_signalfd(int fd);

#endif
