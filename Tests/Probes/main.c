/*
 * bh-probe: runs the probes of SECURITY-PROBES.md from inside a sandbox and prints one line
 * per probe:
 *
 *     PROBE <row>.<name> <result> <errno-name> <detail>
 *
 * Every system call is made with arguments that make it fail harmlessly when it is *allowed*
 * (a bad pointer, a bad fd, an invalid flag or clock id, a bad reboot magic), so that an
 * allowed call ends in EFAULT/EBADF/EINVAL from the kernel while a filtered one ends in the
 * filter's errno (EPERM, or ENOSYS for clone3). Calls that only make sense for real (unshare,
 * clone with namespace flags, personality) run in a forked child that exits at once. Writes
 * to /proc write back the value just read, and only where that is harmless (the sandbox's own
 * hostname); /proc/sysrq-trigger and core_pattern are only opened for writing, never written.
 * No byte is ever injected into a terminal: TIOCSTI is tried on a bad fd and, if /dev/tty
 * opens, on it with a NULL argument pointer (the kernel faults on the pointer before it
 * queues anything). Network probes use UDP connect(), which sends no packet, to documentation
 * addresses (198.51.100.1, 2001:db8::1).
 *
 * Results:
 *   refused   the call failed with a "not permitted" errno (EPERM, ENOSYS, EACCES, EROFS, or
 *             the errno given with --filter-errno)
 *   allowed   the call reached the kernel: it succeeded, or failed on the harmless arguments
 *   absent / masked / not-masked / readonly / own-init / ... for the non-syscall rows
 *
 * Usage: bh-probe [--only ROWS] [--outside-pid PID] [--suid PATH] [--socket PATH]...
 *                 [--filter-errno N] [--hold MS] [--fork-max N] [--fd-max N]
 *                 [--inotify-max N] [--addkey-max N]
 *        bh-probe --euid        (prints "EUID <euid> <uid>"; the setuid helper of row 22)
 *
 * Part of bulkhead's test suite (Tests/BulkheadTests/SecurityProbeTests.swift); see
 * docs/security-probes.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <grp.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Numbers from the x86_64 table, for headers older than the call (kernel version noted). */
#ifndef SYS_clone3
#define SYS_clone3 435 /* 5.3 */
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428 /* 5.2 */
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429 /* 5.2 */
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430 /* 5.2 */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* 5.3 */
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438 /* 5.6 */
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442 /* 5.12 */
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425 /* 5.1 */
#endif

#define TIOCSTI_HIGH 0x100005412UL /* TIOCSTI with bit 32 set: the masked-compare bypass */
#define BAD_PTR ((void *)1)        /* never mapped: copy_from_user fails with EFAULT */
#define MAX_SOCKETS 64

static int only[32];               /* rows to run; all when none is set */
static int only_set;
static long outside_pid;           /* a pid of the host (the test runner's), for row 5 */
static const char *suid_path;      /* a setuid-root binary owned by the sandbox's root (row 22) */
static const char *extra_sockets[MAX_SOCKETS];
static int n_extra_sockets;
static int filter_errno;           /* a tagged filter's default errno, also "refused" */
static long hold_ms;               /* row 28: keep the resources this long after the limit */
static long fork_max = 64, fd_max = 2048, inotify_max = 256, addkey_max = 16;

static int want(int row) { return !only_set || only[row]; }

