#include "bh_process_testing.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int bh_testing_shared_with(pid_t a, pid_t b, int *files, int *vm) {
    /* kcmp answers 0 for the same object, 1 or 2 for an order between different ones. */
    long f = syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
    if (f < 0) return errno;
    long v = syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0);
    if (v < 0) return errno;
    *files = f == 0;
    *vm = v == 0;
    return 0;
}

int bh_testing_watch_births(pid_t pid) {
    long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;
    return ptrace(PTRACE_SEIZE, pid, 0, (void *)opts) < 0 ? errno : 0;
}

/* waitpid(pid, __WALL) polled until timeout_ms: 0 and *status, ETIMEDOUT or an errno. */
static int wait_stop(pid_t pid, int timeout_ms, int *status) {
    for (int waited = 0;; waited++) {
        pid_t r = waitpid(pid, status, __WALL | WNOHANG);
        if (r == pid) return 0;
        if (r < 0 && errno != EINTR) return errno;
        if (waited >= timeout_ms) return ETIMEDOUT;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

int bh_testing_await_birth(pid_t pid, int timeout_ms, bh_testing_birth *out) {
    out->event = 0; out->child = 0; out->shares_vm = 0; out->shares_files = 0;
    for (;;) {
        int status;
        int rc = wait_stop(pid, timeout_ms, &status);
        if (rc != 0) {
            /* Still attached: stop it to detach (a detach needs a stopped tracee). */
            if (rc == ETIMEDOUT && ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0 && wait_stop(pid, 1000, &status) == 0)
                ptrace(PTRACE_DETACH, pid, 0, 0);
            return rc;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) return ESRCH;
        if (!WIFSTOPPED(status)) continue;
        int event = status >> 16;
        if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
            unsigned long child = 0;
            rc = ptrace(PTRACE_GETEVENTMSG, pid, 0, &child) < 0 ? errno : 0;
            int cstatus;
            /* The child starts auto-attached, in a stop of its own. */
            if (rc == 0) rc = wait_stop((pid_t)child, 5000, &cstatus);
            if (rc == 0) rc = bh_testing_shared_with(pid, (pid_t)child, &out->shares_files, &out->shares_vm);
            out->event = event;
            out->child = (pid_t)child;
            if (child > 0) ptrace(PTRACE_DETACH, (pid_t)child, 0, 0);
            ptrace(PTRACE_DETACH, pid, 0, 0);
            return rc;
        }
        /* A signal-delivery stop: passed on. A group stop or another event: resumed. */
        int sig = (event == 0 && WSTOPSIG(status) != SIGTRAP) ? WSTOPSIG(status) : 0;
        if (event == PTRACE_EVENT_STOP) sig = 0;
        ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
    }
}
