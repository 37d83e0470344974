#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../CShims/include/bh_netlink.h"
#include "bh_nft_testing.h"

pid_t bh_testing_fork_nft_exec(int progfd, int nsfd, const char *commands, int timeout_ms) {
    static char out[4096], err[1024];
    size_t len = strlen(commands);
    /* Raw clone: no atfork handler; the child makes only bh_nft_exec's calls and exits. */
    long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, NULL, NULL, 0UL);
    if (pid < 0) return -errno;
    if (pid == 0) {
        bh_nft_result result;
        int rc = bh_nft_exec(progfd, nsfd, commands, len, timeout_ms, out, sizeof out, err, sizeof err, &result);
        syscall(SYS_exit_group, rc == 0 ? 0 : 100);
    }
    return (pid_t)pid;
}
