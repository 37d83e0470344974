#ifndef BH_COMMON_H
#define BH_COMMON_H
/* Shared conventions of bulkhead's C shim.
 * - Every exported name carries the prefix bh_ / BH_.
 * - Return convention: a shim that does more than one system call (a compound shim), and
 *   every helper inside the C that can fail, returns 0 or a positive errno and hands values
 *   back through out-parameters; never -1/errno, never -errno. A failed plan step's positive
 *   errno is what the init reports (bh_msg.err). (spawn.c's run_steps returns the index it
 *   stopped at: it has reported its failure on the message pipe itself.)
 * - The one exception: a shim that wraps exactly one system call and returns its result
 *   (bh_pidfd_send_signal, the probes of bh_host_probe.h, recorder.c's raw_ptrace) keeps the
 *   kernel's -1/errno, so a probe can classify the errno the kernel gave.
 * - Public headers include only libc and kernel headers. */
#include <stddef.h>
#include <stdint.h>
#endif
