#ifndef BH_FD_PASSING_H
#define BH_FD_PASSING_H
/* One file descriptor over a SOCK_SEQPACKET socket (SCM_RIGHTS): the pty master of --tty
 * (BH_OP_OPEN_TERMINAL) and the seccomp listener (bh_seccomp_notify.h). */
#include "bh_common.h"

/* Sends `fd` as one byte with SCM_RIGHTS (EINTR retried, MSG_NOSIGNAL). 0 or a positive errno.
 * Async-signal-safe, no allocation: the sandbox's side uses it between clone3 and execve. */
int bh_send_fd(int channel, int fd);

/* Receives one message without blocking: *fd = the one fd it carried (close-on-exec), or -1 when
 * nothing has arrived yet. 0, or a positive errno: EPIPE when the channel closed, EBADMSG when
 * the message did not carry exactly one fd (every fd that came is closed). */
int bh_receive_fd(int channel, int *_Nonnull fd);

#endif