static const char *errname(int e) {
    if (e == 0) return "OK";
    const char *n = strerrorname_np(e);
    static char buf[16];
    if (n) return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

static void out(int row, const char *name, const char *result, int err, const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    for (char *p = detail; *p; p++) if (*p == '\n') *p = ' ';
    printf("PROBE %d.%s %s %s %s\n", row, name, result, errname(err), detail[0] ? detail : "-");
    fflush(stdout);
}

static int refusing(int e) {
    return e == EPERM || e == EACCES || e == EROFS || (filter_errno && e == filter_errno);
}

/* A raw system call's outcome: 0 on success, else errno. */
static int sc(long nr, long a, long b, long c, long d, long e, long f) {
    errno = 0;
    long r = syscall(nr, a, b, c, d, e, f);
    return r < 0 ? errno : 0;
}

/* Closes what a successful call returned when it is an fd (never expected to happen). */
static int scfd(long nr, long a, long b, long c, long d, long e, long f) {
    errno = 0;
    long r = syscall(nr, a, b, c, d, e, f);
    if (r >= 0) { close((int)r); return 0; }
    return errno;
}

/* ENOSYS is the filter's answer for clone3, but the kernel's own for a call it was built without
 * (this project's VM kernel has no CONFIG_KEXEC or CONFIG_MODULES): reported as "enosys". */
static void call(int row, const char *name, int err, const char *args) {
    out(row, name, err == ENOSYS ? "enosys" : (err != 0 && refusing(err)) ? "refused" : "allowed", err, "%s", args);
}

/* Runs fn in a forked child and returns its errno (0 = success), so that a call that succeeds
 * for real (unshare, clone with namespace flags, personality) changes only the child. */
static int in_child(int (*fn)(void)) {
    pid_t p = fork();
    if (p < 0) return -errno;
    if (p == 0) _exit(fn() & 0xff);
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int do_unshare_user(void) { return unshare(CLONE_NEWUSER) < 0 ? errno : 0; }
static int do_unshare_ns_pid(void) { return unshare(CLONE_NEWNS | CLONE_NEWPID) < 0 ? errno : 0; }
static int clone_with(unsigned long flags) {
    long r = syscall(SYS_clone, flags | SIGCHLD, 0L, 0L, 0L, 0L);
    if (r == 0) _exit(0);
    if (r < 0) return errno;
    waitpid((pid_t)r, NULL, 0);
    return 0;
}
static int do_clone_newuser(void) { return clone_with(CLONE_NEWUSER); }
static int do_clone_newns(void) { return clone_with(CLONE_NEWNS); }
static int do_clone_newnet(void) { return clone_with(CLONE_NEWNET); }
static int do_personality(void) {
    /* READ_IMPLIES_EXEC: outside the filter's allowed personas (0, 8, 0x20000, 0x20008, query) */
    return personality(READ_IMPLIES_EXEC) < 0 ? errno : 0;
}

static char *read_file(const char *path, char *buf, size_t n, int *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { *err = errno; return NULL; }
    /* procfs hands out a page per read(2) (seq_file): read until EOF, or mountinfo and other
     * long files would be cut at 4 KiB. */
    size_t got = 0;
    ssize_t k = 0;
    while (got < n - 1 && (k = read(fd, buf + got, n - 1 - got)) > 0) got += (size_t)k;
    *err = k < 0 ? errno : 0;
    close(fd);
    if (k < 0) return NULL;
    buf[got] = 0;
    return buf;
}

static char mountinfo[1 << 16];

/* The mountinfo line whose mount point is exactly path (the last one: the top of the stack). */
static const char *mount_at(const char *path, char *opts, size_t n) {
    const char *found = NULL;
    for (char *line = mountinfo; line && *line;) {
        char *nl = strchr(line, '\n');
        char mp[512] = "", o[256] = "";
        if (sscanf(line, "%*s %*s %*s %*s %511s %255s", mp, o) == 2 && strcmp(mp, path) == 0) {
            found = line;
            snprintf(opts, n, "%s", o);
        }
        line = nl ? nl + 1 : NULL;
    }
    return found;
}

/* ---- rows ---- */

static void row1_mounts(void) {
    char dir[] = "/tmp/bh-probe-XXXXXX";
    const char *target = mkdtemp(dir) ? dir : "/tmp";
    int e = mount("bh-probe", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k") < 0 ? errno : 0;
    if (e == 0) umount2(target, MNT_DETACH);
    call(1, "mount_tmpfs", e, target);
    /* Invalid flags: EINVAL before any lookup when allowed; /proc stays mounted. */
    call(1, "umount_proc", sc(SYS_umount2, (long)"/proc", 0x7fff0000, 0, 0, 0, 0), "umount2(/proc, bad flags)");
    call(1, "fsopen", scfd(SYS_fsopen, (long)"tmpfs", 0x7fff, 0, 0, 0, 0), "fsopen(tmpfs, bad flags)");
    call(1, "open_tree", scfd(SYS_open_tree, -1, (long)"/tmp", 0x7fff0000, 0, 0, 0), "open_tree(bad flags)");
    call(1, "move_mount", sc(SYS_move_mount, -1, (long)"", -1, (long)"", 0x7fff0000, 0), "move_mount(bad flags)");
    call(1, "mount_setattr", sc(SYS_mount_setattr, -1, (long)"", 0x7fff0000, 0, 0, 0), "mount_setattr(bad flags)");
    call(1, "pivot_root", sc(SYS_pivot_root, (long)BAD_PTR, (long)BAD_PTR, 0, 0, 0, 0), "pivot_root(bad pointers)");
    if (target != (const char *)"/tmp") rmdir(dir);
}

static void row2_namespaces(void) {
    call(2, "unshare_user", in_child(do_unshare_user), "unshare(CLONE_NEWUSER) in a child");
    call(2, "unshare_ns_pid", in_child(do_unshare_ns_pid), "unshare(CLONE_NEWNS|CLONE_NEWPID) in a child");
    call(2, "clone_newuser", in_child(do_clone_newuser), "clone(CLONE_NEWUSER) in a child");
    call(2, "clone_newns", in_child(do_clone_newns), "clone(CLONE_NEWNS) in a child");
    call(2, "clone_newnet", in_child(do_clone_newnet), "clone(CLONE_NEWNET) in a child");
}

static void row3_clone3(void) {
    call(3, "clone3", sc(SYS_clone3, (long)BAD_PTR, 88, 0, 0, 0, 0), "clone3(bad pointer, 88)");
}

static void row4_setns(void) {
    /* /proc/1 is the sandbox's own init, which is non-dumpable: its ns links cannot be opened. */
    int fd = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
    out(4, "open_init_netns", fd < 0 ? "refused" : "opened", fd < 0 ? errno : 0, "open(/proc/1/ns/net)");
    if (fd >= 0) close(fd);
    /* setns itself, into our own network namespace (harmless when allowed). */
    fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    call(4, "setns_net", fd < 0 ? errno : sc(SYS_setns, fd, CLONE_NEWNET, 0, 0, 0, 0), "setns(/proc/self/ns/net, CLONE_NEWNET)");
    if (fd >= 0) close(fd);
    char self_ns[128] = "", comm[64] = "";
    int e = readlink("/proc/self/ns/pid", self_ns, sizeof self_ns - 1) < 0 ? errno : 0;
    int e2 = 0;
    read_file("/proc/1/comm", comm, sizeof comm, &e2);
    comm[strcspn(comm, "\n")] = 0;
    int procs = 0;
    DIR *d = opendir("/proc");
    for (struct dirent *de; d && (de = readdir(d));) if (de->d_name[0] >= '1' && de->d_name[0] <= '9') procs++;
    if (d) closedir(d);
    /* The test compares pidns with the host's own: a different namespace whose pid 1 is our parent. */
    out(4, "proc1_init", getppid() == 1 && procs < 16 ? "own-init" : "foreign", e,
        "pid=%d ppid=%d pidns=%s init-comm=%s processes=%d", getpid(), getppid(), self_ns, comm[0] ? comm : "?", procs);
}

static void row5_outside(void) {
    long p = outside_pid ? outside_pid : 4194000; /* near pid_max: no sandbox process has it */
    char arg[64];
    snprintf(arg, sizeof arg, "pid=%ld (outside)", p);
    call(5, "ptrace_attach", sc(SYS_ptrace, 16 /* PTRACE_ATTACH */, p, 0, 0, 0, 0), arg);
    char buf[8];
    struct iovec l = {buf, sizeof buf}, r = {BAD_PTR, sizeof buf};
    call(5, "process_vm_readv", sc(SYS_process_vm_readv, p, (long)&l, 1, (long)&r, 1, 0), arg);
    call(5, "kcmp", sc(SYS_kcmp, getpid(), p, 0 /* KCMP_FILE */, 0, 0, 0), arg);
    call(5, "pidfd_open", scfd(SYS_pidfd_open, p, 0, 0, 0, 0, 0), arg);
    call(5, "pidfd_getfd", scfd(SYS_pidfd_getfd, -1, 0, 0, 0, 0, 0), "pidfd_getfd(bad pidfd)");
}

static void row6_keys(void) {
    call(6, "add_key", scfd(SYS_add_key, (long)BAD_PTR, (long)"bh-probe", (long)"x", 1, -2, 0), "add_key(bad type pointer)");
    call(6, "keyctl", sc(SYS_keyctl, 9999, 0, 0, 0, 0, 0), "keyctl(invalid operation 9999)");
    call(6, "request_key", scfd(SYS_request_key, (long)BAD_PTR, (long)"bh-probe", 0, 0, 0, 0), "request_key(bad type pointer)");
    char opts[256], buf[256];
    int e = 0;
    const char *m = mount_at("/proc/keys", opts, sizeof opts);
    char *c = read_file("/proc/keys", buf, sizeof buf, &e);
    out(6, "proc_keys", m ? "masked" : (e == ENOENT ? "absent" : "not-masked"), e, "bytes=%zu", c ? strlen(c) : 0);
}

static void row7to9(void) {
    call(7, "bpf_prog_load", scfd(SYS_bpf, 5 /* BPF_PROG_LOAD */, (long)BAD_PTR, 8, 0, 0, 0), "bpf(BPF_PROG_LOAD, bad attr pointer)");
    call(8, "perf_event_open", scfd(SYS_perf_event_open, (long)BAD_PTR, 0, -1, -1, 0, 0), "perf_event_open(bad attr pointer)");
    call(9, "open_by_handle_at", scfd(SYS_open_by_handle_at, -1, (long)BAD_PTR, O_RDONLY, 0, 0, 0), "open_by_handle_at(bad fd, bad handle)");
}

static void row10_tty(void) {
    call(10, "tiocsti", sc(SYS_ioctl, -1, 0x5412, (long)BAD_PTR, 0, 0, 0), "ioctl(bad fd, TIOCSTI)");
    call(10, "tiocsti_high", sc(SYS_ioctl, -1, (long)TIOCSTI_HIGH, (long)BAD_PTR, 0, 0, 0), "ioctl(bad fd, 0x100005412)");
    call(10, "tioclinux", sc(SYS_ioctl, -1, 0x541C, (long)BAD_PTR, 0, 0, 0), "ioctl(bad fd, TIOCLINUX)");
    call(10, "tcgets", sc(SYS_ioctl, -1, 0x5401, (long)BAD_PTR, 0, 0, 0), "ioctl(bad fd, TCGETS): an allowed ioctl, the control");
    /* The controlling terminal, if any: TIOCSTI with a NULL argument, so that even an allowed
     * call faults on the pointer before anything reaches the terminal's input queue. */
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        out(10, "ctty", "absent", errno, "open /dev/tty: no controlling terminal");
    } else {
        int e = sc(SYS_ioctl, fd, 0x5412, 0, 0, 0, 0);
        out(10, "ctty", e == EFAULT ? "present-allowed" : "present", e, "TIOCSTI(/dev/tty, NULL)");
        close(fd);
    }
    out(10, "stdin_tty", isatty(0) ? "tty" : "not-tty", 0, "isatty(0); never used for TIOCSTI");
}

static void row11to16(void) {
    call(11, "kexec_load", sc(SYS_kexec_load, 0, 0x7fffffff, 0, 0, 0, 0), "kexec_load(nr_segments too large)");
    call(11, "kexec_file_load", sc(SYS_kexec_file_load, -1, -1, 0, 0, 0x7fff0000, 0), "kexec_file_load(bad fds, bad flags)");
    call(11, "init_module", sc(SYS_init_module, (long)BAD_PTR, 64, (long)"", 0, 0, 0), "init_module(bad pointer)");
    call(11, "finit_module", sc(SYS_finit_module, -1, (long)"", 0, 0, 0, 0), "finit_module(bad fd)");
    call(11, "delete_module", sc(SYS_delete_module, (long)BAD_PTR, 0, 0, 0, 0, 0), "delete_module(bad name pointer)");
    call(12, "reboot", sc(SYS_reboot, 0x0bad0bad, 0x0bad0bad, 0 /* CAD_OFF */, 0, 0, 0), "reboot(bad magic)");
    call(13, "clock_settime", sc(SYS_clock_settime, 0x7fffffff, (long)BAD_PTR, 0, 0, 0, 0), "clock_settime(invalid clock, bad pointer)");
    call(13, "settimeofday", sc(SYS_settimeofday, (long)BAD_PTR, 0, 0, 0, 0, 0), "settimeofday(bad pointer)");
    call(13, "adjtimex", sc(SYS_adjtimex, (long)BAD_PTR, 0, 0, 0, 0, 0), "adjtimex(bad pointer)");
    call(13, "clock_adjtime", sc(SYS_clock_adjtime, 0x7fffffff, (long)BAD_PTR, 0, 0, 0, 0), "clock_adjtime(invalid clock, bad pointer)");
    call(14, "userfaultfd", scfd(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */ | 2, 0, 0, 0, 0, 0), "userfaultfd(USER_MODE_ONLY|invalid bit)");
    call(15, "io_uring_setup", scfd(SYS_io_uring_setup, 1, (long)BAD_PTR, 0, 0, 0, 0), "io_uring_setup(1, bad params pointer)");
    call(16, "acct", sc(SYS_acct, (long)BAD_PTR, 0, 0, 0, 0, 0), "acct(bad pointer)");
    call(16, "quotactl", sc(SYS_quotactl, (0x800001 /* Q_SYNC */ << 8) | 99, 0, 0, 0, 0, 0), "quotactl(Q_SYNC, invalid type)");
    call(16, "swapon", sc(SYS_swapon, (long)BAD_PTR, 0x7fff0000, 0, 0, 0, 0), "swapon(bad pointer, bad flags)");
    call(16, "syslog_read_all", sc(SYS_syslog, 3 /* READ_ALL */, 0, 0, 0, 0, 0), "syslog(READ_ALL, NULL, 0)");
    call(16, "personality", in_child(do_personality), "personality(READ_IMPLIES_EXEC) in a child");
}

static void row17_proc_writes(void) {
    /* Opened for writing only: nothing is ever written to either. */
    const char *paths[][2] = {{"sysrq_trigger", "/proc/sysrq-trigger"}, {"core_pattern", "/proc/sys/kernel/core_pattern"}};
    for (int i = 0; i < 2; i++) {
        int fd = open(paths[i][1], O_WRONLY | O_CLOEXEC);
        int e = fd < 0 ? errno : 0;
        if (fd >= 0) close(fd);
        out(17, paths[i][0], e == ENOENT ? "absent" : e == EROFS ? "readonly" : refusing(e) ? "refused" : "writable", e,
            "open(%s, O_WRONLY), nothing written", paths[i][1]);
    }
    /* A sysctl of the sandbox's own network namespace: its root passes the permission check
     * (net sysctls belong to the netns owner), so only the read-only mount refuses it: EROFS.
     * Writing back the current value is harmless. */
    {
        char v[64];
        int e = 0;
        if (!read_file("/proc/sys/net/ipv4/ip_forward", v, sizeof v, &e)) {
            out(17, "net_ip_forward", "absent", e, "read /proc/sys/net/ipv4/ip_forward");
        } else {
            int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
            e = fd < 0 ? errno : write(fd, v, strlen(v)) < 0 ? errno : 0;
            if (fd >= 0) close(fd);
            v[strcspn(v, "\n")] = 0;
            out(17, "net_ip_forward", e == 0 ? "writable" : e == EROFS ? "readonly" : "refused", e,
                "the sandbox netns' own sysctl; wrote the current value back (%s) if it opened", v);
        }
    }
    /* The hostname lives in the sandbox's UTS namespace: writing back the current value is harmless. */
    char cur[256];
    int e = 0;
    if (!read_file("/proc/sys/kernel/hostname", cur, sizeof cur, &e)) {
        out(17, "hostname", "absent", e, "read /proc/sys/kernel/hostname");
        return;
    }
    int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        out(17, "hostname", e == EROFS ? "readonly" : "refused", e, "open(O_WRONLY)");
        return;
    }
    e = write(fd, cur, strlen(cur)) < 0 ? errno : 0;
    close(fd);
    cur[strcspn(cur, "\n")] = 0;
    out(17, "hostname", e == 0 ? "writable" : e == EROFS ? "readonly" : "refused", e, "wrote the current value back: %s", cur);
}

static void row18_masked(void) {
    const char *paths[][2] = {
        {"kcore", "/proc/kcore"}, {"timer_list", "/proc/timer_list"}, {"sched_debug", "/proc/sched_debug"},
        {"acpi", "/proc/acpi"}, {"scsi", "/proc/scsi"}, {"sys_firmware", "/sys/firmware"},
        {"interrupts", "/proc/interrupts"}, {"latency_stats", "/proc/latency_stats"}, {"timer_stats", "/proc/timer_stats"},
        {"asound", "/proc/asound"}, {"sys_kernel_security", "/sys/kernel/security"},
        {"powercap", "/sys/devices/virtual/powercap"},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct stat st;
        if (lstat(paths[i][1], &st) < 0) { out(18, paths[i][0], "absent", errno, "%s", paths[i][1]); continue; }
        char opts[256] = "";
        int masked = mount_at(paths[i][1], opts, sizeof opts) != NULL;
        long content = 0;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(paths[i][1]);
            for (struct dirent *de; d && (de = readdir(d));) if (de->d_name[0] != '.') content++;
            if (d) closedir(d);
        } else {
            int fd = open(paths[i][1], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            char b[4096];
            ssize_t k = fd >= 0 ? read(fd, b, sizeof b) : -1;
            content = k < 0 ? -errno : k;
            if (fd >= 0) close(fd);
        }
        out(18, paths[i][0], masked ? "masked" : "not-masked", 0, "%s %s=%ld mount-opts=%s", paths[i][1],
            S_ISDIR(st.st_mode) ? "entries" : "bytes", content, masked ? opts : "-");
    }
}

static void row19_cgroups(void) {
    char dir[] = "/tmp/bh-probe-cg-XXXXXX";
    const char *target = mkdtemp(dir) ? dir : "/tmp";
    int e = mount("cgroup2", target, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? errno : 0;
    int entries = 0;
    if (e == 0) {
        DIR *d = opendir(target);
        for (struct dirent *de; d && (de = readdir(d));) if (de->d_type == DT_DIR && de->d_name[0] != '.') entries++;
        if (d) closedir(d);
        umount2(target, MNT_DETACH);
    }
    call(19, "mount_cgroup2", e, e == 0 ? "mounted and unmounted again" : target);
    if (target != (const char *)"/tmp") rmdir(dir);
    /* release_agent / notify_on_release of any visible v1 hierarchy: opened for writing, never written. */
    const char *names[] = {"release_agent", "notify_on_release"};
    for (int n = 0; n < 2; n++) {
        int found = 0, writable = 0, last = ENOENT;
        DIR *d = opendir("/sys/fs/cgroup");
        for (struct dirent *de; d && (de = readdir(d));) {
            if (de->d_name[0] == '.') continue;
            char p[512];
            snprintf(p, sizeof p, "/sys/fs/cgroup/%s/%s", de->d_name, names[n]);
            if (access(p, F_OK) != 0) continue;
            found++;
            int fd = open(p, O_WRONLY | O_CLOEXEC);
            if (fd >= 0) { writable++; close(fd); } else last = errno;
        }
        char p[512];
        snprintf(p, sizeof p, "/sys/fs/cgroup/%s", names[n]);
        if (access(p, F_OK) == 0) {
            found++;
            int fd = open(p, O_WRONLY | O_CLOEXEC);
            if (fd >= 0) { writable++; close(fd); } else last = errno;
        }
        if (d) closedir(d);
        out(19, names[n], !found ? "absent" : writable ? "writable" : "refused", found && !writable ? last : found ? 0 : ENOENT,
            "found=%d writable=%d under /sys/fs/cgroup", found, writable);
    }
    /* Any cgroup control file visible under /sys/fs/cgroup, opened for writing. */
    int files = 0, writable = 0, last = 0;
    const char *cands[] = {"/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/unified/cgroup.procs",
                           "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                           "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/pids/cgroup.procs"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (access(cands[i], F_OK) != 0) continue;
        files++;
        int fd = open(cands[i], O_WRONLY | O_CLOEXEC);
        if (fd >= 0) { writable++; close(fd); } else last = errno;
    }
    out(19, "cgroup_files", !files ? "absent" : writable ? "writable" : "refused", files ? last : ENOENT,
        "visible=%d writable=%d (cgroup.procs, pids.max, memory.limit_in_bytes, cpu.cfs_quota_us)", files, writable);
    char buf[4096];
    e = 0;
    int own = 1;
    if (read_file("/proc/self/cgroup", buf, sizeof buf, &e)) {
        for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
            char *path = strrchr(l, ':');
            if (!path || strcmp(path, ":/") != 0) own = 0;
        }
    } else own = 0;
    out(19, "own_cgroup", own ? "own-only" : "sees-outside", e, "every /proc/self/cgroup path is /");
}

static void row20_devices(void) {
    struct { const char *name; mode_t mode; dev_t dev; } nodes[] = {
        {"mknod_chr", S_IFCHR | 0600, makedev(1, 3)}, {"mknod_blk", S_IFBLK | 0600, makedev(254, 0)},
    };
    for (int i = 0; i < 2; i++) {
        char p[] = "/tmp/bh-probe-node-XXXXXX";
        int t = mkstemp(p);
        if (t >= 0) { close(t); unlink(p); }
        int e = mknod(p, nodes[i].mode, nodes[i].dev) < 0 ? errno : 0;
        if (e == 0) unlink(p);
        call(20, nodes[i].name, e, p);
    }
    const char *devs[][2] = {{"dev_mem", "/dev/mem"}, {"dev_kmsg", "/dev/kmsg"}, {"dev_port", "/dev/port"},
                             {"dev_vda", "/dev/vda"}, {"dev_sda", "/dev/sda"}, {"dev_kvm", "/dev/kvm"}};
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        int fd = open(devs[i][1], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        int e = fd < 0 ? errno : 0;
        if (fd >= 0) close(fd);
        out(20, devs[i][0], e == ENOENT ? "absent" : e == 0 ? "present" : "refused", e, "open(%s)", devs[i][1]);
    }
}

static void row21_status(void) {
    char buf[8192];
    int e = 0;
    if (!read_file("/proc/self/status", buf, sizeof buf, &e)) { out(21, "status", "unreadable", e, "-"); return; }
    const char *fields[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"};
    for (int i = 0; i < 7; i++) {
        char key[32], val[64] = "missing";
        snprintf(key, sizeof key, "\n%s:", fields[i]);
        char *p = strstr(buf, key);
        if (p) sscanf(p + strlen(key), " %63s", val);
        out(21, fields[i], val, 0, "/proc/self/status");
    }
}

/* Execs path --euid as uid/gid `as` (when as >= 0) and returns the euid it reports, or -1. */
static int exec_euid(const char *path, int as) {
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) return -1;
    pid_t p = fork();
    if (p == 0) {
        dup2(pfd[1], 1);
        if (as >= 0 && (setgroups(0, NULL) < 0 || setresgid(as, as, as) < 0 || setresuid(as, as, as) < 0)) _exit(126);
        execl(path, path, "--euid", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char b[128] = "";
    ssize_t k = read(pfd[0], b, sizeof b - 1);
    close(pfd[0]);
    waitpid(p, NULL, 0);
    if (k > 0) b[k] = 0;
    int euid = -1, ruid = -1;
    sscanf(b, "EUID %d %d", &euid, &ruid);
    return euid;
}

/* As the sandbox's root: a suid-capable tmpfs of our own, a setuid-root copy of this program on
 * it, run as uid 1000. Only possible where mount is allowed (the unconfined control), where it
 * shows that the probe does see an elevation when nothing prevents it. */
static void row22_selfmade(void) {
    if (getuid() != 0) { out(22, "setuid_selfmade", "skipped", 0, "needs the sandbox's uid 0"); return; }
    char dir[] = "/tmp/bh-probe-suid-XXXXXX";
    if (!mkdtemp(dir)) { out(22, "setuid_selfmade", "skipped", errno, "mkdtemp"); return; }
    int e = mount("bh-probe", dir, "tmpfs", MS_NODEV, "size=16m") < 0 ? errno : 0;
    if (e) { rmdir(dir); out(22, "setuid_selfmade", "refused", e, "mount a suid tmpfs"); return; }
    char path[128];
    snprintf(path, sizeof path, "%s/p", dir);
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), o = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
    char b[65536];
    for (ssize_t k; in >= 0 && o >= 0 && (k = read(in, b, sizeof b)) > 0;) if (write(o, b, k) != k) break;
    if (o >= 0) { fchown(o, 0, 0); fchmod(o, 04755); close(o); }
    if (in >= 0) close(in);
    int euid = exec_euid(path, 1000);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    out(22, "setuid_selfmade", euid < 0 ? "failed" : euid == 1000 ? "unchanged" : "elevated", 0,
        "setuid-root copy on a suid tmpfs, run as uid 1000: euid-after=%d", euid);
}

static void row22_setuid(void) {
    char opts[256] = "";
    mount_at("/", opts, sizeof opts);
    out(22, "root_nosuid", strstr(opts, "nosuid") ? "nosuid" : "suid", 0, "/ mount-opts=%s", opts);
    row22_selfmade();
    if (!suid_path) { out(22, "setuid_exec", "skipped", 0, "no --suid helper given"); return; }
    struct stat st;
    if (stat(suid_path, &st) < 0) { out(22, "setuid_exec", "skipped", errno, "%s", suid_path); return; }
    int euid = exec_euid(suid_path, -1);
    out(22, "setuid_exec", euid < 0 ? "failed" : euid == (int)geteuid() ? "unchanged" : "elevated", 0,
        "%s mode=%o owner=%d euid-before=%d euid-after=%d", suid_path, st.st_mode & 07777, st.st_uid, geteuid(), euid);
}

static char entry_fds[256];

static void row23_entry(void) {
    out(23, "fds", strcmp(entry_fds, "0,1,2") == 0 ? "only-0-1-2" : "extra", 0, "%s", entry_fds);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) { out(23, "cwd", "outside", errno, "getcwd failed"); return; }
    out(23, "cwd", strncmp(cwd, "(unreachable)", 13) == 0 || cwd[0] != '/' ? "outside" : "inside", 0, "%s", cwd);
}

static void row24_exe(void) {
    int fd = open("/proc/1/exe", O_WRONLY | O_CLOEXEC);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd); /* never written */
    out(24, "proc1_exe_write", fd < 0 ? "refused" : "OPENED", e, "open(/proc/1/exe, O_WRONLY), nothing written");
    fd = open("/proc/1/exe", O_RDONLY | O_CLOEXEC);
    e = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    out(24, "proc1_exe_read", fd < 0 ? "refused" : "opened", e, "open(/proc/1/exe, O_RDONLY)");
}

