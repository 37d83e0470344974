#ifndef BH_SECCOMP_TESTING_H
#define BH_SECCOMP_TESTING_H
/* TEST ONLY: used by the test suite to check that a compiled filter really refuses what it
 * should. Nothing in the launcher calls this; the launcher loads filters in its own child-side
 * step executor. */
#include <stddef.h>
#include <stdint.h>

/* Forks a child that sets no_new_privs, loads `program` (len bytes of struct sock_filter) with
 * seccomp(2), makes system call `nr` with the six raw arguments through syscall(2), and reports
 * through a pipe. *syscall_errno is 0 when the call succeeded, else its errno; *signal_out is the
 * signal that killed the child (0 if it exited). Returns 0, or a positive errno when the probe
 * itself could not run (fork, pipe, or loading the filter failed: EPROTO then means seccomp(2)
 * refused the program, with *syscall_errno its errno). */
int bh_seccomp_probe_in_child(const uint8_t *_Nonnull program, size_t len, long nr, uint64_t a0, uint64_t a1,
                              uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, int *_Nonnull syscall_errno,
                              int *_Nonnull signal_out);

/* The workload's side of the seccomp hand-over when its send fails: forks a child that sets
 * no_new_privs and calls `load` (bh_seccomp_load_notifying, passed in: this target does not link
 * CShims) with a channel whose peer is closed (the send fails: EPIPE), a plain program and a
 * notifying program over x86_64 that refuse write(2) alone (EPERM; RET USER_NOTIF) and allow
 * everything else, so the hand-over is the workload's own (no thread). Then the child makes a
 * write(2), as the step's failure report does: with no listener left it is refused at once
 * (ENOSYS); a listener left in the child's own fd table holds it until someone answers, which no
 * one can. Returns 0 with *load_err the load's errno once the child exited (its write returned),
 * ETIMEDOUT when it did not within `timeout_ms` (then killed), or the errno of fork or pipe. */
typedef int (*bh_testing_notifying_loader)(int channel, const uint8_t *_Nonnull plain, uint32_t plain_length,
                                           const uint8_t *_Nonnull notifying, uint32_t notifying_length);
int bh_testing_seccomp_failed_handover(bh_testing_notifying_loader _Nonnull load, int timeout_ms, int *_Nonnull load_err);

#endif
