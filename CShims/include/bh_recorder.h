#ifndef BH_RECORDER_H
#define BH_RECORDER_H
/* The system-call recorder of `bulkhead seccomp record`.
 *
 * The sandbox's init is the workload's parent, so it is the tracer: the workload stops itself
 * with PTRACE_TRACEME + SIGSTOP right before execve (plan step BH_OP_BECOME_TRACEE), and the init runs
 * bh_record_init_loop instead of its usual loop. The loop steps every task of the workload with
 * PTRACE_SYSCALL (children and threads are attached by PTRACE_O_TRACEFORK|VFORK|CLONE), reads
 * each system-call entry with PTRACE_GET_SYSCALL_INFO (Linux 5.3), and counts it in the table
 * below, by architecture (x86_64, i386, x32: x32 is the x86_64 audit arch with the 0x40000000
 * bit in the number) and number. It passes every signal through and reaps every task.
 *
 * The table lives in a MAP_SHARED anonymous mapping that the supervisor creates before clone3:
 * the init writes it, the supervisor reads it after the init has exited. So nothing is sent
 * over the message pipe, nothing is allocated after clone, and a recording killed by a timeout
 * still holds what was counted. No root and no eBPF are needed: only ptrace of one's own child.
 *
 * Same rules as spawn.c: raw system calls only, async-signal-safe, no malloc, no stdio. */
#include <stdint.h>
#include <sys/types.h>

enum {
    BH_RECORD_ARCHES = 3,      /* 0 x86_64, 1 i386, 2 x32 */
    BH_RECORD_NR_LIMIT = 1024, /* numbers at or above this are counted in out_of_range */
    BH_RECORD_EXE_LIMIT = 128, /* distinct executables remembered */
    BH_RECORD_PATH_MAX = 256,
    BH_RECORD_VALUE_LIMIT = 16,
    BH_RECORD_TID_LIMIT = 65536, /* tasks with a tid below this get per-task attribution */
    BH_RECORD_VERSION = 1,
};

/* Flags in bh_record_table.overflow. */
enum {
    BH_RECORD_EXES_FULL = 1,        /* more than BH_RECORD_EXE_LIMIT executables */
    BH_RECORD_PERSONALITY_FULL = 2, /* more than BH_RECORD_VALUE_LIMIT personality values */
    BH_RECORD_SOCKET_WIDE = 4,      /* a socket family >= 64 was used */
};

/* Numbers of the calls whose arguments are recorded, per architecture (index as above), filled in
 * by Swift from SyscallTable before the launch (the name<->number table exists once, in Swift);
 * -1 when the call does not exist there. */
typedef struct bh_record_watch {
    int32_t socket_nr[BH_RECORD_ARCHES];
    int32_t personality_nr[BH_RECORD_ARCHES];
    int32_t clone_nr[BH_RECORD_ARCHES];
    int32_t execve_nr[BH_RECORD_ARCHES];
} bh_record_watch;

typedef struct bh_record_table {
    uint32_t version;                 /* BH_RECORD_VERSION, set by Swift */
    uint32_t overflow;                /* BH_RECORD_* flags */
    bh_record_watch watch;            /* set by Swift */
    uint64_t entries;                 /* system-call entry stops counted */
    uint64_t stops;                   /* every ptrace stop handled (entries, exits, events, signals) */
    uint64_t tasks;                   /* tasks (processes and threads) seen */
    uint64_t execs;                   /* successful execve events */
    uint64_t unknown_arch;            /* entries with an architecture other than the three */
    uint64_t out_of_range[BH_RECORD_ARCHES];
    uint64_t socket_families;         /* bit f: socket(f, ...) was called (f < 64) */
    uint64_t clone_flags;             /* OR of the flags argument of every clone() */
    uint32_t personality_count;
    uint32_t exe_count;               /* entries used in exes */
    uint64_t personalities[BH_RECORD_VALUE_LIMIT];
    uint64_t counts[BH_RECORD_ARCHES][BH_RECORD_NR_LIMIT];
    /* 1 + index into exes of the executable that made the first call; 0: unknown. */
    uint16_t first_exe[BH_RECORD_ARCHES][BH_RECORD_NR_LIMIT];
    char exes[BH_RECORD_EXE_LIMIT][BH_RECORD_PATH_MAX]; /* NUL-terminated; exes[0] is the launcher */
} bh_record_table;

/* The loop of a recording init. workload: its pid; msg_fd: the supervisor's message pipe (this
 * sends BH_MSG_EXEC_OK at the workload's first execve event, and BH_MSG_EXITED at the end);
 * exec_fd: the read end of the workload's exec pipe (a failed step before execve is read from
 * it and forwarded); signals: the signals to forward to the workload. Ends with _exit. */
__attribute__((noreturn)) void bh_record_init_loop(bh_record_table *_Nonnull table, pid_t workload, int msg_fd, int exec_fd,
                                                   const int *_Nonnull signals, uint32_t signal_count);

/* 1 + the index of `path` in t->exes, added when new; 0 (and BH_RECORD_EXES_FULL) when full.
 * Shared with the eBPF recorder, which fills the same table. */
uint16_t bh_record_intern_exe(bh_record_table *_Nonnull t, const char *_Nonnull path);

/* Workload side, right before execve: PTRACE_TRACEME, then stop until the init has set the
 * tracing options. Returns 0 or a positive errno. */
int bh_record_traceme(void);

#endif