static int try_connect(const char *path) {
    int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    int e = 0;
    for (int i = 0; i < 3; i++) {
        int s = socket(AF_UNIX, types[i] | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) return errno;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        e = connect(s, (struct sockaddr *)&a, sizeof a) < 0 ? errno : 0;
        close(s); /* nothing is sent */
        if (e != EPROTOTYPE) break;
    }
    return e == EAGAIN || e == EINPROGRESS ? 0 : e;
}

static char sockets[MAX_SOCKETS][256];
static int n_sockets;

static void scan_sockets(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d)) && n_sockets < MAX_SOCKETS;) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) < 0) continue;
        if (S_ISSOCK(st.st_mode)) snprintf(sockets[n_sockets++], 256, "%.255s", p);
        else if (S_ISDIR(st.st_mode) && depth > 0) scan_sockets(p, depth - 1);
    }
    closedir(d);
}

static void row26_sockets(void) {
    const char *known[] = {"/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock",
                           "/run/crio/crio.sock", "/run/podman/podman.sock", "/run/dbus/system_bus_socket",
                           "/run/systemd/private", "/run/systemd/journal/socket"};
    int known_present = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        struct stat st;
        if (stat(known[i], &st) == 0) known_present++;
    }
    scan_sockets("/run", 3);
    scan_sockets("/var/run", 3);
    for (int i = 0; i < n_extra_sockets && n_sockets < MAX_SOCKETS; i++) snprintf(sockets[n_sockets++], 256, "%s", extra_sockets[i]);
    int reachable = 0;
    for (int i = 0; i < n_sockets; i++) {
        int e = try_connect(sockets[i]);
        if (e == 0) reachable++;
        char name[300];
        snprintf(name, sizeof name, "socket:%s", sockets[i]);
        out(26, name, e == 0 ? "reachable" : "unreachable", e, "connect(), closed at once");
    }
    out(26, "runtime_sockets", reachable ? "reachable" : n_sockets ? "none-reachable" : "absent", 0,
        "sockets=%d reachable=%d well-known-present=%d", n_sockets, reachable, known_present);
}

