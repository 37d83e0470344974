#ifndef BH_NFT_TESTING_H
#define BH_NFT_TESTING_H
/* Test-only: the process that runs nft, made separately so that a test can kill it. */
#include <sys/types.h>

/* Forks a child (raw clone) that runs bh_nft_exec(progfd, nsfd, commands, ..., timeout_ms) and
 * exits (0 when the program ran). Returns the child's pid, or a negative errno. The program's
 * PR_SET_PDEATHSIG is tied to that child: killing it must kill the program. */
pid_t bh_testing_fork_nft_exec(int progfd, int nsfd, const char *_Nonnull commands, int timeout_ms);

#endif
