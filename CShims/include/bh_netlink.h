#ifndef BH_NETLINK_H
#define BH_NETLINK_H
/* Node networking for pods: network namespaces, rtnetlink (links, addresses, routes,
 * qdiscs) without shelling out to ip or tc, and nftables through the nft program.
 *
 * How work runs "inside" a network namespace
 * ------------------------------------------
 * A socket stays bound to the network namespace of the thread that created it, for its
 * whole life. So the shim never moves the caller: bh_netns_socket() starts a short-lived
 * helper pthread, the helper calls setns(nsfd, CLONE_NEWNET) (which changes only the
 * calling thread's namespace), creates the socket and exits; the caller gets the fd back
 * (threads share one fd table, so no SCM_RIGHTS is needed) and sends every later request
 * on it from its own thread. One rtnetlink socket per namespace then serves all link,
 * address, route and qdisc requests without another thread or fork.
 *
 * Why a thread and not a forked child: fork() in a multi-threaded Swift process leaves a
 * child in which only async-signal-safe calls are allowed, so the child would have to pass
 * the fd back over a socketpair with SCM_RIGHTS. A helper thread may call anything, its
 * namespace change dies with it, and it never runs Swift code.
 *
 * nftables is the exception: bh_nft_exec() runs the nft program (Debian package nftables) in
 * a child that joined the namespace, with the rules on its stdin. bulkhead never dlopens a
 * library (the release build is a static executable: a static glibc cannot load a library
 * that needs the shared libc; libnftables crashed there).
 *
 * Conventions: every function here is a compound shim returning 0 or a positive errno.
 * After a failed rtnetlink request, bh_rtnl_last_error_message() returns the kernel's
 * extended-ack text for the calling thread ("" when the kernel gave none). */
#include "bh_common.h"

/* ---- network namespaces ------------------------------------------------------------ */

/* Creates a new network namespace and keeps it alive by bind-mounting its nsfs file onto
 * `path` (created here with O_EXCL; the directory must exist), as `ip netns add` does.
 * Runs unshare(CLONE_NEWNET) on a helper thread: the caller never changes namespace.
 * On failure the file is removed again. */
int bh_netns_create(const char *_Nonnull path);

/* Creates a new network namespace owned by the caller's user namespace (the initial one for
 * bulkhead as root) with no bind mount: *out_fd (close-on-exec) is its only reference until a
 * process joins it, so it dies with its last fd or member and nothing is left to collect.
 * unshare(CLONE_NEWNET) on a helper thread, then open(/proc/thread-self/ns/net). */
int bh_netns_create_fd(int *_Nonnull out_fd);

/* Mounts a sysfs of the network namespace `nsfd` (its /sys/class/net shows that namespace's
 * links) at `target`, read-only, nosuid, nodev, noexec, in the caller's mount namespace:
 * mount(2) on a helper thread that joined `nsfd`. A sandbox whose network namespace belongs
 * to another user namespace cannot mount one itself (sysfs checks CAP_SYS_ADMIN against the
 * network namespace's owner): it bind-mounts this one. */
int bh_netns_mount_sysfs(int nsfd, const char *_Nonnull target);

/* Writes `value` to the sysctl file `path` (/proc/sys/net/...) of the network namespace
 * `nsfd`: open(2) and write(2) on a helper thread that joined it (a net sysctl file belongs to
 * the namespace of whoever opens it). */
int bh_netns_write_sysctl(int nsfd, const char *_Nonnull path, const char *_Nonnull value);

/* The hardware address of link `name` in the namespace of socket `sock` (SIOCGIFHWADDR). */
int bh_link_hwaddr(int sock, const char *_Nonnull name, unsigned char *_Nonnull out6);

/* Creates socket(domain, type | SOCK_CLOEXEC, protocol) inside the network namespace
 * `nsfd` (an open /proc/PID/ns/net or bind-mount of one) and stores it in *out_fd. */
int bh_netns_socket(int nsfd, int domain, int type, int protocol, int *_Nonnull out_fd);

/* 0 when `fd` refers to a network namespace (ioctl NS_GET_NSTYPE, Linux 4.11), EINVAL
 * when it refers to something else (a plain file, another namespace type). */