static void row27_network(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "198.51.100.1", &a4.sin_addr); /* TEST-NET-2: UDP connect() sends nothing */
    int e = s < 0 ? errno : connect(s, (struct sockaddr *)&a4, sizeof a4) < 0 ? errno : 0;
    if (s >= 0) close(s);
    out(27, "route_v4", e == 0 ? "routable" : "unreachable", e, "UDP connect 198.51.100.1:9, no packet sent");
    s = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    e = s < 0 ? errno : connect(s, (struct sockaddr *)&a6, sizeof a6) < 0 ? errno : 0;
    if (s >= 0) close(s);
    out(27, "route_v6", e == 0 ? "routable" : "unreachable", e, "UDP connect [2001:db8::1]:9, no packet sent");
    struct if_nameindex *ifs = if_nameindex();
    char names[512] = "";
    int others = 0;
    for (struct if_nameindex *i = ifs; i && i->if_index; i++) {
        if (strcmp(i->if_name, "lo") != 0) others++;
        strncat(names, i->if_name, sizeof names - strlen(names) - 2);
        strcat(names, ",");
    }
    if (ifs) if_freenameindex(ifs);
    if (names[0]) names[strlen(names) - 1] = 0;
    out(27, "interfaces", others ? "others" : "lo-only", 0, "%s", names);
}

