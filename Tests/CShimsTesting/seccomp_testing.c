/* TEST ONLY; see bh_seccomp_testing.h. */
#include "bh_seccomp_testing.h"
#include "bh_seccomp_abi_testing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int load(const uint8_t *program, size_t len) {
    struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = (struct sock_filter *)program};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    if (len > 0 && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
    return 0;
}

/* Runs `body` in a forked child that writes two longs to the pipe: {status, value}. */
static int in_child(long (*body)(const uint8_t *, size_t, long, long *), const uint8_t *program, size_t len, long arg,
                    long *value, int *signal_out) {
    *signal_out = 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return e;
    }
    if (pid == 0) {
        long report[2] = {0, 0};
        report[0] = body(program, len, arg, &report[1]);
        (void)!write(fds[1], report, sizeof(report));
        _exit(0);
    }
    close(fds[1]);
    long report[2] = {0, 0};
    ssize_t n;
    do {
        n = read(fds[0], report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(status)) {
        *signal_out = WTERMSIG(status);
        return 0;
    }
    if (n != (ssize_t)sizeof(report)) return EIO;
    *value = report[1];
    return (int)report[0];
}

static long int80_body(const uint8_t *program, size_t len, long nr32, long *value) {
    int e = load(program, len);
    if (e != 0) { *value = e; return EPROTO; }
#if defined(__x86_64__)
    long r = nr32;
    __asm__ volatile("int $0x80" : "+a"(r) : "b"(0L), "c"(0L), "d"(0L), "S"(0L), "D"(0L) : "memory");
    *value = r;
    return 0;
#else
    (void)nr32;
    return ENOSYS;
#endif
}

int bh_testing_seccomp_probe_int80(const uint8_t *program, size_t len, long nr32, long *result, int *signal_out) {
    *result = 0;
    return in_child(int80_body, program, len, nr32, result, signal_out);
}

static long load_body(const uint8_t *program, size_t len, long unused, long *value) {
    (void)unused;
    struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = (struct sock_filter *)program};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (r != 0) { *value = errno; return EPROTO; }
    *value = (long)((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
    return 0;
}

int bh_testing_seccomp_load_ns(const uint8_t *program, size_t len, uint32_t runs, uint64_t *ns_out) {
    if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 0xFFFF) return EINVAL;
    for (uint32_t i = 0; i < runs; i++) {
        long ns = 0;
        int sig = 0;
        int rc = in_child(load_body, program, len, 0, &ns, &sig);
        if (rc != 0) return rc;
        if (sig != 0) return EINTR;
        ns_out[i] = (uint64_t)ns;
    }
    return 0;
}

struct probe_call { long nr; uint64_t a[6]; };

static long probe_body(const uint8_t *program, size_t len, long arg, long *value) {
    /* Only async-signal-safe calls from here to _exit. */
    const struct probe_call *c = (const struct probe_call *)(uintptr_t)arg;
    int e = load(program, len);
    if (e != 0) { *value = e; return EPROTO; }
    pid_t self = (pid_t)syscall(SYS_getpid);
    long r = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
    e = errno;
    /* A clone-like call that the filter let through returns 0 in a new process: leave. */
    if ((pid_t)syscall(SYS_getpid) != self) _exit(0);
    *value = r == -1 ? e : 0;
    return 0;
}

int bh_seccomp_probe_in_child(const uint8_t *program, size_t len, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                              uint64_t a3, uint64_t a4, uint64_t a5, int *syscall_errno, int *signal_out) {
    *syscall_errno = 0;
    *signal_out = 0;
    if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 0xFFFF) return EINVAL;
    struct probe_call c = {nr, {a0, a1, a2, a3, a4, a5}};
    long value = 0;
    int rc = in_child(probe_body, program, len, (long)(uintptr_t)&c, &value, signal_out);
    if (*signal_out == 0) *syscall_errno = (int)value;
    return rc;
}

int bh_testing_seccomp_failed_handover(bh_testing_notifying_loader load, int timeout_ms, int *load_err) {
#if defined(__x86_64__)
    *load_err = 0;
    struct sock_filter plain[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter notifying[sizeof plain / sizeof plain[0]];
    memcpy(notifying, plain, sizeof plain);
    notifying[5] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        return e;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to _exit. */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) _exit(255);
        close(sv[1]);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(254);
        int e = load(sv[0], (const uint8_t *)plain, (uint32_t)sizeof plain, (const uint8_t *)notifying, (uint32_t)sizeof notifying);
        int byte = e;
        (void)!write(out[1], &byte, 1);
        _exit(e > 0 && e < 250 ? e : 250);
    }
    close(out[1]);
    int status = 0, rc = ETIMEDOUT;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) { rc = 0; break; }
        if (got < 0 && errno != EINTR) { rc = errno; break; }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (rc == ETIMEDOUT) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    } else if (rc == 0) {
        *load_err = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    close(out[0]);
    return rc;
#else
    (void)load; (void)timeout_ms; (void)load_err;
    return ENOSYS;
#endif
}