int bh_netns_check(int fd);

/* ---- rtnetlink --------------------------------------------------------------------- */

/* A NETLINK_ROUTE socket inside the namespace `nsfd` (bh_netns_socket), bound, asking for
 * extended and capped acks, with a receive timeout of `timeout_ms` so no request can block
 * forever. */
int bh_rtnl_open(int nsfd, int timeout_ms, int *_Nonnull out_fd);

/* The kernel's extended-ack message for the last failed request on this thread. */
const char *_Nonnull bh_rtnl_last_error_message(void);

/* RTM_NEWLINK of a link of `kind` ("bridge", "dummy", "ifb") named `name`. */
int bh_rtnl_link_add(int sock, const char *_Nonnull name, const char *_Nonnull kind);

/* A veth pair: `name` in the socket's namespace, `peer_name` created directly inside the
 * namespace `peer_nsfd` (VETH_INFO_PEER with IFLA_NET_NS_FD); -1 keeps it here. */
int bh_rtnl_veth_add(int sock, const char *_Nonnull name, const char *_Nonnull peer_name, int peer_nsfd);

/* Sets or clears IFF_UP. */
int bh_rtnl_link_set_up(int sock, int32_t ifindex, int up);

/* Enslaves the link to `master` (a bridge); 0 releases it (IFLA_MASTER). */
int bh_rtnl_link_set_master(int sock, int32_t ifindex, int32_t master);

/* Moves the link into the namespace `nsfd` (IFLA_NET_NS_FD), renaming it when
 * `new_name` is not NULL. */
int bh_rtnl_link_set_netns(int sock, int32_t ifindex, int nsfd, const char *_Nullable new_name);

/* RTM_DELLINK; deleting one end of a veth pair deletes both. */
int bh_rtnl_link_delete(int sock, int32_t ifindex);

/* RTM_GETLINK by IFLA_IFNAME; ENODEV when there is no such link. */
int bh_rtnl_link_index(int sock, const char *_Nonnull name, int32_t *_Nonnull out_index);

/* RTM_NEWADDR: `addr` holds 4 (AF_INET) or 16 (AF_INET6) bytes in network order. */
int bh_rtnl_addr_add(int sock, int32_t ifindex, uint8_t family, const uint8_t *_Nonnull addr, uint8_t prefix_len);

/* RTM_NEWROUTE of a default route (dst_len 0, main table) via `gateway`. */
int bh_rtnl_route_add_default(int sock, uint8_t family, const uint8_t *_Nonnull gateway);

typedef struct bh_link_info {
    int32_t index;
    uint32_t flags;      /* IFF_* */
    int32_t master;      /* 0: none */
    uint32_t mtu;
    char name[16];       /* IFNAMSIZ */
    char kind[16];       /* IFLA_INFO_KIND, "" for none */
} bh_link_info;

typedef struct bh_addr_info {
    int32_t index;
    uint8_t family;
    uint8_t prefix_len;
    uint8_t scope;
    uint8_t reserved;
    uint8_t addr[16];    /* IFA_LOCAL, else IFA_ADDRESS; 4 or 16 bytes used */
} bh_addr_info;

typedef struct bh_route_info {
    uint32_t table;
    int32_t oif;         /* 0: none */
    uint8_t family;
    uint8_t dst_len;
    uint8_t type;        /* RTN_* */
    uint8_t has_gateway;
    uint8_t dst[16];
    uint8_t gateway[16];
} bh_route_info;

typedef struct bh_qdisc_info {
    int32_t index;
    uint32_t handle;
    uint32_t parent;
    char kind[16];
    /* tbf only (kind "tbf"): from TCA_TBF_PARMS and TCA_TBF_RATE64. */
    uint64_t tbf_rate_bytes;
    uint32_t tbf_limit_bytes;
    uint32_t tbf_buffer_ticks;
    /* TCA_STATS */
    uint64_t bytes;
    uint32_t packets;
    uint32_t drops;
    uint32_t overlimits;
    uint32_t reserved;
} bh_qdisc_info;

