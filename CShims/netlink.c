/* Node networking: network namespaces, rtnetlink by hand, nftables through libnftables.
 * See bh_netlink.h for the design (helper threads, one socket per namespace). */
#include "bh_netlink.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

_Static_assert(sizeof(bh_link_info) == 48, "bh_link_info layout");
_Static_assert(sizeof(bh_addr_info) == 24, "bh_addr_info layout");
_Static_assert(sizeof(bh_route_info) == 44, "bh_route_info layout");
_Static_assert(sizeof(bh_qdisc_info) == 72, "bh_qdisc_info layout");
_Static_assert(sizeof(struct tc_tbf_qopt) == 36, "tc_tbf_qopt is the kernel's layout");

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11 /* Linux 4.12 */
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10 /* Linux 4.3 */
#endif

/* ---- helper thread: run one job inside a network namespace ------------------------- */

enum ns_job_kind { JOB_CREATE, JOB_CREATE_FD, JOB_SYSFS, JOB_SYSCTL, JOB_SOCKET };

struct ns_job {
    enum ns_job_kind kind;
    int nsfd;
    const char *path;
    int domain, type, protocol;
    int out_fd;
    const char *commands;
    int result;
};

static void *ns_thread(void *arg) {
    struct ns_job *job = arg;
    /* This thread only: setns/unshare of CLONE_NEWNET changes the calling thread's
     * namespace, and the thread ends right after the job (setns(2), unshare(2)). */
    if (job->kind == JOB_CREATE) {
        if (unshare(CLONE_NEWNET) != 0) { job->result = errno; return NULL; }
        if (mount("/proc/thread-self/ns/net", job->path, "none", MS_BIND, NULL) != 0) {
            job->result = errno;
            return NULL;
        }
        job->result = 0;
        return NULL;
    }
    if (job->kind == JOB_CREATE_FD) {
        if (unshare(CLONE_NEWNET) != 0) { job->result = errno; return NULL; }
        int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (fd < 0) { job->result = errno; return NULL; }
        job->out_fd = fd;
        job->result = 0;
        return NULL;
    }
    if (job->nsfd >= 0 && setns(job->nsfd, CLONE_NEWNET) != 0) { job->result = errno; return NULL; }
    if (job->kind == JOB_SYSCTL) {
        int fd = open(job->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) { job->result = errno; return NULL; }
        size_t len = strlen(job->commands);
        ssize_t n = write(fd, job->commands, len);
        job->result = n == (ssize_t)len ? 0 : (n < 0 ? errno : EIO);
        close(fd);
        return NULL;
    }
    if (job->kind == JOB_SYSFS) {
        unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        job->result = mount("sysfs", job->path, "sysfs", flags, NULL) == 0 ? 0 : errno;
        return NULL;
    }
    if (job->kind == JOB_SOCKET) {
        int fd = socket(job->domain, job->type | SOCK_CLOEXEC, job->protocol);
        if (fd < 0) { job->result = errno; return NULL; }
        job->out_fd = fd;
        job->result = 0;
        return NULL;
    }
    job->result = EINVAL;
    return NULL;
}

static int run_on_helper_thread(struct ns_job *job) {
    pthread_t t;
    job->result = EINVAL;
    int rc = pthread_create(&t, NULL, ns_thread, job);
    if (rc != 0) return rc;
    rc = pthread_join(t, NULL);
    if (rc != 0) return rc;
    return job->result;
}

int bh_netns_create(const char *path) {
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) return errno;
    close(fd);
    struct ns_job job = { .kind = JOB_CREATE, .nsfd = -1, .path = path };
    int rc = run_on_helper_thread(&job);
    if (rc != 0) unlink(path);
    return rc;
}

int bh_netns_create_fd(int *out_fd) {
    struct ns_job job = { .kind = JOB_CREATE_FD, .nsfd = -1, .out_fd = -1 };
    int rc = run_on_helper_thread(&job);
    if (rc == 0) *out_fd = job.out_fd;
    return rc;
}

int bh_netns_mount_sysfs(int nsfd, const char *target) {
    struct ns_job job = { .kind = JOB_SYSFS, .nsfd = nsfd, .path = target };
    return run_on_helper_thread(&job);
}

int bh_netns_write_sysctl(int nsfd, const char *path, const char *value) {
    if (strncmp(path, "/proc/sys/net/", 14) != 0) return EINVAL;
    struct ns_job job = { .kind = JOB_SYSCTL, .nsfd = nsfd, .path = path, .commands = value };
    return run_on_helper_thread(&job);
}

