/* The system-call recorder: a ptrace loop run by the sandbox's init (see bh_recorder.h).
 *
 * Everything here runs after clone3 in the init, so the rules of spawn.c hold: raw system calls
 * only, no malloc, no stdio, no locks. The only state is the shared table and a few locals.
 *
 * Cost: every system call of the workload makes two ptrace stops (entry and exit), and each
 * stop costs the init a waitpid, a PTRACE_GET_SYSCALL_INFO and a PTRACE_SYSCALL, plus two
 * context switches. That is the same order as `strace -f -c`; docs/seccomp.md has numbers. */
#include "bh_recorder.h"
#include "bh_spawn.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/ptrace.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e /* Linux 5.3 */
#endif
#ifndef __WALL
#define __WALL 0x40000000
#endif

_Static_assert(sizeof(struct ptrace_syscall_info) >= 80, "ptrace_syscall_info with entry.args (Linux 5.3)");
_Static_assert(BH_RECORD_EXE_LIMIT < 0xFFFF, "first_exe holds 1 + an index into exes");

#define X32_SYSCALL_BIT 0x40000000ULL
#define TRACE_OPTIONS (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | \
                       PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)

static long raw_ptrace(long request, pid_t pid, unsigned long addr, unsigned long data) {
    return syscall(SYS_ptrace, request, pid, addr, data);
}

static void send_record(int fd, uint32_t kind, int32_t step, int32_t err, int32_t value) {
    bh_msg m = {kind, step, err, value};
    while (write(fd, &m, sizeof m) < 0 && errno == EINTR) {}
}

/* The workload's pid, for the signal handler. Written once before the handlers exist. */
static volatile pid_t forward_to = -1;

/* The supervisor's signals reach the init (pidfd_send_signal); the handler passes them on at
 * once with kill(2), which is async-signal-safe, so no signal waits for the next ptrace stop.
 * The traced workload then shows a signal-delivery-stop and the loop injects the signal. */
static void forward_handler(int sig) {
    int saved = errno;
    if (forward_to > 0) kill(forward_to, sig);
    errno = saved;
}

int bh_record_traceme(void) {
    if (raw_ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) return errno;
    /* Stop until the init has set the options (TRACESYSGOOD, follow forks, ...): the next
     * system call, execve, is then already seen. */
    if (kill(getpid(), SIGSTOP) < 0) return errno;
    return 0;
}

/* ---------------------------------------------------------------- executables */

static size_t str_len(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) n++;
    return n;
}

static void copy_str(char *dst, const char *src, size_t cap) {
    size_t n = str_len(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* 1 + the index in exes of `path`, added when new; 0 when the table is full. */
uint16_t bh_record_intern_exe(bh_record_table *t, const char *path) {
    for (uint32_t i = 0; i < t->exe_count; i++)
        if (strncmp(t->exes[i], path, BH_RECORD_PATH_MAX) == 0) return (uint16_t)(i + 1);
    if (t->exe_count >= BH_RECORD_EXE_LIMIT) {
        t->overflow |= BH_RECORD_EXES_FULL;
        return 0;
    }
    copy_str(t->exes[t->exe_count], path, BH_RECORD_PATH_MAX);
    t->exe_count++;
    return (uint16_t)t->exe_count;
}

/* The executable of task `tid`, from /proc/TID/exe (the sandbox's own /proc: the init shares
 * the workload's PID and mount namespaces). Read only when a call is seen for the first time,
 * so the cost is one readlink per distinct (architecture, call). */
static uint16_t exe_of(bh_record_table *t, pid_t tid) {
    char path[32] = "/proc/";
    char digits[12];
    int nd = 0;
    unsigned v = (unsigned)tid;
    do { digits[nd++] = (char)('0' + v % 10); v /= 10; } while (v && nd < 11);
    size_t at = 6;
    while (nd) path[at++] = digits[--nd];
    memcpy(path + at, "/exe", 5);
    char target[BH_RECORD_PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) return 0; /* not dumpable (an unreadable binary), or already gone */
    target[n] = 0;
    return bh_record_intern_exe(t, target);
}

/* ---------------------------------------------------------------- system-call stops */

static void note_value(bh_record_table *t, uint64_t value) {
    for (uint32_t i = 0; i < t->personality_count; i++)
        if (t->personalities[i] == value) return;
    if (t->personality_count >= BH_RECORD_VALUE_LIMIT) {
        t->overflow |= BH_RECORD_PERSONALITY_FULL;
        return;
    }
    t->personalities[t->personality_count++] = value;
}

static void on_syscall_stop(bh_record_table *t, pid_t tid, int before_exec) {
    struct ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    long n = raw_ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, (unsigned long)&info);
    if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_ENTRY) return; /* exit stops carry nothing new */
    int a;
    uint64_t nr = info.entry.nr;
    if (info.arch == AUDIT_ARCH_X86_64) {
        /* x32 shares x86_64's audit arch; the kernel tells it by this bit in the number. */
        if (nr & X32_SYSCALL_BIT) { a = 2; nr &= ~X32_SYSCALL_BIT; } else a = 0;
    } else if (info.arch == AUDIT_ARCH_I386) {
        a = 1;
    } else {
        t->unknown_arch++;
        return;
    }
    t->entries++;
    if (nr >= BH_RECORD_NR_LIMIT) {
        t->out_of_range[a]++;
        return;
    }
    if (t->counts[a][nr]++ == 0) t->first_exe[a][nr] = before_exec ? 1 : exe_of(t, tid);

    /* Arguments of the few calls whose values become rules (all take them in argument 0 on x86). */
    int64_t snr = (int64_t)nr;
    uint64_t arg0 = info.entry.args[0];
    if (snr == t->watch.socket_nr[a]) {
        if (arg0 < 64) t->socket_families |= 1ULL << arg0; else t->overflow |= BH_RECORD_SOCKET_WIDE;
    } else if (snr == t->watch.personality_nr[a]) {
        note_value(t, arg0);
    } else if (snr == t->watch.clone_nr[a]) {
        t->clone_flags |= arg0;
    }
}

