#ifndef BH_RECORDER_BPF_H
#define BH_RECORDER_BPF_H
/* The fast system-call recorder of `bulkhead seccomp record`: eBPF, counted in the kernel.
 *
 * The ptrace recorder (bh_recorder.h) stops the workload twice per system call; this one never
 * stops it. Four raw-tracepoint programs, assembled here at run time (no libbpf, no clang -target
 * bpf at build time), count into maps that the launcher reads after the sandbox is gone:
 *
 * - sched_process_fork: a task whose creator is followed is followed too, with its creator's
 *   state (so every process and thread, in any namespace or cgroup it moves to);
 * - sched_process_exec: a thread that execs in a multi-threaded process takes its leader's tid
 *   (de_thread); its entry moves with it;
 * - sched_process_exit: the task's entry is removed (before its tid can be reused);
 * - raw_syscalls:sys_enter: for a followed task, count (architecture, number). A followed task is
 *   "waiting" until it calls execve/execveat (the launcher's own C before the workload's execve is
 *   not counted, as with ptrace); from that call on it "counts".
 *
 * The architecture: the x32 bit of the number (0x40000000) tells x32 apart, as for ptrace; an i386
 * call (int $0x80, sysenter, 32-bit syscall, also from a 64-bit program) is the one with TS_COMPAT
 * in the task's thread_info.status, the flag the kernel's own in_ia32_syscall() reads. Its offset,
 * and task_struct.pid's, come from the kernel's BTF (/sys/kernel/btf/vmlinux), and
 * bh_fast_recorder_calibrate checks both on the running kernel before a recording relies on them.
 *
 * The first executable of each call: sched_process_exec copies the path the execve named
 * (bprm->filename, as given: /bin/sh where ptrace's /proc/TID/exe says /usr/bin/dash) into a slot,
 * and the task's entry (inherited by its children) names that slot; on a call's first sighting
 * sys_enter stores the entry's slot with a compare-and-exchange.
 *
 * Nothing is lost silently: counts are in-kernel (no ring buffer to overflow); a task that cannot
 * be followed (map full, allocation failure) or a personality value that does not fit sets a flag
 * in the table's overflow word (BH_FAST_TASKS_LOST makes the recording an error).
 *
 * Runs in the launcher (not after clone3): it may allocate. Needs CAP_BPF and CAP_PERFMON (root). */
#include <stdint.h>
#include <sys/types.h>

#include "bh_recorder.h"

enum {
    BH_FAST_PROGS = 4,
    BH_FAST_TASKS_LOST = 0x100, /* in bh_record_table.overflow: a task was not followed */
    BH_FAST_DEFAULT_TASKS = 65536, /* tasks alive at once (a full map makes the recording an error) */
};

typedef struct bh_fast_recorder {
    int tids;   /* hash: tid -> {state (0 waiting for execve, 1 counting), executable (0: before execve, j: exes slot j - 1)} */
    int counts; /* per-CPU array of u64: 3 * BH_RECORD_NR_LIMIT counts, then the counters below */
    int shared; /* array of one {flags, socket families, clone flags} */
    int pers;   /* hash: personality value -> 1, BH_RECORD_VALUE_LIMIT entries */
    int exes;   /* array: the path each execve of a followed task named (bprm->filename) */
    int first;  /* array: per (arch, nr), 1 + the executable of the task that made the call first */
    int progs[BH_FAST_PROGS];
    int links[BH_FAST_PROGS];
    uint32_t ncpu;       /* possible CPUs (per-CPU values) */
    uint32_t status_off; /* task_struct.thread_info.status, from BTF */
    uint32_t pid_off;    /* task_struct.pid, from BTF */
    uint32_t filename_off; /* linux_binprm.filename, from BTF */
    int32_t ia32;        /* after calibration: 1 i386 calls were seen as i386; 0 the kernel runs none (no IA32 emulation) */
} bh_fast_recorder;

/* Marks every descriptor closed; call before open so close is always safe. */
void bh_fast_recorder_init(bh_fast_recorder *_Nonnull r);

/* Reads the offsets from BTF, creates the maps, loads and attaches the programs. watch: the
 * numbers of socket, personality and clone per architecture (as for the ptrace recorder);
 * task_capacity: how many tasks can be followed at once (0: BH_FAST_DEFAULT_TASKS). Returns 0 or
 * a positive errno, with *step naming what failed; log receives the verifier's log on a failed load. */
int bh_fast_recorder_open(bh_fast_recorder *_Nonnull r, const bh_record_watch *_Nonnull watch, uint32_t task_capacity,
                          const char *_Nullable *_Nonnull step, char *_Nonnull log, uint32_t log_size);

/* Runs a known workload in a child of the calling thread (x86_64 getpid; a fork whose child calls
 * getppid; an i386 getpid through int $0x80) and checks that each was counted under the right
 * architecture, then clears every counter. 0, or EPROTO when a call was missed or misplaced
 * (*step says which), or another errno. */
int bh_fast_recorder_calibrate(bh_fast_recorder *_Nonnull r, const char *_Nullable *_Nonnull step);

/* Follows pid (a tid of this PID namespace, which must be the initial one: calibration checks
 * it), waiting for its execve. 0 or a positive errno. */
int bh_fast_recorder_follow(bh_fast_recorder *_Nonnull r, int32_t pid);

/* Copies the counters into the ptrace recorder's table (counts, out_of_range, entries, tasks,
 * execs, socket families, clone flags, personalities, overflow flags); stops = 0 and no
 * executables (this recorder does not stop the workload to read them). 0 or a positive errno. */
int bh_fast_recorder_read(const bh_fast_recorder *_Nonnull r, bh_record_table *_Nonnull t);

/* Detaches the programs and closes every map. Idempotent. */
void bh_fast_recorder_close(bh_fast_recorder *_Nonnull r);

/* For tests: the number of tasks followed right now. */
int bh_fast_recorder_followed(const bh_fast_recorder *_Nonnull r, uint32_t *_Nonnull count);

#endif
