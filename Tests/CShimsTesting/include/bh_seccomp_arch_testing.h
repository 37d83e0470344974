#ifndef BH_SECCOMP_ARCH_TESTING_H
#define BH_SECCOMP_ARCH_TESTING_H
/* TEST ONLY: libseccomp's own number -> name table, to check bulkhead's tables against it in
 * both directions (SyscallTableARMTests). */
#include <stddef.h>
#include <stdint.h>

/* Copies libseccomp's name for system call `nr` on architecture token `arch` into buf
 * (NUL-terminated, truncated to len) and returns 1, or returns 0 when libseccomp has none. */
int bh_testing_seccomp_resolve_num(uint32_t arch, int32_t nr, char *_Nonnull buf, size_t len);

#endif