/* Dumps fill at most `capacity` records and store the total number seen in *count; a
 * caller whose array was too small retries with *count records. AF_UNSPEC dumps all. */
int bh_rtnl_dump_links(int sock, bh_link_info *_Nullable out, uint32_t capacity, uint32_t *_Nonnull count);
int bh_rtnl_dump_addrs(int sock, uint8_t family, bh_addr_info *_Nullable out, uint32_t capacity, uint32_t *_Nonnull count);
int bh_rtnl_dump_routes(int sock, uint8_t family, bh_route_info *_Nullable out, uint32_t capacity, uint32_t *_Nonnull count);
int bh_rtnl_dump_qdiscs(int sock, bh_qdisc_info *_Nullable out, uint32_t capacity, uint32_t *_Nonnull count);

/* A token bucket filter (sch_tbf) as the root qdisc (handle 1:) of a link. The rate
 * table is not sent: linklayer ethernet tells the kernel to compute rates itself. */
typedef struct bh_tbf_params {
    uint64_t rate_bytes;     /* bytes per second; > 2^32-1 goes in TCA_TBF_RATE64 */
    uint32_t burst_bytes;    /* bucket size, TCA_TBF_BURST */
    uint32_t limit_bytes;    /* queue length in bytes (the child bfifo) */
    uint32_t buffer_ticks;   /* the bucket as psched ticks (ns / 64), what tc reports */
    uint32_t replace;        /* 1: NLM_F_REPLACE an existing root qdisc; 0: NLM_F_EXCL */
} bh_tbf_params;

int bh_rtnl_qdisc_add_tbf(int sock, int32_t ifindex, const bh_tbf_params *_Nonnull params);

/* RTM_DELQDISC of the root qdisc: the link falls back to its default qdisc. */
int bh_rtnl_qdisc_delete_root(int sock, int32_t ifindex);

/* ---- nftables ---------------------------------------------------------------------- */

/* Where bh_nft_exec's child failed before nft ran (bh_nft_result.step). */
enum { BH_NFT_STEP_NONE = 0, BH_NFT_STEP_SETUP = 1, BH_NFT_STEP_SETNS = 2, BH_NFT_STEP_EXEC = 3 };

typedef struct {
    int status;       /* wait status of nft (waitpid), -1 when it was not waited for */
    int step;         /* BH_NFT_STEP_*: the child's step that failed, NONE when nft ran */
    int child_errno;  /* that step's errno */
} bh_nft_result;

/* Runs the nft program `progfd` (an fd of the checked executable, see TrustedFile.openProgram)
 * as `nft -f -` inside the network namespace `nsfd`, with `commands` (the nft(8) language, one
 * transaction) on its standard input, and copies what it writes to stdout and stderr into
 * `out` and `err`, NUL-terminated and truncated to fit (the rest is read and dropped).
 *
 * A child is forked (raw clone: no atfork handler), and between the fork and execveat it makes
 * system calls only, no allocation: setns(CLONE_NEWNET), chdir("/"), dup2 of the rules (a memfd) onto 0 and
 * of two pipes onto 1 and 2, every other fd closed, signal mask emptied, SIGPIPE default, a
 * fixed environment (PATH, LC_ALL=C), death signal SIGKILL when bulkhead dies. A failure of one
 * of those steps comes back over a close-on-exec pipe (result->step, result->child_errno).
 * After `timeout_ms` nft is killed (SIGKILL) and ETIMEDOUT returned, also when it closed its
 * stdout and stderr and kept running.
 *
 * Why a program and not libnftables: bulkhead's release build is a static executable, and a
 * static glibc cannot dlopen a library that needs the shared libc (its TLS and malloc are not
 * set up: libnftables crashed in libgmp). Returns 0 when nft ran (its exit in result->status)
 * or an errno of the parent's steps (memfd, pipe, fork, poll, waitpid). */
int bh_nft_exec(int progfd, int nsfd, const char *_Nonnull commands, size_t commands_len, int timeout_ms,
                char *_Nonnull out, size_t out_len, char *_Nonnull err, size_t err_len,
                bh_nft_result *_Nonnull result);

#endif
