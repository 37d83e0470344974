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
#include "bh_seccomp_notify.h"
#include <sys/types.h>

/* One operation of the plan. Each op's name is its PlanStep case's (BulkheadModel/Plan/
 * PlanStep.swift) in C spelling: `.joinCgroups` is BH_OP_JOIN_CGROUPS, and an op that takes
 * arguments reads them from the bh_step_args member of the same name (`args.join_cgroups` would
 * be it; BH_OP_MOUNT_IF_PRESENT shares `args.mount`). Every string may be NULL only where its
 * comment says so.
 *
 * Paths inside the new root (`root_len` > 0 in mount, make_directory, create_file, mask,
 * make_read_only): the first root_len bytes of the path name the new root; the rest is resolved
 * beneath it (openat2 RESOLVE_IN_ROOT) without following any symlink or magic link, and the
 * mount is attached to the fd so resolved (open_tree or fsopen/fsmount, then move_mount). A
 * symlink on the way is ELOOP. root_len 0: the path is used as it is. */
enum bh_step_op {
    BH_OP_WAIT_FOR_RELEASE = 1,  /* block until the launcher has written the id maps and releases the init */
    BH_OP_SET_DUMPABLE,          /* prctl(PR_SET_DUMPABLE, dumpable) */
    BH_OP_NEW_SESSION,           /* setsid(): no controlling terminal (TIOCSTI) */
    BH_OP_MOUNT,                 /* mount(source, target, fstype, flags, data) */
    BH_OP_MOUNT_IF_PRESENT,      /* BH_OP_MOUNT, skipped when the target does not exist */
    BH_OP_MAKE_DIRECTORY,        /* mkdir(path, mode); EEXIST is fine. Inside the root: mkdirat in the
                                    parent, opened as a mount target is */
    BH_OP_CREATE_FILE,           /* an empty regular file, a bind target (O_CREAT | O_NOFOLLOW). Inside
                                    the root: mknodat in the parent, opened as a mount target is */
    BH_OP_SYMLINK,               /* symlink(target, link_path); EEXIST is fine */
    BH_OP_CHANGE_DIRECTORY,      /* chdir(path) */
    BH_OP_PIVOT_ROOT,            /* pivot_root(new_root, put_old) */
    BH_OP_UNMOUNT_DETACHED,      /* umount2(path, MNT_DETACH) */
    BH_OP_SET_MOUNT_ATTRIBUTES,  /* mount_setattr(path, recursive ? AT_RECURSIVE : 0, set attr_set MOUNT_ATTR_*) */
    BH_OP_REFUSE_SYMLINKS,       /* refuse if any component of path is a symlink (openat2
                                    RESOLVE_NO_SYMLINKS); missing_ok: a missing path is fine */
    BH_OP_MASK,                  /* hide path: a file gets null_device (a /dev/null path) bound over it, a
                                    directory a read-only empty tmpfs; a missing path is skipped */
    BH_OP_MAKE_READ_ONLY,        /* bind path onto itself, read-only (recursive); a missing path is skipped */
    BH_OP_SET_HOSTNAME,          /* sethostname(name) */
    BH_OP_LOOPBACK_UP,           /* bring "lo" up in the new network namespace */
    BH_OP_SET_RLIMIT,            /* setrlimit(resource, {soft, hard}) */
    BH_OP_DROP_BOUNDING_SET,     /* drop every capability 0..cap_last_cap not in keep from the bounding set */
    BH_OP_KEEP_CAPABILITIES,     /* prctl(PR_SET_KEEPCAPS, keep) */
    BH_OP_SET_GROUPS,            /* setgroups(count, gids): count 0 drops every supplementary group */
    BH_OP_SET_GID,               /* setresgid(gid, gid, gid) */
    BH_OP_SET_UID,               /* setresuid(uid, uid, uid) */
    BH_OP_SET_CAPABILITIES,      /* capset(effective, permitted, inheritable); ambient cleared */
    BH_OP_NO_NEW_PRIVILEGES,     /* prctl(PR_SET_NO_NEW_PRIVS, 1) */
    BH_OP_FORK_WORKLOAD,         /* init forks the workload; the remaining steps run in the workload */
    BH_OP_CLOSE_STRAY_FILE_DESCRIPTORS, /* close every fd but 0, 1, 2, the workload's exec pipe and the
                                    config's preserve_fds (whose close-on-exec flag is cleared) */
    BH_OP_LOAD_SECCOMP,          /* seccomp(SECCOMP_SET_MODE_FILTER) with the config's program */
    BH_OP_EXEC,                  /* execve each of the config's exec_paths in turn (PATH search) */
    BH_OP_UNSHARE_NAMESPACES,    /* unshare(clone_flags, CLONE_NEW* only) */
    BH_OP_LANDLOCK_CREATE_RULESET, /* landlock_create_ruleset(handled_filesystem, handled_network) */
    BH_OP_LANDLOCK_ALLOW_PATH,   /* allow access beneath path (file rights only, if path is not a directory) */
    BH_OP_LANDLOCK_ALLOW_PORT,   /* allow access (bind/connect) on TCP port */
    BH_OP_LANDLOCK_RESTRICT_SELF, /* landlock_restrict_self, then close the ruleset */
    BH_OP_PAUSE,                 /* a pod's holder: wait, doing nothing, until killed (the pause container) */
    BH_OP_ATTACH_TERMINAL,       /* setsid, TIOCSCTTY on fd, dup2 it onto 0, 1, 2, close it */
    BH_OP_BECOME_TRACEE,         /* record mode: PTRACE_TRACEME and stop; the init traces from here (bh_recorder.h) */
    BH_OP_JOIN_CGROUPS,          /* wait on the sync channel for the launcher's cgroup_join_count v1 `tasks`
                                    files (sent once the leaves exist with their limits), write "0" to each */
    BH_OP_ENTER_WORKING_DIRECTORY, /* the workload's cwd: openat2(path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
                                    from "/", fchdir, then getcwd must be inside the root (EXDEV if not) */
    BH_OP_MAKE_MOUNT_POINT,      /* a bind or tmpfs target inside the new root (root_len > 0) that need not
                                    exist: each component is opened with openat2(RESOLVE_IN_ROOT |
                                    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) relative to the fd of the
                                    one before (a symlink is ELOOP, "." or ".." EINVAL); a missing one is
                                    made there (mkdirat; the last one mknodat for a file target). Where the
                                    parent cannot get it (EROFS, EACCES, EPERM: the read-only root), the
                                    parent is covered by a new tmpfs holding its entries (each bound back
                                    from the parent's fd, symlinks copied), the entry is made in it, and
                                    the tmpfs is made read-only. An existing target of the wrong type is
                                    ENOTDIR (a directory is needed) or EISDIR (a file is) */
    BH_OP_OPEN_TERMINAL,         /* --tty, after the final pivot_root: open /dev/pts/ptmx of the sandbox's own
                                    devpts (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
                                    from "/"), unlock it, open its slave with TIOCGPTPEER, fchown the slave to
                                    uid:gid, send the master to the launcher over fd (a SOCK_SEQPACKET socket,
                                    SCM_RIGHTS), then dup2 the slave onto fd: BH_OP_ATTACH_TERMINAL takes it
                                    from there, and the workload's tty is /dev/pts/N of its own /dev/pts */
    BH_OP_WAIT_EXEC_FIFO,        /* OCI `create`: the init (every setup step done, before the workload is
                                    forked) clears PDEATHSIG (the creating launcher exits now; the caller,
                                    a subreaper, adopts the init), sends BH_MSG_CREATED, then opens
                                    /proc/self/fd/<fd> (an O_PATH fd of the state directory's exec fifo)
                                    for writing, which blocks until `start` opens it for reading; writes
                                    one byte and makes the fifo's write end (close-on-exec) the message
                                    fd: later step failures reach `start` as bh_msg records, execve
                                    closes it (end of file: success) */
    BH_OP_RUN_HOOK,              /* OCI hooks run in the container (createContainer, before pivot_root; startContainer,
                                    after the exec fifo, before execve): bh_run_hook with the step's arguments; a hook
                                    that fails or times out fails the step (ECHILD, ETIMEDOUT, or execve's errno) */
    BH_OP_WRITE_SYSCTL,          /* OCI linux.sysctl, before the read-only paths: open path (under the sandbox's
                                    own /proc/sys; O_WRONLY | O_NOFOLLOW) and write value */
    BH_OP_MOUNT_CGROUPS,         /* OCI mounts[type=cgroup], in the final root after BH_OP_JOIN_CGROUPS: with
                                    temporary_namespace, open /proc/self/ns/cgroup and unshare(CLONE_NEWCGROUP)
                                    first (its root is then the init's own cgroup in every hierarchy) and setns
                                    back after. /sys/fs/cgroup (reached without symlinks) gets a tmpfs, a
                                    directory per name of names (space-separated hierarchy names: v1 controllers
                                    joined by ",", "unified" for cgroup2) with that hierarchy mounted on it (a
                                    symlink per controller of a co-mounted one), then the tmpfs is made read-only;
                                    the single name "cgroup2" mounts cgroup2 on /sys/fs/cgroup itself. Every
                                    cgroup mount is nosuid, nodev, noexec, and read-only with read_only */
    BH_OP_WAIT_POOL_REQUEST,     /* the warm pool (bh_pool.h): every setup step done, before the workload is
                                    forked, send BH_MSG_POOL_READY and wait on fd (a SOCK_SEQPACKET socket)
                                    for one request: argv, envp, candidate paths, working directory and the
                                    fds that become the workload's 0 .. n-1; the steps after it use them */
    BH_OP_RAISE_AMBIENT_CAPABILITIES, /* OCI process.capabilities.ambient, after BH_OP_SET_CAPABILITIES:
                                    prctl(PR_CAP_AMBIENT_RAISE) for each capability of mask (each must be
                                    permitted and inheritable: EPERM otherwise, as the kernel says) */
};

