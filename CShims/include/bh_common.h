#ifndef BH_COMMON_H
#define BH_COMMON_H
/* Shared conventions of bulkhead's C shim.
 * - Every exported name carries the prefix bh_ / BH_.
 * - A shim wrapping one system call keeps the -1/errno convention.
 * - A compound shim returns 0 or a positive errno.
 * - Public headers include only libc and kernel headers. */
#include <stddef.h>
#include <stdint.h>
#endif
