#include "bh_fd_passing.h"
#include "bh_pool.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int bh_send_fd(int channel, int fd) {
    /* One byte with the fd: the warm pool's sender (bh_pool.h) with one fd. */
    const uint8_t byte = 0;
    int32_t one = fd;
    return bh_pool_send(channel, &byte, 1, &one, 1);
}

int bh_receive_fd(int channel, int *fd) {
    *fd = -1;
    char byte;
    struct iovec iov = {&byte, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * 4)]; } ctl;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&ctl, 0, sizeof ctl);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    ssize_t n = recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : errno;
    if (n == 0) return EPIPE;
    /* Every fd that came is taken (and closed unless it is the one expected). */
    int got = -1, count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < fds; i++) {
            int one;
            memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof one);
            if (count++ == 0) got = one;
            else close(one);
        }
    }
    if (count != 1 || (msg.msg_flags & MSG_CTRUNC)) {
        if (got >= 0) close(got);
        return EBADMSG;
    }
    *fd = got;
    return 0;
}
