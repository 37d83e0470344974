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

#endif