/* The arguments of each op that has any: the member named after the op. */
struct bh_mount_args {
    const char *_Nullable source;   /* NULL: none (a filesystem without a source) */
    const char *_Nullable target;
    const char *_Nullable fstype;   /* NULL with MS_BIND only */
    const char *_Nullable data;     /* "key=value,flag" options, NULL: none */
    uint64_t flags;                 /* MS_* */
    uint32_t root_len;
};
struct bh_make_directory_args { const char *_Nullable path; uint32_t mode; uint32_t root_len; };
struct bh_create_file_args { const char *_Nullable path; uint32_t root_len; };
struct bh_make_mount_point_args { const char *_Nullable path; uint32_t root_len; uint32_t directory; };
struct bh_symlink_args { const char *_Nullable target; const char *_Nullable link_path; };
struct bh_path_args { const char *_Nullable path; };
struct bh_pivot_root_args { const char *_Nullable new_root; const char *_Nullable put_old; };
struct bh_set_mount_attributes_args { const char *_Nullable path; uint64_t attr_set; uint32_t recursive; };
struct bh_refuse_symlinks_args { const char *_Nullable path; uint32_t missing_ok; };
struct bh_mask_args { const char *_Nullable path; const char *_Nullable null_device; uint32_t root_len; };
struct bh_make_read_only_args { const char *_Nullable path; uint32_t root_len; };
struct bh_set_hostname_args { const char *_Nullable name; };
struct bh_set_rlimit_args { uint32_t resource; uint64_t soft; uint64_t hard; }; /* RLIMIT_*, RLIM_INFINITY = ~0 */
struct bh_capability_mask_args { uint64_t keep; };                              /* bit n: capability n */
struct bh_flag_args { uint32_t on; };
/* The primary group plus FieldRules.maxSupplementalGroups (32); the model refuses more. */
#define BH_MAX_GROUPS 33
struct bh_set_groups_args { uint32_t count; uint32_t gids[BH_MAX_GROUPS]; };   /* count 0: drop all */
struct bh_id_args { uint32_t id; };
struct bh_set_capabilities_args { uint64_t effective; uint64_t permitted; uint64_t inheritable; };
struct bh_unshare_namespaces_args { uint64_t clone_flags; };
struct bh_landlock_create_ruleset_args { uint64_t handled_filesystem; uint64_t handled_network; };
struct bh_landlock_allow_path_args { const char *_Nullable path; uint64_t access; };
struct bh_landlock_allow_port_args { uint16_t port; uint64_t access; };
struct bh_attach_terminal_args { int32_t fd; };
struct bh_open_terminal_args { int32_t fd; uint32_t uid; uint32_t gid; };
struct bh_wait_exec_fifo_args { int32_t fd; };
/* One OCI hook: root non-NULL: the hook's child chroots there (and chdirs to /) before execve,
 * so that path, its interpreter and its libraries resolve in the runtime's file system (the
 * host's tree, at /oldroot before the final pivot_root); argv/envp NULL-terminated, prepared
 * before clone3; state_fd: a sealed memfd holding the state JSON (the hook's stdin, read from
 * offset 0); timeout_ms 0: no limit. */
