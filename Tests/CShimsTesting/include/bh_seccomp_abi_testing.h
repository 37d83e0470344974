#ifndef BH_SECCOMP_ABI_TESTING_H
#define BH_SECCOMP_ABI_TESTING_H
/* TEST ONLY: the other system-call ABIs of an x86_64 process, and the cost of loading a filter
 * (issue 17: the native-only filter of bulkhead's own policies). Nothing in the launcher calls
 * these. */
#include <stddef.h>
#include <stdint.h>

/* Forks a child that sets no_new_privs, loads `program` (len bytes of struct sock_filter; none
 * when len is 0) and makes i386 system call `nr32` through `int $0x80` (arguments 0). *result
 * is the raw return value (a negative errno on failure); *signal_out the signal that killed the
 * child (0 if none). Returns 0, ENOSYS off x86_64, or a positive errno when the probe could not
 * run (EPROTO: seccomp(2) refused the program). */
int bh_testing_seccomp_probe_int80(const uint8_t *_Nonnull program, size_t len, long nr32, long *_Nonnull result,
                                   int *_Nonnull signal_out);

/* `runs` times: forks a child that sets no_new_privs and loads `program` with
 * seccomp(SECCOMP_SET_MODE_FILTER), timing that one call (CLOCK_MONOTONIC, which includes the
 * kernel's conversion to eBPF and its JIT compilation); ns_out[i] is run i's nanoseconds.
 * Returns 0 or a positive errno (EPROTO: seccomp(2) refused the program). */
int bh_testing_seccomp_load_ns(const uint8_t *_Nonnull program, size_t len, uint32_t runs, uint64_t *_Nonnull ns_out);

#endif