int bh_link_hwaddr(int sock, const char *name, unsigned char *out6) {
    struct ifreq r;
    memset(&r, 0, sizeof r);
    if (strlen(name) >= IFNAMSIZ) return EINVAL;
    strncpy(r.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFHWADDR, &r) != 0) return errno;
    memcpy(out6, r.ifr_hwaddr.sa_data, 6);
    return 0;
}

int bh_netns_socket(int nsfd, int domain, int type, int protocol, int *out_fd) {
    struct ns_job job = { .kind = JOB_SOCKET, .nsfd = nsfd, .domain = domain, .type = type,
                          .protocol = protocol, .out_fd = -1 };
    int rc = run_on_helper_thread(&job);
    if (rc == 0) *out_fd = job.out_fd;
    return rc;
}

int bh_netns_check(int fd) {
    int type = ioctl(fd, NS_GET_NSTYPE);
    if (type < 0) return errno == ENOTTY ? EINVAL : errno;
    return type == CLONE_NEWNET ? 0 : EINVAL;
}

/* ---- netlink message building ------------------------------------------------------ */

#define REQ_CAP 4096
#define RECV_CAP 65536

struct req {
    union { struct nlmsghdr h; char buf[REQ_CAP]; } u;
};

static __thread char last_error[256];
static uint32_t seq_counter;

const char *bh_rtnl_last_error_message(void) { return last_error; }

static struct nlmsghdr *req_init(struct req *r, uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len) {
    memset(r, 0, sizeof *r);
    r->u.h.nlmsg_type = type;
    r->u.h.nlmsg_flags = NLM_F_REQUEST | flags;
    r->u.h.nlmsg_seq = __atomic_add_fetch(&seq_counter, 1, __ATOMIC_RELAXED);
    memcpy(NLMSG_DATA(&r->u.h), hdr, hdr_len);
    r->u.h.nlmsg_len = NLMSG_LENGTH(hdr_len);
    return &r->u.h;
}

/* Appends one attribute; returns it, or NULL when the request buffer is full. */
static struct rtattr *put(struct nlmsghdr *n, uint16_t type, const void *data, size_t len) {
    size_t at = NLMSG_ALIGN(n->nlmsg_len);
    if (at + RTA_SPACE(len) > REQ_CAP) return NULL;
    struct rtattr *a = (struct rtattr *)((char *)n + at);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len) memcpy(RTA_DATA(a), data, len);
    n->nlmsg_len = (uint32_t)(at + RTA_SPACE(len));
    return a;
}

static struct rtattr *put_str(struct nlmsghdr *n, uint16_t type, const char *s) {
    return put(n, type, s, strlen(s) + 1);
}

static struct rtattr *put_u32(struct nlmsghdr *n, uint16_t type, uint32_t v) { return put(n, type, &v, 4); }

static struct rtattr *nest_begin(struct nlmsghdr *n, uint16_t type) { return put(n, type, NULL, 0); }

static void nest_end(struct nlmsghdr *n, struct rtattr *nest) {
    nest->rta_len = (unsigned short)((char *)n + n->nlmsg_len - (char *)nest);
}

static void parse_attrs(struct rtattr **tb, int max, struct rtattr *a, int len) {
    memset(tb, 0, sizeof(struct rtattr *) * (size_t)(max + 1));
    for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        unsigned short t = a->rta_type & ~NLA_F_NESTED;
        if (t <= max && !tb[t]) tb[t] = a;
    }
}

/* Stores the extended-ack message (NLMSGERR_ATTR_MSG) of an error reply. */
static void save_extack(const struct nlmsghdr *h) {
    last_error[0] = 0;
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
    const struct nlmsgerr *e = NLMSG_DATA(h);
    /* With NETLINK_CAP_ACK the error carries only the header of the original message. */
    size_t off = NLMSG_HDRLEN + sizeof(*e);
    if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - NLMSG_HDRLEN;
    if (off >= h->nlmsg_len) return;
    struct rtattr *tb[NLMSGERR_ATTR_MAX + 1];
    parse_attrs(tb, NLMSGERR_ATTR_MAX, (struct rtattr *)((char *)h + NLMSG_ALIGN(off)),
                (int)(h->nlmsg_len - NLMSG_ALIGN(off)));
    if (tb[NLMSGERR_ATTR_MSG]) {
        size_t n = RTA_PAYLOAD(tb[NLMSGERR_ATTR_MSG]);
        if (n >= sizeof last_error) n = sizeof last_error - 1;
        memcpy(last_error, RTA_DATA(tb[NLMSGERR_ATTR_MSG]), n);
        last_error[n] = 0;
    }
}

