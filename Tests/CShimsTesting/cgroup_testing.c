#include "bh_cgroup_testing.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435 /* Linux 5.3 */
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL /* Linux 5.7 */
#endif

extern char **environ;

int bh_testing_clone3_exec_into_cgroup(int cgroup_fd,
                                       const char *_Nonnull path,
                                       char *_Nullable const *_Nonnull argv,
                                       pid_t *_Nonnull out_pid) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) {
        return errno;
    }
    if (pid == 0) {
        /* Child: nothing but execve and _exit (async-signal-safe). */
        execve(path, (char *const *)argv, environ);
        _exit(127);
    }
    *out_pid = (pid_t)pid;
    return 0;
}