static void row28_loops(void) {
    /* inotify first: with a generous RLIMIT_NOFILE it stops at the per-user instance limit. */
    static int ino[4096], fds[65536];
    static pid_t kids[4096];
    int ni = 0, nf = 0, nk = 0, e;
    for (e = 0; ni < inotify_max && ni < 4096;) {
        int fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0) { e = errno; break; }
        ino[ni++] = fd;
    }
    out(28, "inotify_loop", e ? "stopped" : "not-stopped", e, "instances=%d max-tried=%ld", ni, inotify_max);
    for (e = 0; nf < fd_max && nf < 65536;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) { e = errno; break; }
        fds[nf++] = fd;
    }
    out(28, "fd_loop", e ? "stopped" : "not-stopped", e, "fds=%d max-tried=%ld", nf, fd_max);
    for (e = 0; nk < fork_max && nk < 4096;) {
        pid_t p = fork();
        if (p < 0) { e = errno; break; }
        if (p == 0) { struct timespec t = {30, 0}; nanosleep(&t, NULL); _exit(0); } /* killed below */
        kids[nk++] = p;
    }
    out(28, "fork_loop", e ? "stopped" : "not-stopped", e, "forks=%d max-tried=%ld", nk, fork_max);
    int nkey = 0;
    for (e = 0; nkey < addkey_max;) {
        char desc[32];
        snprintf(desc, sizeof desc, "bh-probe-%d", nkey);
        /* The process keyring: gone when this process exits. */
        if (syscall(SYS_add_key, "user", desc, "x", 1L, -2L /* KEY_SPEC_PROCESS_KEYRING */) < 0) { e = errno; break; }
        nkey++;
    }
    out(28, "add_key_loop", e ? "stopped" : "not-stopped", e, "keys=%d max-tried=%ld", nkey, addkey_max);
    if (hold_ms > 0) {
        out(28, "holding", "holding", 0, "ms=%ld", hold_ms);
        struct timespec t = {hold_ms / 1000, (hold_ms % 1000) * 1000000};
        nanosleep(&t, NULL);
    }
    for (int i = 0; i < nk; i++) kill(kids[i], SIGKILL);
    for (int i = 0; i < nk; i++) waitpid(kids[i], NULL, 0);
    for (int i = 0; i < nf; i++) close(fds[i]);
    for (int i = 0; i < ni; i++) close(ino[i]);
}