typedef int (*reply_cb)(const struct nlmsghdr *h, void *ctx);

/* Sends one request and reads replies until its ack (NLMSG_ERROR) or, for a dump, until
 * NLMSG_DONE. Replies to other sequence numbers (left over from a timed-out request) are
 * skipped. Bounded by the socket's receive timeout and a cap on reads. */
static int talk(int sock, struct nlmsghdr *n, reply_cb cb, void *ctx) {
    last_error[0] = 0;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    ssize_t sent;
    do {
        sent = sendto(sock, n, n->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return errno;
    if ((size_t)sent != n->nlmsg_len) return EIO;
    char *buf = malloc(RECV_CAP);
    if (!buf) return ENOMEM;
    int rc = EIO;
    for (int reads = 0; reads < 100000; reads++) {
        ssize_t len = recv(sock, buf, RECV_CAP, 0);
        if (len < 0) {
            if (errno == EINTR) continue;
            rc = (errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT : errno;
            goto out;
        }
        if (len == 0) { rc = EIO; goto out; }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != n->nlmsg_seq) continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                if (e->error) save_extack(h);
                rc = -e->error;
                goto out;
            }
            if (h->nlmsg_type == NLMSG_DONE) {
                int err = 0;
                if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) memcpy(&err, NLMSG_DATA(h), sizeof err);
                rc = err < 0 ? -err : 0;
                goto out;
            }
            if (cb) {
                int crc = cb(h, ctx);
                if (crc) { rc = crc; goto out; }
            }
        }
    }
    rc = ETIMEDOUT;
out:
    free(buf);
    return rc;
}

/* Prepares a NETLINK_ROUTE socket from bh_netns_socket: binds it, asks for extended acks
 * and capped acks, and sets a receive timeout of `timeout_ms`. */