struct bh_run_hook_args {
    const char *path;
    const char *root;
    int32_t state_fd;
    char *const *argv;
    char *const *envp;
    int32_t timeout_ms;
};
struct bh_write_sysctl_args { const char *_Nullable path; const char *_Nullable value; };
struct bh_mount_cgroups_args { const char *_Nullable names; uint32_t read_only; uint32_t temporary_namespace; };
struct bh_wait_pool_request_args { int32_t fd; };

union bh_step_args {
    struct bh_mount_args mount;                     /* BH_OP_MOUNT, BH_OP_MOUNT_IF_PRESENT */
    struct bh_make_directory_args make_directory;
    struct bh_create_file_args create_file;
    struct bh_make_mount_point_args make_mount_point;
    struct bh_symlink_args symlink;
    struct bh_path_args change_directory;
    struct bh_path_args enter_working_directory;
    struct bh_pivot_root_args pivot_root;
    struct bh_path_args unmount_detached;
    struct bh_set_mount_attributes_args set_mount_attributes;
    struct bh_refuse_symlinks_args refuse_symlinks;
    struct bh_mask_args mask;
    struct bh_make_read_only_args make_read_only;
    struct bh_set_hostname_args set_hostname;
    struct bh_set_rlimit_args set_rlimit;
    struct bh_capability_mask_args drop_bounding_set;
    struct bh_flag_args set_dumpable;
    struct bh_flag_args keep_capabilities;
    struct bh_set_groups_args set_groups;
    struct bh_id_args set_gid;
    struct bh_id_args set_uid;
    struct bh_set_capabilities_args set_capabilities;
    struct bh_unshare_namespaces_args unshare_namespaces;
    struct bh_landlock_create_ruleset_args landlock_create_ruleset;
    struct bh_landlock_allow_path_args landlock_allow_path;
    struct bh_landlock_allow_port_args landlock_allow_port;
    struct bh_attach_terminal_args attach_terminal;
    struct bh_open_terminal_args open_terminal;
    struct bh_wait_exec_fifo_args wait_exec_fifo;
    struct bh_write_sysctl_args write_sysctl;
    struct bh_mount_cgroups_args mount_cgroups;
    struct bh_wait_pool_request_args wait_pool_request;
    struct bh_run_hook_args run_hook;
    struct bh_capability_mask_args raise_ambient_capabilities;
};

