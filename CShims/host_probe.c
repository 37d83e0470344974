#include "bh_host_probe.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Fallback numbers for older headers; these are the x86_64/generic numbers
 * (all architectures share them since the unified syscall table of 5.1+). */
#ifndef SYS_clone3
#define SYS_clone3 435 /* Linux 5.3 */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* Linux 5.3 */
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442 /* Linux 5.12 */
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444 /* Linux 5.13 */
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

long bh_landlock_abi_version(void) {
    return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

long bh_clone3_probe(void) {
    return syscall(SYS_clone3, NULL, 0);
}

int bh_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

long bh_mount_setattr_probe(void) {
    return syscall(SYS_mount_setattr, -1, "", 0, NULL, 0);
}

int bh_prctl_get_seccomp(void) {
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
}

int bh_prctl_get_no_new_privs(void) {
    return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

int bh_fstatfs_type(int fd, long *type) {
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) return errno;
    *type = (long)fs.f_type;
    return 0;
}