static int rtnl_configure(int sock, int timeout_ms) {
    struct sockaddr_nl local = { .nl_family = AF_NETLINK };
    if (bind(sock, (struct sockaddr *)&local, sizeof local) != 0) return errno;
    int one = 1;
    /* Best effort: older kernels lack these; the requests work without them. */
    (void)setsockopt(sock, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    (void)setsockopt(sock, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return errno;
    if (setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) return errno;
    return 0;
}

int bh_rtnl_open(int nsfd, int timeout_ms, int *out_fd) {
    int fd = -1;
    int rc = bh_netns_socket(nsfd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, &fd);
    if (rc) return rc;
    rc = rtnl_configure(fd, timeout_ms);
    if (rc) { close(fd); return rc; }
    *out_fd = fd;
    return 0;
}

#define PUT_OR_FAIL(expr) do { if (!(expr)) return EMSGSIZE; } while (0)

/* ---- links ------------------------------------------------------------------------- */

int bh_rtnl_link_add(int sock, const char *name, const char *kind) {
    struct req r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    struct nlmsghdr *n = req_init(&r, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    PUT_OR_FAIL(put_str(n, IFLA_IFNAME, name));
    struct rtattr *info = nest_begin(n, IFLA_LINKINFO);
    PUT_OR_FAIL(info);
    PUT_OR_FAIL(put_str(n, IFLA_INFO_KIND, kind));
    nest_end(n, info);
    return talk(sock, n, NULL, NULL);
}

int bh_rtnl_veth_add(int sock, const char *name, const char *peer_name, int peer_nsfd) {
    struct req r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    struct nlmsghdr *n = req_init(&r, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    PUT_OR_FAIL(put_str(n, IFLA_IFNAME, name));
    struct rtattr *info = nest_begin(n, IFLA_LINKINFO);
    PUT_OR_FAIL(info);
    PUT_OR_FAIL(put_str(n, IFLA_INFO_KIND, "veth"));
    struct rtattr *data = nest_begin(n, IFLA_INFO_DATA);
    PUT_OR_FAIL(data);
    /* VETH_INFO_PEER holds a struct ifinfomsg followed by the peer's own IFLA_* attributes. */
    struct rtattr *peer = put(n, VETH_INFO_PEER, &ifi, sizeof ifi);
    PUT_OR_FAIL(peer);
    PUT_OR_FAIL(put_str(n, IFLA_IFNAME, peer_name));
    if (peer_nsfd >= 0) PUT_OR_FAIL(put_u32(n, IFLA_NET_NS_FD, (uint32_t)peer_nsfd));
    nest_end(n, peer);
    nest_end(n, data);
    nest_end(n, info);
    return talk(sock, n, NULL, NULL);
}

int bh_rtnl_link_set_up(int sock, int32_t ifindex, int up) {
    struct req r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex,
                             .ifi_change = IFF_UP, .ifi_flags = up ? IFF_UP : 0 };
    struct nlmsghdr *n = req_init(&r, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
    return talk(sock, n, NULL, NULL);
}

int bh_rtnl_link_set_master(int sock, int32_t ifindex, int32_t master) {
    struct req r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    struct nlmsghdr *n = req_init(&r, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
    PUT_OR_FAIL(put_u32(n, IFLA_MASTER, (uint32_t)master));
    return talk(sock, n, NULL, NULL);
}

int bh_rtnl_link_set_netns(int sock, int32_t ifindex, int nsfd, const char *new_name) {
    struct req r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    struct nlmsghdr *n = req_init(&r, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
    PUT_OR_FAIL(put_u32(n, IFLA_NET_NS_FD, (uint32_t)nsfd));
    if (new_name) PUT_OR_FAIL(put_str(n, IFLA_IFNAME, new_name));
    return talk(sock, n, NULL, NULL);
}

int bh_rtnl_link_delete(int sock, int32_t ifindex) {
    struct req r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    struct nlmsghdr *n = req_init(&r, RTM_DELLINK, NLM_F_ACK, &ifi, sizeof ifi);
    return talk(sock, n, NULL, NULL);
}

static void copy_name(char dst[16], const struct rtattr *a) {
    size_t len = RTA_PAYLOAD(a);
    if (len > 15) len = 15;
    memcpy(dst, RTA_DATA(a), len);
    dst[len] = 0;
}

static void link_from_msg(const struct nlmsghdr *h, bh_link_info *out) {
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    memset(out, 0, sizeof *out);
    out->index = ifi->ifi_index;
    out->flags = ifi->ifi_flags;
    struct rtattr *tb[IFLA_MAX + 1];
    parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h));
    if (tb[IFLA_IFNAME]) copy_name(out->name, tb[IFLA_IFNAME]);
    if (tb[IFLA_MASTER]) memcpy(&out->master, RTA_DATA(tb[IFLA_MASTER]), 4);
    if (tb[IFLA_MTU]) memcpy(&out->mtu, RTA_DATA(tb[IFLA_MTU]), 4);
    if (tb[IFLA_LINKINFO]) {
        struct rtattr *li[IFLA_INFO_MAX + 1];
        parse_attrs(li, IFLA_INFO_MAX, RTA_DATA(tb[IFLA_LINKINFO]), (int)RTA_PAYLOAD(tb[IFLA_LINKINFO]));
        if (li[IFLA_INFO_KIND]) copy_name(out->kind, li[IFLA_INFO_KIND]);
    }
}

static int index_cb(const struct nlmsghdr *h, void *ctx) {
    if (h->nlmsg_type != RTM_NEWLINK) return 0;
    bh_link_info info;
    link_from_msg(h, &info);
    *(int32_t *)ctx = info.index;
    return 0;
}

int bh_rtnl_link_index(int sock, const char *name, int32_t *out_index) {
    if (strlen(name) >= IFNAMSIZ) return ENAMETOOLONG;
    struct req r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    struct nlmsghdr *n = req_init(&r, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi);
    PUT_OR_FAIL(put_str(n, IFLA_IFNAME, name));
    int32_t index = 0;
    int rc = talk(sock, n, index_cb, &index);
    if (rc) return rc;
    if (index <= 0) return ENODEV;
    *out_index = index;
    return 0;
}

/* ---- dumps ------------------------------------------------------------------------- */

struct dump_ctx {
    void *out;
    size_t record_size;
    uint32_t capacity;
    uint32_t count;
    uint16_t type;
    void (*fill)(const struct nlmsghdr *h, void *record);
};

static int dump_cb(const struct nlmsghdr *h, void *p) {
    struct dump_ctx *d = p;
    if (h->nlmsg_type != d->type) return 0;
    if (d->out && d->count < d->capacity) d->fill(h, (char *)d->out + d->record_size * d->count);
    d->count++;
    return 0;
}

static int dump(int sock, uint16_t type, const void *hdr, size_t hdr_len, struct dump_ctx *d, uint32_t *count) {
    struct req r;
    struct nlmsghdr *n = req_init(&r, type, NLM_F_DUMP, hdr, hdr_len);
    int rc = talk(sock, n, dump_cb, d);
    if (rc == 0) *count = d->count;
    return rc;
}

static void link_fill(const struct nlmsghdr *h, void *rec) { link_from_msg(h, rec); }

int bh_rtnl_dump_links(int sock, bh_link_info *out, uint32_t capacity, uint32_t *count) {
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    struct dump_ctx d = { out, sizeof *out, capacity, 0, RTM_NEWLINK, link_fill };
    return dump(sock, RTM_GETLINK, &ifi, sizeof ifi, &d, count);
}

static void addr_fill(const struct nlmsghdr *h, void *rec) {
    bh_addr_info *out = rec;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    memset(out, 0, sizeof *out);
    out->index = (int32_t)ifa->ifa_index;
    out->family = ifa->ifa_family;
    out->prefix_len = ifa->ifa_prefixlen;
    out->scope = ifa->ifa_scope;
    struct rtattr *tb[IFA_MAX + 1];
    parse_attrs(tb, IFA_MAX, IFA_RTA(ifa), (int)IFA_PAYLOAD(h));
    struct rtattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (a) {
        size_t n = RTA_PAYLOAD(a);
        memcpy(out->addr, RTA_DATA(a), n > 16 ? 16 : n);
    }
}

int bh_rtnl_dump_addrs(int sock, uint8_t family, bh_addr_info *out, uint32_t capacity, uint32_t *count) {
    struct ifaddrmsg ifa = { .ifa_family = family };
    struct dump_ctx d = { out, sizeof *out, capacity, 0, RTM_NEWADDR, addr_fill };
    return dump(sock, RTM_GETADDR, &ifa, sizeof ifa, &d, count);
}

static void route_fill(const struct nlmsghdr *h, void *rec) {
    bh_route_info *out = rec;
    const struct rtmsg *rt = NLMSG_DATA(h);
    memset(out, 0, sizeof *out);
    out->family = rt->rtm_family;
    out->dst_len = rt->rtm_dst_len;
    out->type = rt->rtm_type;
    out->table = rt->rtm_table;
    struct rtattr *tb[RTA_MAX + 1];
    parse_attrs(tb, RTA_MAX, RTM_RTA(rt), (int)RTM_PAYLOAD(h));
    if (tb[RTA_TABLE]) memcpy(&out->table, RTA_DATA(tb[RTA_TABLE]), 4);
    if (tb[RTA_OIF]) memcpy(&out->oif, RTA_DATA(tb[RTA_OIF]), 4);
    if (tb[RTA_DST]) {
        size_t n = RTA_PAYLOAD(tb[RTA_DST]);
        memcpy(out->dst, RTA_DATA(tb[RTA_DST]), n > 16 ? 16 : n);
    }
    if (tb[RTA_GATEWAY]) {
        size_t n = RTA_PAYLOAD(tb[RTA_GATEWAY]);
        memcpy(out->gateway, RTA_DATA(tb[RTA_GATEWAY]), n > 16 ? 16 : n);
        out->has_gateway = 1;
    }
}

int bh_rtnl_dump_routes(int sock, uint8_t family, bh_route_info *out, uint32_t capacity, uint32_t *count) {
    struct rtmsg rt = { .rtm_family = family };
    struct dump_ctx d = { out, sizeof *out, capacity, 0, RTM_NEWROUTE, route_fill };
    return dump(sock, RTM_GETROUTE, &rt, sizeof rt, &d, count);
}

static void qdisc_fill(const struct nlmsghdr *h, void *rec) {
    bh_qdisc_info *out = rec;
    const struct tcmsg *tc = NLMSG_DATA(h);
    memset(out, 0, sizeof *out);
    out->index = tc->tcm_ifindex;
    out->handle = tc->tcm_handle;
    out->parent = tc->tcm_parent;
    struct rtattr *tb[TCA_MAX + 1];
    parse_attrs(tb, TCA_MAX, TCA_RTA(tc), (int)TCA_PAYLOAD(h));
    if (tb[TCA_KIND]) copy_name(out->kind, tb[TCA_KIND]);
    if (tb[TCA_STATS] && RTA_PAYLOAD(tb[TCA_STATS]) >= sizeof(struct tc_stats)) {
        struct tc_stats st;
        memcpy(&st, RTA_DATA(tb[TCA_STATS]), sizeof st);
        out->bytes = st.bytes;
        out->packets = st.packets;
        out->drops = st.drops;
        out->overlimits = st.overlimits;
    }
    if (strcmp(out->kind, "tbf") == 0 && tb[TCA_OPTIONS]) {
        struct rtattr *o[TCA_TBF_MAX + 1];
        parse_attrs(o, TCA_TBF_MAX, RTA_DATA(tb[TCA_OPTIONS]), (int)RTA_PAYLOAD(tb[TCA_OPTIONS]));
        if (o[TCA_TBF_PARMS] && RTA_PAYLOAD(o[TCA_TBF_PARMS]) >= sizeof(struct tc_tbf_qopt)) {
            struct tc_tbf_qopt q;
            memcpy(&q, RTA_DATA(o[TCA_TBF_PARMS]), sizeof q);
            out->tbf_rate_bytes = q.rate.rate;
            out->tbf_limit_bytes = q.limit;
            out->tbf_buffer_ticks = q.buffer;
        }
        if (o[TCA_TBF_RATE64]) memcpy(&out->tbf_rate_bytes, RTA_DATA(o[TCA_TBF_RATE64]), 8);
    }
}

int bh_rtnl_dump_qdiscs(int sock, bh_qdisc_info *out, uint32_t capacity, uint32_t *count) {
    struct tcmsg tc = { .tcm_family = AF_UNSPEC };
    struct dump_ctx d = { out, sizeof *out, capacity, 0, RTM_NEWQDISC, qdisc_fill };
    return dump(sock, RTM_GETQDISC, &tc, sizeof tc, &d, count);
}

/* ---- addresses and routes ---------------------------------------------------------- */

int bh_rtnl_addr_add(int sock, int32_t ifindex, uint8_t family, const uint8_t *addr, uint8_t prefix_len) {
    size_t alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
    if (!alen || prefix_len > alen * 8) return EINVAL;
    struct req r;
    struct ifaddrmsg ifa = { .ifa_family = family, .ifa_prefixlen = prefix_len,
                             .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (uint32_t)ifindex };
    struct nlmsghdr *n = req_init(&r, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
    PUT_OR_FAIL(put(n, IFA_LOCAL, addr, alen));
    PUT_OR_FAIL(put(n, IFA_ADDRESS, addr, alen));
    return talk(sock, n, NULL, NULL);
}

int bh_rtnl_route_add_default(int sock, uint8_t family, const uint8_t *gateway) {
    size_t alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
    if (!alen) return EINVAL;
    struct req r;
    struct rtmsg rt = { .rtm_family = family, .rtm_dst_len = 0, .rtm_table = RT_TABLE_MAIN,
                        .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE,
                        .rtm_type = RTN_UNICAST };
    struct nlmsghdr *n = req_init(&r, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof rt);
    PUT_OR_FAIL(put(n, RTA_GATEWAY, gateway, alen));
    return talk(sock, n, NULL, NULL);
}

/* ---- qdiscs ------------------------------------------------------------------------ */

int bh_rtnl_qdisc_add_tbf(int sock, int32_t ifindex, const bh_tbf_params *p) {
    if (p->rate_bytes == 0 || p->burst_bytes == 0) return EINVAL;
    struct req r;
    struct tcmsg tc = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex,
                        .tcm_handle = TC_H_MAKE(1U << 16, 0), .tcm_parent = TC_H_ROOT };
    uint16_t flags = NLM_F_ACK | NLM_F_CREATE | (p->replace ? NLM_F_REPLACE : NLM_F_EXCL);
    struct nlmsghdr *n = req_init(&r, RTM_NEWQDISC, flags, &tc, sizeof tc);
    PUT_OR_FAIL(put_str(n, TCA_KIND, "tbf"));
    struct rtattr *opts = nest_begin(n, TCA_OPTIONS);
    PUT_OR_FAIL(opts);
    struct tc_tbf_qopt q;
    memset(&q, 0, sizeof q);
    /* linklayer ethernet: the kernel computes transmit times itself (psched_ratecfg), so no
     * rate table (TCA_TBF_RTAB) is needed; TC_LINKLAYER_UNAWARE would require one. */
    q.rate.linklayer = TC_LINKLAYER_ETHERNET;
    q.rate.rate = p->rate_bytes >= 0xffffffffULL ? 0xffffffffU : (uint32_t)p->rate_bytes;
    q.limit = p->limit_bytes;
    q.buffer = p->buffer_ticks;
    PUT_OR_FAIL(put(n, TCA_TBF_PARMS, &q, sizeof q));
    /* TCA_TBF_BURST (Linux 3.13) gives the bucket in bytes; the kernel then derives the
     * buffer time from it and the rate instead of from q.buffer. */
    PUT_OR_FAIL(put_u32(n, TCA_TBF_BURST, p->burst_bytes));
    if (p->rate_bytes >= 0xffffffffULL) {
        uint64_t r64 = p->rate_bytes;
        PUT_OR_FAIL(put(n, TCA_TBF_RATE64, &r64, 8));
    }
    nest_end(n, opts);
    return talk(sock, n, NULL, NULL);
}

int bh_rtnl_qdisc_delete_root(int sock, int32_t ifindex) {
    struct req r;
    struct tcmsg tc = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = TC_H_ROOT };
    struct nlmsghdr *n = req_init(&r, RTM_DELQDISC, NLM_F_ACK, &tc, sizeof tc);
    return talk(sock, n, NULL, NULL);
}

/* ---- nftables: the nft program, run inside the namespace ----------------------------- */

/* Reads what is left of `fd` into dst (at most cap-1 bytes kept, the rest read and dropped).
 * Returns 1 at end of file, 0 when more may come, -1 with errno on an error. */
static int drain(int fd, char *dst, size_t cap, size_t *used) {
    char scratch[4096];
    for (;;) {
        char *to = scratch;
        size_t room = sizeof scratch;
        if (cap && *used < cap - 1) { to = dst + *used; room = cap - 1 - *used; }
        ssize_t n = read(fd, to, room);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            return -1;
        }
        if (n == 0) return 1;
        if (to != scratch) *used += (size_t)n;
    }
}

static void close_quietly(int *fd) {
    if (*fd >= 0) { close(*fd); *fd = -1; }
}

int bh_nft_exec(int progfd, int nsfd, const char *commands, size_t commands_len, int timeout_ms,
                char *out, size_t out_len, char *err, size_t err_len, bh_nft_result *result) {
    if (out_len) out[0] = 0;
    if (err_len) err[0] = 0;
    result->status = -1;
    result->step = BH_NFT_STEP_NONE;
    result->child_errno = 0;
    int rules = -1, outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, statusp[2] = { -1, -1 };
    int rc = 0;
    /* The rules go in a sealed-size memory file, not a pipe: no writer to keep alive, no
     * deadlock however long they are, and nft reads them as a file. */
    rules = memfd_create("bulkhead-nft-rules", MFD_CLOEXEC);
    if (rules < 0) { rc = errno; goto out; }
    for (size_t done = 0; done < commands_len;) {
        ssize_t n = write(rules, commands + done, commands_len - done);
        if (n < 0) { if (errno == EINTR) continue; rc = errno; goto out; }
        done += (size_t)n;
    }
    if (lseek(rules, 0, SEEK_SET) != 0) { rc = errno; goto out; }
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(statusp, O_CLOEXEC) != 0) {
        rc = errno;
        goto out;
    }
    /* Every fd the child uses, moved above the three it will dup2 onto (0, 1, 2) so that no
     * dup2 overwrites another's source; all close-on-exec. */
    int src[6] = { rules, outp[1], errp[1], progfd, nsfd, statusp[1] };
    int high[6];
    for (int k = 0; k < 6; k++) {
        high[k] = fcntl(src[k], F_DUPFD_CLOEXEC, 10);
        if (high[k] < 0) {
            rc = errno;
            for (int j = 0; j < k; j++) close(high[j]);
            goto out;
        }
    }
    char *const argv[] = { "nft", "-f", "-", NULL };
    char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
    pid_t parent = getpid();
    /* A plain fork (raw clone, so no atfork handler runs): from here to execveat the child
     * makes system calls only, no allocation, no lock, no Swift. */
    long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, NULL, NULL, 0UL);
    if (pid == 0) {
        int step = BH_NFT_STEP_SETUP;
        int report_fd = high[5];
        sigset_t none;
        sigemptyset(&none);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) goto child_fail;
        if (syscall(SYS_getppid) != parent) { errno = ESRCH; goto child_fail; }
        step = BH_NFT_STEP_SETNS;
        if (syscall(SYS_setns, high[4], CLONE_NEWNET) != 0) goto child_fail;
        step = BH_NFT_STEP_SETUP;
        /* Not the caller's working directory (a user's, when a user runs bulkhead). */
        if (syscall(SYS_chdir, "/") != 0) goto child_fail;
        if (syscall(SYS_dup2, high[0], 0) < 0 || syscall(SYS_dup2, high[1], 1) < 0 ||
            syscall(SYS_dup2, high[2], 2) < 0 || syscall(SYS_dup3, high[3], 3, O_CLOEXEC) < 0 ||
            syscall(SYS_dup3, high[5], 4, O_CLOEXEC) < 0) goto child_fail;
        /* Nothing else of bulkhead's reaches nft: close every fd above 4 (3 and 4 close on exec). */
        if (syscall(SYS_close_range, 5U, ~0U, 0U) != 0) {
            for (int fd = 5; fd < 65536; fd++) syscall(SYS_close, fd);
        }
        report_fd = 4;
        syscall(SYS_rt_sigaction, SIGPIPE, &dfl, NULL, (size_t)_NSIG / 8);
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, (size_t)_NSIG / 8);
        step = BH_NFT_STEP_EXEC;
        syscall(SYS_execveat, 3, "", argv, envp, AT_EMPTY_PATH);
    child_fail:;
        int report[2] = { step, errno };
        syscall(SYS_write, report_fd, report, sizeof report);
        syscall(SYS_exit_group, 127);
    }
    int fork_errno = errno;
    for (int k = 0; k < 6; k++) close(high[k]);
    if (pid < 0) { rc = fork_errno; goto out; }
    close_quietly(&outp[1]);
    close_quietly(&errp[1]);
    close_quietly(&statusp[1]);
    /* The status pipe closes on a successful execveat (close-on-exec) with nothing in it. */
    int report[2] = { 0, 0 };
    ssize_t got;
    do { got = read(statusp[0], report, sizeof report); } while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof report) {
        result->step = report[0];
        result->child_errno = report[1];
    }
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    size_t out_used = 0, err_used = 0;
    bool out_open = true, err_open = true, timed_out = false;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (out_open || err_open) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long elapsed = (long long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms) { timed_out = true; break; }
        struct pollfd fds[2] = { { .fd = out_open ? outp[0] : -1, .events = POLLIN },
                                 { .fd = err_open ? errp[0] : -1, .events = POLLIN } };
        int n = poll(fds, 2, (int)(timeout_ms - elapsed));
        if (n < 0) { if (errno == EINTR) continue; rc = errno; break; }
        if (out_open && fds[0].revents) {
            int r = drain(outp[0], out, out_len, &out_used);
            if (r != 0) out_open = false;
        }
        if (err_open && fds[1].revents) {
            int r = drain(errp[0], err, err_len, &err_used);
            if (r != 0) err_open = false;
        }
    }
    if (out_len) out[out_used] = 0;
    if (err_len) err[err_used] = 0;
    int status = 0;
    pid_t w = 0;
    /* Both pipes at end of file is not the end of nft: a program that closes its stdout and
     * stderr and keeps running is waited for only until the same deadline (on a pidfd, else in
     * 1 ms naps), then killed like one that writes. */
    if (!timed_out && rc == 0) {
        int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
        for (;;) {
            do { w = waitpid((pid_t)pid, &status, WNOHANG); } while (w < 0 && errno == EINTR);
            if (w != 0) break;
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long elapsed = (long long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (elapsed >= timeout_ms) { timed_out = true; break; }
            if (pidfd >= 0) {
                struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
                poll(&pfd, 1, (int)(timeout_ms - elapsed));
            } else {
                struct timespec nap = { 0, 1000000 };
                nanosleep(&nap, NULL);
            }
        }
        int wait_errno = errno;
        if (pidfd >= 0) close(pidfd);
        errno = wait_errno;
    }
    if (w == 0) {
        if (timed_out || rc != 0) kill((pid_t)pid, SIGKILL);
        do { w = waitpid((pid_t)pid, &status, 0); } while (w < 0 && errno == EINTR);
    }
    if (w < 0) { if (rc == 0) rc = errno; goto out; }
    result->status = status;
    if (rc == 0 && timed_out) rc = ETIMEDOUT;
out:
    close_quietly(&rules);
    close_quietly(&outp[0]); close_quietly(&outp[1]);
    close_quietly(&errp[0]); close_quietly(&errp[1]);
    close_quietly(&statusp[0]); close_quietly(&statusp[1]);
    return rc;
}