/* A step: the op and its arguments (ops without arguments leave args zeroed). */
typedef struct bh_step {
    enum bh_step_op op;
    union bh_step_args args;
} bh_step;

typedef struct bh_spawn_config {
    uint64_t clone_flags;                   /* CLONE_NEW* only; CLONE_PIDFD is added here */
    int32_t cgroup_fd;                      /* >= 0: CLONE_INTO_CGROUP with this directory fd */
    int32_t fail_at_step;                   /* test-only fault injection: fail the step at this index of
                                               steps with ECANCELED; -1: none (FaultPoint.step) */
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
    /* cgroup v1: how many `tasks` files (0 to BH_CGROUP_JOIN_MAX) the launcher sends, after
     * clone3, once it has created the v1 leaves and written their limits: at BH_OP_JOIN_CGROUPS
     * the init waits on the sync channel for that one message (bh_send_fds, byte 1) and
     * writes "0" to each file: the kernel moves the calling thread without taking the global
     * cgroup_threadgroup_rwsem (Linux 6.0, "cgroup: Optimize single thread migration"), whose
     * write side waits for an RCU grace period (milliseconds) when the launcher moves the
     * process by pid. The write is checked against the opener's (the launcher's) credentials.
     * 0: the step does nothing (no v1 leaf, or a pure cgroup v2 host). */
    uint32_t cgroup_join_count;
    /* >= 0, a new user namespace in clone_flags and a launcher running as euid 0: clone3 runs
     * with this host uid as its effective uid (the calling thread only, capabilities kept with
     * SECBIT_NO_SETUID_FIXUP), so the user namespace is owned by it and not by root. The kernel
     * charges per-user budgets of everything inside (inotify instances and watches, user
     * namespaces; kernel/ucount.c) to the owner in the initial namespace. -1: owned by the
     * launcher's euid. */
    int64_t userns_owner;
    /* Which call was refused (bh_seccomp_notify.h): non-NULL, BH_OP_LOAD_SECCOMP loads the
     * notifying program with a listener and hands the listener to the launcher
     * (bh_seccomp_load_notifying). The init keeps the channel only until it has forked the
     * workload; no other process has it. NULL: seccomp_prog alone. */
    const bh_seccomp_notify_config *_Nullable seccomp_notify;
} bh_spawn_config;

