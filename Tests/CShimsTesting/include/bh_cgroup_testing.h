#ifndef BH_CGROUP_TESTING_H
#define BH_CGROUP_TESTING_H
/* Test-only helpers for the cgroup tests. Not used on the launch path. */
#include <sys/types.h>

/* clone3(CLONE_INTO_CGROUP) a child that immediately execve()s `path` with `argv`
 * (NULL-terminated) and the caller's environment; the child is born inside the cgroup
 * whose directory `cgroup_fd` refers to. Compound shim: returns 0 and stores the child's
 * pid in *out_pid, or returns a positive errno. */
int bh_testing_clone3_exec_into_cgroup(int cgroup_fd,
                                       const char *_Nonnull path,
                                       char *_Nullable const *_Nonnull argv,
                                       pid_t *_Nonnull out_pid);

#endif
