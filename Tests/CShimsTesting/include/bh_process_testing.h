#ifndef BH_PROCESS_TESTING_H
#define BH_PROCESS_TESTING_H
/* TEST ONLY: how the sandbox's processes are related, seen from the host. Not used by bulkhead. */
#include <sys/types.h>

/* kcmp(2) of two processes: *files 1 when they share one fd table (KCMP_FILES), *vm 1 when
 * they share one address space (KCMP_VM), else 0. 0 or a positive errno. */
int bh_testing_shared_with(pid_t a, pid_t b, int *_Nonnull files, int *_Nonnull vm);

/* What a process's next child looked like when it was born. */
typedef struct bh_testing_birth {
    int event;      /* PTRACE_EVENT_FORK (1), _VFORK (2) or _CLONE (3): how the parent made it */
    pid_t child;    /* the child's pid (the host's) */
    int shares_vm;  /* kcmp at its birth, both stopped: 1 when it shares the parent's memory */
    int shares_files; /* ... its fd table */
} bh_testing_birth;

/* Attaches to `pid` (PTRACE_SEIZE, fork, vfork and clone events) on the calling thread: the
 * caller then makes `pid` start a child and calls bh_testing_await_birth on the same thread.
 * 0 or a positive errno. */
int bh_testing_watch_births(pid_t pid);

/* Waits (up to timeout_ms) for the watched process's next child, compares the two while both
 * are stopped, and detaches from both (they run on). 0, ETIMEDOUT, ESRCH (the process exited)
 * or another positive errno; detached in every case. */
int bh_testing_await_birth(pid_t pid, int timeout_ms, bh_testing_birth *_Nonnull out);

#endif
