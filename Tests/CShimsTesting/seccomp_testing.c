/* TEST ONLY; see bh_seccomp_testing.h. */
#include "bh_seccomp_testing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int bh_seccomp_probe_in_child(const uint8_t *program, size_t len, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                              uint64_t a3, uint64_t a4, uint64_t a5, int *syscall_errno, int *signal_out) {
    *syscall_errno = 0;
    *signal_out = 0;
    if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 0xFFFF) return EINVAL;
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
        /* Child: only async-signal-safe calls from here to _exit. report[0]: 0 = the call ran,
         * 1 = loading the filter failed; report[1]: errno. */
        int report[2] = {0, 0};
        struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)),
                                  .filter = (struct sock_filter *)program};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
            report[0] = 1;
            report[1] = errno;
        } else {
            pid_t self = (pid_t)syscall(SYS_getpid);
            long r = syscall(nr, a0, a1, a2, a3, a4, a5);
            int e = errno;
            /* A clone-like call that the filter let through returns 0 in a new process: leave. */
            if ((pid_t)syscall(SYS_getpid) != self) _exit(0);
            report[1] = r == -1 ? e : 0;
        }
        (void)!write(fds[1], report, sizeof(report));
        _exit(0);
    }
    close(fds[1]);
    int report[2] = {0, 0};
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
    *syscall_errno = report[1];
    return report[0] ? EPROTO : 0;
}
