#ifndef BH_FD_PASSING_H
#define BH_FD_PASSING_H
/* File descriptors over a unix socket (SCM_RIGHTS): the pty master of --tty
 * (BH_OP_OPEN_TERMINAL), the seccomp listener (bh_seccomp_notify.h) and the cgroup v1 `tasks`
 * files the launcher sends the init after clone3 (BH_OP_JOIN_CGROUPS). Async-signal-safe, no
 * allocation: the sandbox's side uses them between clone3 and execve. */
#include "bh_common.h"
#include <stdint.h>

/* The most fds one message carries. */
#define BH_FD_PASSING_MAX 16

/* Sends one byte `byte` carrying `count` (0 to BH_FD_PASSING_MAX) fds (EINTR retried,
 * MSG_NOSIGNAL). The caller keeps and closes its own copies. 0 or a positive errno. */
int bh_send_fds(int channel, char byte, const int32_t *_Nullable fds, uint32_t count);

/* Sends `fd` as one byte with SCM_RIGHTS. 0 or a positive errno. */
int bh_send_fd(int channel, int fd);

/* The one receiver of the shims (the warm pool's bh_pool_receive and the two below): one
 * message (recvmsg `flags`, e.g. MSG_DONTWAIT; EINTR retried when blocking) into buf
 * (`capacity` bytes) and its fds (close-on-exec) into fds[0..*count), at most `max`
 * (<= BH_FD_PASSING_MAX). *length: the bytes that came. 0, or a positive errno: EPIPE when the
 * channel closed (nothing came), EMSGSIZE when more than `max` fds, control data other than
 * SCM_RIGHTS, or more bytes than `capacity` came (every fd that came is then closed), EAGAIN
 * when non-blocking and nothing is there, EINVAL for max over BH_FD_PASSING_MAX. */
int bh_receive_message(int channel, int flags, uint8_t *_Nonnull buf, size_t capacity, size_t *_Nonnull length,
                       int32_t *_Nonnull fds, uint32_t max, uint32_t *_Nonnull count);

/* The most fds one unix socket message can carry (the kernel's SCM_MAX_FD). */
#define BH_FD_PASSING_ALL 253

/* bh_receive_message, closing nothing: fds (capacity BH_FD_PASSING_ALL) gets every fd that
 * came, *count how many, whatever the answer (the kernel truncates nothing, so it drops none
 * either); the caller closes them. For a receiver that must not wait on a close (a FUSE file's
 * FLUSH waits for its server, a socket's SO_LINGER for its peer): the warm pool's acceptor. */
int bh_receive_message_keeping(int channel, int flags, uint8_t *_Nonnull buf, size_t capacity, size_t *_Nonnull length,
                               int32_t *_Nonnull fds, uint32_t max, uint32_t *_Nonnull count);

/* Receives one message (recvmsg `flags`, e.g. MSG_DONTWAIT; EINTR retried when blocking): its
 * byte, and its fds (close-on-exec) in fds[0..*count). 0, or a positive errno: EPIPE when the
 * channel closed, EBADMSG when more than `max` fds came or the control data was truncated
 * (every fd that came is then closed), EAGAIN when non-blocking and nothing is there. */
int bh_receive_fds(int channel, int flags, char *_Nonnull byte, int32_t *_Nonnull fds, uint32_t max, uint32_t *_Nonnull count);

/* Receives one message without blocking: *fd = the one fd it carried (close-on-exec), or -1 when
 * nothing has arrived yet. 0, or a positive errno: EPIPE when the channel closed, EBADMSG when
 * the message did not carry exactly one fd (every fd that came is closed). */
int bh_receive_fd(int channel, int *_Nonnull fd);

#endif
