#include "bh_seccomp_arch_testing.h"

#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

int bh_testing_seccomp_resolve_num(uint32_t arch, int32_t nr, char *buf, size_t len) {
    if (len == 0) return 0;
    char *name = seccomp_syscall_resolve_num_arch(arch, nr);
    if (!name) return 0;
    strncpy(buf, name, len - 1);
    buf[len - 1] = 0;
    free(name);
    return 1;
}
