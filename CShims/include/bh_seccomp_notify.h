#ifndef BH_SECCOMP_NOTIFY_H
#define BH_SECCOMP_NOTIFY_H
/* Which call was refused: the seccomp user-notification path of `bulkhead run` (violations
 * reported) and `bulkhead seccomp verify` (refusals reported, not enforced). docs/seccomp.md
 * ("Which call was blocked?") describes the design.
 *
 * The launcher compiles the policy once (the "plain" program) and derives a "notifying" variant
 * by rewriting only its RET instructions: in run mode every RET ERRNO(n) becomes RET USER_NOTIF,
 * in verify mode every refusing RET (ERRNO, KILL_*, TRAP, TRACE) does. Every other instruction
 * is the same, so an allowed call walks the same path at the same cost. The launcher answers a
 * notification with what the plain program returns for the same seccomp_data
 * (bh_bpf_run): the same errno, exactly; in verify mode it lets the call continue.
 *
 * Return convention (bh_common.h): 0 or a positive errno, values through out-parameters. */
#include "bh_common.h"
#include <stdint.h>

/* seccomp_data as the filter sees it (linux/seccomp.h), for Swift. */
typedef struct bh_seccomp_data {
    int32_t nr;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t args[6];
} bh_seccomp_data;

/* Runs a classic BPF seccomp program (8-byte sock_filter records, as the kernel loads them)
 * over `data`, as the kernel's interpreter would, and returns its SECCOMP_RET_* value. A program
 * the kernel would refuse (a jump or load out of range, an unknown instruction, no RET at the
 * end) returns SECCOMP_RET_KILL_PROCESS: fail closed. Async-signal-safe, no allocation. */
uint32_t bh_bpf_run(const uint8_t *_Nonnull program, uint32_t length, const bh_seccomp_data *_Nonnull data);

/* The launcher's channel for the listener is bh_terminal_channel's kind (bh_spawn.h). */

/* What BH_OP_LOAD_SECCOMP needs to report refusals (bh_spawn_config.seccomp_notify). */
typedef struct bh_seccomp_notify_config {
    int32_t channel;                     /* the sandbox's end of the launcher's channel */
    const uint8_t *_Nonnull notifying;   /* the program with its refusing RETs made RET USER_NOTIF */
    uint32_t notifying_length;
} bh_seccomp_notify_config;

/* The workload side, between the last step and execve. When the program allows them (run over
 * the exact six arguments each is made with), the workload makes the hand-over's two calls
 * itself after the load: sendmsg of the listener on the channel and close of the channel; the
 * listener is close-on-exec and goes at the execve. Else a hand-over thread is made first (a
 * thread of the workload sharing its memory and fd table, with no filter: filters are per
 * thread); then the workload loads `notifying` with SECCOMP_FILTER_FLAG_NEW_LISTENER; the thread
 * sends the listener over the channel (SCM_RIGHTS), closes it and the channel (the shared
 * table: the workload no longer has them) and exits; the workload waits for that without a
 * system call (CLONE_CHILD_CLEARTID). So the workload makes no call the policy could send to a
 * launcher that cannot have the listener yet, whatever the policy refuses (runc's and crun's
 * hand-over hang when the policy notifies their own write, sendmsg or fcntl). No thread
 * (RLIMIT_NPROC, pids.max): `plain` is loaded, the channel closed, nothing reported. The
 * listener is close-on-exec besides. 0 or a positive errno (the step fails). */
int bh_seccomp_load_notifying(const uint8_t *_Nonnull plain, uint32_t plain_length, uint32_t flags,
                              const bh_seccomp_notify_config *_Nonnull config);

/* Receives the listener from the channel (never blocks): *listener = the fd (close-on-exec,
 * non-blocking), or -1 when nothing has arrived yet. 0, or a positive errno: EPIPE when the
 * channel closed without one, EBADMSG when what arrived is not exactly one seccomp listener
 * (it is closed). */
int bh_seccomp_receive_listener(int channel, int *_Nonnull listener);

/* One notification (SECCOMP_IOCTL_NOTIF_RECV). 0, or a positive errno: EAGAIN none pending,
 * ENOENT the caller went away before it was read. */
typedef struct bh_seccomp_notification {
    uint64_t id;
    uint32_t pid;   /* in the launcher's PID namespace */
    bh_seccomp_data data;
} bh_seccomp_notification;
int bh_seccomp_notify_receive(int listener, bh_seccomp_notification *_Nonnull out);

/* Answers notification `id`: with `error` (a positive errno, returned to the caller as -1/errno;
 * 0 returns 0 without running the call), or `proceed` != 0: SECCOMP_USER_NOTIF_FLAG_CONTINUE
 * (the call runs as if it had been allowed). 0, or a positive errno (ENOENT: the caller is gone). */
int bh_seccomp_notify_respond(int listener, uint64_t id, int32_t error, int proceed);

/* SECCOMP_IOCTL_NOTIF_ID_VALID: 1 while the caller of notification `id` still waits (so a
 * /proc/PID read made before names that caller), 0 otherwise. */
int bh_seccomp_notify_id_valid(int listener, uint64_t id);

/* The AUDIT_ARCH_* value of the machine this was compiled for (the one the sendmsg of the
 * hand-over is checked on). */
uint32_t bh_seccomp_native_audit_arch(void);

#endif