static void record_entry_fds(void) {
    /* Before anything else is opened: the fds this process was exec'd with. */
    DIR *d = opendir("/proc/self/fd");
    if (!d) { snprintf(entry_fds, sizeof entry_fds, "unreadable:%s", errname(errno)); return; }
    int self = dirfd(d), list[256], n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 256;) {
        if (de->d_name[0] == '.') continue;
        int fd = atoi(de->d_name);
        if (fd != self) list[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) if (list[j] < list[i]) { int t = list[i]; list[i] = list[j]; list[j] = t; }
    for (int i = 0; i < n; i++) {
        char b[16];
        snprintf(b, sizeof b, i ? ",%d" : "%d", list[i]);
        strncat(entry_fds, b, sizeof entry_fds - strlen(entry_fds) - 1);
    }
}

int main(int argc, char **argv) {
    record_entry_fds();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--euid") == 0) { printf("EUID %d %d\n", geteuid(), getuid()); return 0; }
        if (!v) { fprintf(stderr, "bh-probe: %s needs a value\n", a); return 2; }
        if (strcmp(a, "--only") == 0) {
            only_set = 1;
            char *copy = strdup(v);
            for (char *t = strtok(copy, ","); t; t = strtok(NULL, ",")) { int r = atoi(t); if (r > 0 && r < 32) only[r] = 1; }
            free(copy);
        } else if (strcmp(a, "--outside-pid") == 0) outside_pid = atol(v);
        else if (strcmp(a, "--suid") == 0) suid_path = v;
        else if (strcmp(a, "--socket") == 0) { if (n_extra_sockets < MAX_SOCKETS) extra_sockets[n_extra_sockets++] = v; }
        else if (strcmp(a, "--filter-errno") == 0) filter_errno = atoi(v);
        else if (strcmp(a, "--hold") == 0) hold_ms = atol(v);
        else if (strcmp(a, "--fork-max") == 0) fork_max = atol(v);
        else if (strcmp(a, "--fd-max") == 0) fd_max = atol(v);
        else if (strcmp(a, "--inotify-max") == 0) inotify_max = atol(v);
        else if (strcmp(a, "--addkey-max") == 0) addkey_max = atol(v);
        else { fprintf(stderr, "bh-probe: unknown option %s\n", a); return 2; }
        i++;
    }
    int e = 0;
    read_file("/proc/self/mountinfo", mountinfo, sizeof mountinfo, &e);
    if (want(23)) row23_entry();
    if (want(1)) row1_mounts();
    if (want(2)) row2_namespaces();
    if (want(3)) row3_clone3();
    if (want(4)) row4_setns();
    if (want(5)) row5_outside();
    if (want(6)) row6_keys();
    if (want(7) || want(8) || want(9)) row7to9();
    if (want(10)) row10_tty();
    if (want(11) || want(12) || want(13) || want(14) || want(15) || want(16)) row11to16();
    if (want(17)) row17_proc_writes();
    if (want(18)) row18_masked();
    if (want(19)) row19_cgroups();
    if (want(20)) row20_devices();
    if (want(21)) row21_status();
    if (want(22)) row22_setuid();
    if (want(24)) row24_exe();
    if (want(25)) out(25, "symlink_root", "n/a", 0, "a launcher property: tested by SecurityProbeTests.symlinkedRoot, not from inside");
    if (want(26)) row26_sockets();
    if (want(27)) row27_network();
    if (want(28)) row28_loops();
    printf("PROBE-END\n");
    return 0;
}