/* What the sandbox's init tells the supervisor, one fixed record at a time. */
enum bh_msg_kind {
    BH_MSG_STEP_FAILED = 1, /* step = index into steps, err = errno; nothing was executed */
    BH_MSG_EXEC_OK = 2,     /* the workload passed execve; value = its pid inside the sandbox */
    BH_MSG_EXITED = 3,      /* the workload ended; value = its wait status */
    BH_MSG_CREATED = 4,     /* OCI `create`: every setup step succeeded; the init waits on the exec fifo */
    BH_MSG_POOL_READY = 5,  /* warm pool: every setup step succeeded; the init waits for its request */
    BH_MSG_EXITED_LAST = 6, /* as BH_MSG_EXITED, and the init has no child left: every process the
                             * workload made has ended and been reaped (each was the init's
                             * descendant, re-parented to it, the subreaper); the init only exits
                             * next. The warm pool answers its client here, before the init's own
                             * exit (its address space, its namespaces) is torn down. */
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

/* Return convention (bh_common.h): every compound shim here returns 0 or a positive errno and
 * hands values back through out-parameters; bh_pidfd_send_signal, which wraps one system call,
 * keeps the kernel's -1/errno. The child side reports a failed step's positive errno to the
 * parent in bh_msg.err. */

/* Creates the sandbox's init with clone3. Returns 0, or a positive errno from pipe2/clone3
 * (nothing was created then). The child waits at BH_OP_WAIT_FOR_RELEASE until a byte arrives
 * on sync_fd, or exits if the parent goes away. */
int bh_spawn(const bh_spawn_config *_Nonnull config, bh_spawn_result *_Nonnull result);

/* The most cgroup v1 `tasks` files one sandbox joins (one per v1 hierarchy bulkhead uses). */
#define BH_CGROUP_JOIN_MAX 16 /* at most BH_FD_PASSING_MAX */

/* The launcher's side of BH_OP_JOIN_CGROUPS is bh_send_fds (bh_fd_passing.h): byte 1 on the
 * init's sync channel (bh_spawn_result.sync_fd), carrying the `tasks` files. */

/* OCI `exec`: a process that joins a running container.
 *
 *   runtime --clone3(CLONE_INTO_CGROUP when a v2 cgroup fd is given)--> joiner
 *   joiner: non-dumpable, closes every fd but 0-2, its pipes, the init's pidfd, the v1
 *           `tasks` files, the terminal fd and the preserve_fds; writes "0" to each `tasks`
 *           file; setns(target_pidfd, first_namespaces), then setns(target_pidfd, namespaces);
 *           forks the process (born in the container's PID namespace, root and working
 *           directory the container's root) --> runs process->steps (the step executor of
 *           bh_spawn: identity, rlimits, capabilities, no_new_privs, terminal, close_range,
 *           working directory inside the root, seccomp, execve)
 *   joiner: reports the process's pid (or the failed step), waits until the runtime holds a
 *           pidfd of it, exits; the process is re-parented to the runtime, which must be a
 *           child subreaper.
 * Only process's steps, seccomp, exec paths, argv, envp, preserve_fds and fail_at_step are
 * read; its clone_flags, cgroup_fd, cgroup_join_count, join_* and userns_owner are not. */
typedef struct bh_exec_config {
    const bh_spawn_config *_Nonnull process;
    int32_t target_pidfd;       /* pidfd of the container's init (the runtime checked its start time) */
    uint64_t first_namespaces;  /* CLONE_NEW* of the init's namespaces the host's user namespace owns */
    uint64_t namespaces;        /* CLONE_NEW* of the others: its user namespace and the ones it owns */
    int32_t cgroup_fd;          /* >= 0: the container's cgroup v2 directory (CLONE_INTO_CGROUP) */
    const int32_t *_Nullable cgroup_join_fds; /* the container's v1 `tasks` files, opened by the runtime */
    uint32_t cgroup_join_count; /* at most BH_CGROUP_JOIN_MAX */
} bh_exec_config;

/* Where an exec failed, in bh_exec_result.step (>= 0: the index of the failed step). */
enum {
    BH_EXEC_STAGE_RUNTIME = -1,              /* the runtime's pipe2/clone3/pidfd_open */
    BH_EXEC_STAGE_CLOSE_FDS = -2,            /* the joiner's first actions (dumpable, inherited fds) */
    BH_EXEC_STAGE_JOIN_CGROUPS = -3,         /* writing "0" to the v1 `tasks` files */
    BH_EXEC_STAGE_JOIN_HOST_NAMESPACES = -4, /* setns, first_namespaces */
    BH_EXEC_STAGE_JOIN_NAMESPACES = -5,      /* setns, namespaces */
    BH_EXEC_STAGE_FORK = -6,                 /* the exec pipe or fork of the process */
};

typedef struct bh_exec_result {
    int32_t pid;    /* the process's pid in the runtime's PID namespace */
    int32_t pidfd;  /* a pidfd of it (close-on-exec) */
    int32_t step;   /* on failure: a step index or a BH_EXEC_STAGE_* */
} bh_exec_result;

/* Returns 0 once the process has passed execve (out->pid, out->pidfd), or a positive errno
 * with out->step saying where (nothing is left running then). */
int bh_exec_into(const bh_exec_config *_Nonnull config, bh_exec_result *_Nonnull result);

/* Makes the calling process a child subreaper, so that a pod's containers, whose trampoline
 * exits, are re-parented to it. 0 or a positive errno. */
int bh_become_subreaper(void);

/* --tty: the channel over which the sandbox's init sends the master of the pty it opens in its
 * own devpts (BH_OP_OPEN_TERMINAL): a SOCK_SEQPACKET socketpair, both ends close-on-exec, the
 * launcher's non-blocking. 0 or a positive errno. */
int bh_terminal_channel(int *_Nonnull launcher_end, int *_Nonnull sandbox_end);

/* Receives the pty master from the channel (never blocks): *master = the fd (close-on-exec), or
 * -1 when nothing has arrived yet. 0, or a positive errno: EPIPE when the channel closed without
 * one, EBADMSG when what arrived is not exactly one pty master (it is closed). */
int bh_receive_pty_master(int channel, int *_Nonnull master);

/* pidfd_send_signal(2): a wrapper of one system call, -1/errno. */
int bh_pidfd_send_signal(int pidfd, int sig);

/* Signal-mask helpers for the supervisor (sigprocmask + signalfd). The set is SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH. Blocks them and stores a signalfd
 * (close-on-exec, non-blocking) in *fd; 0 or a positive errno. */
int bh_block_supervisor_signals(int *_Nonnull fd);
/* The OCI runtime in the foreground (as runc): every signal but SIGKILL, SIGSTOP and SIGPIPE
 * (glibc's reserved 32 and 33 included, through the kernel's calls) blocked and read from a signalfd (close-on-exec, non-blocking) stored in *fd; SIGPIPE is
 * ignored. 0 or a positive errno. */
int bh_block_forwardable_signals(int *_Nonnull fd);
/* Reads one signal from the signalfd into *signo (0 when none is pending); 0 or a positive
 * errno. */
int bh_read_signalfd(int fd, int *_Nonnull signo);

/* Runs one OCI hook (bh_run_hook_args): clone3 with a pidfd; the child resets its signal
 * mask and dispositions, takes state_fd (from offset 0) as stdin and execs; the caller waits up
 * to timeout_ms and SIGKILLs the hook on timeout. 0 when it exited 0; ETIMEDOUT; ECHILD when it
 * exited non-zero or was killed (*wait_status says how); else the errno of clone3 or execve.
 * Async-signal-safe, no allocation: the sandbox's init runs it, and so does the launcher. */
int bh_run_hook(const struct bh_run_hook_args *hook, int *wait_status);

/* An OCI hook's state: a memfd (close-on-exec, sealable) made before clone3 (the init
 * inherits it), filled once the init's pid is known and sealed against every write, so that
 * no hook changes what the next one reads. The fd or -errno; 0 or an errno. */
int bh_state_memfd(void);
int bh_state_memfd_fill(int fd, const void *data, size_t len);

#endif