/* A signal-delivery-stop or a group-stop: what to inject when resuming. */
static int signal_to_pass(pid_t tid, int sig) {
    siginfo_t si;
    if (raw_ptrace(PTRACE_GETSIGINFO, tid, 0, (unsigned long)&si) < 0) {
        /* EINVAL: a group-stop (not a signal delivery); resume without a signal. */
        return 0;
    }
    /* A task attached through PTRACE_O_TRACEFORK/CLONE starts with a SIGSTOP the kernel queued
     * without siginfo (SI_USER from pid 0): that one belongs to ptrace, not to the program. */
    if (sig == SIGSTOP && si.si_code == SI_USER && si.si_pid == 0) return 0;
    return sig;
}

static int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}

/* ---------------------------------------------------------------- the loop */

__attribute__((noreturn)) void bh_record_init_loop(bh_record_table *t, pid_t workload, int msg_fd, int exec_fd,
                                                   const int *signals, uint32_t signal_count) {
    forward_to = workload;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_handler;
    sa.sa_flags = SA_RESTART; /* waitpid resumes after a forwarded signal */
    sigfillset(&sa.sa_mask);
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (uint32_t i = 0; i < signal_count; i++) {
        sigaction(signals[i], &sa, NULL);
        sigaddset(&forwarded, signals[i]);
    }
    sigprocmask(SIG_UNBLOCK, &forwarded, NULL);

    bh_record_intern_exe(t, "(bulkhead, before the workload's execve)");

    /* The first stop is the workload's own SIGSTOP after PTRACE_TRACEME, or its exit when a
     * step before it failed (that step's record is waiting on the exec pipe). */
    int status = 0;
    while (waitpid(workload, &status, __WALL) < 0) {
        if (errno != EINTR) _exit(125);
    }
    if (!WIFSTOPPED(status) || raw_ptrace(PTRACE_SETOPTIONS, workload, 0, TRACE_OPTIONS) < 0) {
        int err = errno;
        bh_msg m;
        ssize_t n;
        while ((n = read(exec_fd, &m, sizeof m)) < 0 && errno == EINTR) {}
        if (n == (ssize_t)sizeof m) send_record(msg_fd, m.kind, m.step, m.err, m.value);
        else send_record(msg_fd, BH_MSG_STEP_FAILED, -1, WIFSTOPPED(status) ? err : ECHILD, 0);
        kill(workload, SIGKILL);
        while (waitpid(workload, &status, __WALL) < 0 && errno == EINTR) {}
        _exit(125);
    }
    t->tasks = 1;
    raw_ptrace(PTRACE_SYSCALL, workload, 0, 0);

    int exec_seen = 0, have_status = 0;
    int workload_status = 0;
    for (;;) {
        pid_t tid = waitpid(-1, &status, __WALL);
        if (tid < 0) {
            if (errno == EINTR) continue;
            break; /* ECHILD: nothing left to wait for */
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (tid == workload) {
                workload_status = status;
                have_status = 1;
                break;
            }
            continue;
        }
        if (!WIFSTOPPED(status)) continue;
        t->stops++;
        int sig = WSTOPSIG(status);
        int event = (status >> 16) & 0xff;
        int inject = 0;
        if (sig == (SIGTRAP | 0x80)) {
            on_syscall_stop(t, tid, !exec_seen && tid == workload);
        } else if (sig == SIGTRAP && event != 0) {
            if (event == PTRACE_EVENT_EXEC) {
                t->execs++;
                if (!exec_seen && tid == workload) {
                    /* Past execve: the exec pipe was closed on exec. Same record as spawn.c's. */
                    exec_seen = 1;
                    send_record(msg_fd, BH_MSG_EXEC_OK, -1, 0, workload);
                }
            } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
                t->tasks++;
            }
        } else {
            inject = signal_to_pass(tid, sig);
        }
        /* ESRCH here means the task was killed meanwhile; its exit is the next wait. */
        raw_ptrace(PTRACE_SYSCALL, tid, 0, (unsigned long)inject);
    }

    if (!exec_seen) {
        /* The workload ended before its execve succeeded: a step after the fork failed. */
        bh_msg m;
        ssize_t n;
        while ((n = read(exec_fd, &m, sizeof m)) < 0 && errno == EINTR) {}
        if (n == (ssize_t)sizeof m) send_record(msg_fd, m.kind, m.step, m.err, m.value);
        _exit(125);
    }
    if (!have_status) _exit(125);
    send_record(msg_fd, BH_MSG_EXITED, -1, 0, workload_status);
    /* PID 1 leaving ends the PID namespace; PTRACE_O_EXITKILL ends any tracee outside it. */
    _exit(exit_code(workload_status));
}
