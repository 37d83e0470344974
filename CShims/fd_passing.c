#include "bh_fd_passing.h"
#include "bh_pool.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(BH_FD_PASSING_MAX <= BH_POOL_MAX_FDS, "bh_pool_send carries BH_FD_PASSING_MAX fds");

int bh_send_fds(int channel, char byte, const int32_t *fds, uint32_t count) {
    /* One byte with the fds: the warm pool's sender (bh_pool.h). The shims' one other sendmsg is
     * the seccomp listener's inline send (seccomp_notify.c, load_notifying_inline), which builds
     * its message itself: its arguments, the message's address included, are checked against the
     * filter before it is loaded, so the call cannot go through a helper that builds its own. */
    if (count > BH_FD_PASSING_MAX) return EINVAL;
    const uint8_t b = (uint8_t)byte;
    return bh_pool_send(channel, &b, 1, fds, count);
}

int bh_send_fd(int channel, int fd) {
    int32_t one = fd;
    return bh_send_fds(channel, 0, &one, 1);
}

int bh_receive_message_keeping(int channel, int flags, uint8_t *buf, size_t capacity, size_t *length, int32_t *fds, uint32_t max, uint32_t *count) {
    *length = 0;
    *count = 0;
    if (max > BH_FD_PASSING_MAX) return EINVAL;
    struct iovec iov = {buf, capacity};
    /* Room for every fd a message can carry: more than `max` is seen, and none is dropped by the
     * kernel (a dropped file's last reference is put by this thread, which may wait too). */
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * BH_FD_PASSING_ALL)]; } ctl;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&ctl, 0, sizeof ctl);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    ssize_t n;
    while ((n = recvmsg(channel, &msg, flags | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR && !(flags & MSG_DONTWAIT)) {}
    if (n < 0) return errno;
    /* Every fd that came is taken. More than max, or control data other than SCM_RIGHTS
     * (credentials nobody asked for), counts as too much. */
    uint32_t got = 0, over = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) { over = 1; continue; }
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && got < BH_FD_PASSING_ALL; i++) {
            memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        }
        if (got > max) over = 1;
    }
    *count = got;
    if (n == 0 && got == 0) return EPIPE;
    if (over || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) return EMSGSIZE;
    *length = (size_t)n;
    return 0;
}

int bh_receive_message(int channel, int flags, uint8_t *buf, size_t capacity, size_t *length, int32_t *fds, uint32_t max, uint32_t *count) {
    int32_t all[BH_FD_PASSING_ALL];
    uint32_t got = 0;
    int rc = bh_receive_message_keeping(channel, flags, buf, capacity, length, all, max, &got);
    *count = 0;
    if (rc != 0) {
        for (uint32_t i = 0; i < got; i++) close(all[i]);
        return rc;
    }
    memcpy(fds, all, sizeof(int32_t) * got);
    *count = got;
    return 0;
}

int bh_receive_fds(int channel, int flags, char *byte, int32_t *fds, uint32_t max, uint32_t *count) {
    size_t length = 0;
    int rc = bh_receive_message(channel, flags, (uint8_t *)byte, 1, &length, fds, max, count);
    if (rc == EMSGSIZE) return EBADMSG;
    if (rc == 0 && length == 0) {
        /* No byte: the channel's end, whatever came with it. */
        for (uint32_t i = 0; i < *count; i++) close(fds[i]);
        *count = 0;
        return EPIPE;
    }
    return rc;
}

int bh_receive_fd(int channel, int *fd) {
    *fd = -1;
    char byte;
    int32_t one = -1;
    uint32_t count = 0;
    int rc = bh_receive_fds(channel, MSG_DONTWAIT, &byte, &one, 1, &count);
    if (rc == EAGAIN || rc == EWOULDBLOCK || rc == EINTR) return 0;
    if (rc != 0) return rc;
    if (count != 1) {
        if (count > 0) close(one);
        return EBADMSG;
    }
    *fd = one;
    return 0;
}
