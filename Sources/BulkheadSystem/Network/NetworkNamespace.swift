import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A persistent network namespace of bulkhead's, kept alive by a bind mount of its nsfs
/// file at `<directory>/<name>` (`/run/bulkhead/netns/node-4711-195200-0`), the way
/// `ip netns add` keeps `/run/netns/NAME`.
///
/// The handle owns one open fd of the namespace (for setns(2) and IFLA_NET_NS_FD). Work
/// inside the namespace never moves the calling thread: `openSocket` creates a socket on a
/// short-lived helper thread that joined the namespace, and the socket stays bound to the
/// namespace for its life (see CShims/include/bh_netlink.h).
public final class NetworkNamespace {
    /// bulkhead's namespaces live here, apart from `ip netns`'s /run/netns.
    public static let defaultDirectory = "/run/bulkhead/netns"

    /// The bind mount that keeps the namespace alive.
    public let path: String
    /// The file name in the directory.
    public var name: String { String(path.split(separator: "/").last ?? "") }
    private var fd: Int32
    /// Kept alive by its fd (and whoever joins it), not by a bind mount: `delete` only closes.
    public let anonymous: Bool

    private init(path: String, fd: Int32, anonymous: Bool = false) {
        self.path = path
        self.fd = fd
        self.anonymous = anonymous
    }

    deinit { close() }

    /// The open namespace fd, or nil after `close()`/`delete()`. Owned by this handle.
    public var fileDescriptor: Int32? { fd >= 0 ? fd : nil }

    /// Creates a new, empty network namespace (only `lo`, down) named `name` in `directory`
    /// and opens it. unshare(2) on a helper thread, then a bind mount of
    /// /proc/thread-self/ns/net; the caller's own namespace is untouched.
    public static func create(_ name: NetworkNamespaceName, in directory: String = defaultDirectory) throws(NetworkError) -> NetworkNamespace {
        try create(path: directory + "/" + name.description)
    }

    /// Creates a namespace kept alive at `path`, whose directory is made a shared mount
    /// first. For namespaces not owned by one process (bulkhead's node namespace), which
    /// `collectStale` therefore never removes: their owner must.
    public static func create(path: String) throws(NetworkError) -> NetworkNamespace {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw NetworkError(code: .invalidArgument, operation: "create network namespace \(path)")
        }
        let directory = String(path[..<slash])
        try makeDirectory(directory)
        try makeShared(directory)
        let rc = bh_netns_create(path)
        guard rc == 0 else {
            throw NetworkError(code: .namespace, operation: "create network namespace \(path)", errno: Errno(rc),
                               fix: rc == EEXIST ? "a namespace of that name exists; delete it or run `collectStale`"
                                   : rc == EPERM ? "creating network namespaces needs CAP_SYS_ADMIN (run as root)" : "")
        }
        do {
            return try open(path: path)
        } catch {
            _ = try? remove(path: path)
            throw error
        }
    }

    /// Creates a new network namespace with no bind mount (only `lo`, down), owned by the
    /// caller's user namespace: for bulkhead as root the initial one, so that no capability a
    /// process holds in a user namespace of its own changes the namespace's links, addresses,
    /// routes, neighbours or qdiscs (the kernel checks CAP_NET_ADMIN against the owner). The
    /// returned handle's fd is its only reference until a process joins it: it never outlives
    /// its users, and a killed owner leaves nothing behind. `label` names it in errors.
    public static func createAnonymous(label: String) throws(NetworkError) -> NetworkNamespace {
        var out: Int32 = -1
        let rc = bh_netns_create_fd(&out)
        guard rc == 0 else {
            throw NetworkError(code: .namespace, operation: "create network namespace \(label)", errno: Errno(rc),
                               fix: rc == EPERM ? "creating network namespaces needs CAP_SYS_ADMIN (run as root)" : "")
        }
        return NetworkNamespace(path: label, fd: out, anonymous: true)
    }

    /// Mounts a read-only sysfs of this namespace at `target` (an existing directory) in the
    /// caller's mount namespace; the caller unmounts it. See bh_netns_mount_sysfs.
    public func mountSysfs(at target: String) throws(NetworkError) {
        guard fd >= 0 else { throw NetworkError(code: .closed, operation: "mount sysfs", namespace: path) }
        let rc = bh_netns_mount_sysfs(fd, target)
        guard rc == 0 else {
            throw NetworkError(code: .namespace, operation: "mount a sysfs of the namespace at \(target)", namespace: path, errno: Errno(rc))
        }
    }

    /// Writes `value` to the net sysctl `path` (`/proc/sys/net/...`) of this namespace.
    public func writeSysctl(_ path: String, _ value: String) throws(NetworkError) {
        guard fd >= 0 else { throw NetworkError(code: .closed, operation: "write \(path)", namespace: self.path) }
        let rc = bh_netns_write_sysctl(fd, path, value)
        guard rc == 0 else { throw NetworkError(code: .namespace, operation: "write \(value) to \(path)", namespace: self.path, errno: Errno(rc)) }
    }

    /// The hardware (MAC) address of link `name` in this namespace, as `aa:bb:cc:dd:ee:ff`.
    public func hardwareAddress(of name: String) throws(NetworkError) -> String {
        let s = try openSocket(domain: AF_INET, type: Int32(SOCK_DGRAM.rawValue))
        defer { Glibc.close(s) }
        var mac = [UInt8](repeating: 0, count: 6)
        let rc = bh_link_hwaddr(s, name, &mac)
        guard rc == 0 else {
            throw NetworkError(code: .socket, operation: "read the hardware address of \(name)", namespace: path, errno: Errno(rc))
        }
        return mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    /// Opens an existing namespace file (a bind mount made by `create` or `ip netns add`).
    public static func open(path: String) throws(NetworkError) -> NetworkNamespace {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw NetworkError(code: .namespace, operation: "open network namespace \(path)", errno: .current)
        }
        // A plain file (a creation interrupted before its mount) is no namespace: refuse it
        // rather than let setns fail later with EINVAL.
        if bh_netns_check(fd) != 0 {
            Glibc.close(fd)
            throw NetworkError(code: .namespace, operation: "open network namespace \(path)", errno: Errno(EINVAL),
                               detail: "not a network namespace (no nsfs mount there)")
        }
        return NetworkNamespace(path: path, fd: fd)
    }

    /// Opens `<directory>/<name>`.
    public static func open(name: String, in directory: String = defaultDirectory) throws(NetworkError) -> NetworkNamespace {
        try open(path: directory + "/" + name)
    }

    /// Closes the fd; the namespace lives on while its bind mount does.
    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    /// Closes the fd, unmounts the bind mount and removes the file. The kernel destroys the
    /// namespace, with every link in it (a veth's peer in another namespace goes too), once
    /// no process, socket or open fd refers to it any more.
    public func delete() throws(NetworkError) {
        close()
        if anonymous { return }
        try Self.remove(path: path)
    }

    /// The namespace's inode number (what /proc/PID/ns/net links to: `net:[inode]`).
    public var inode: UInt64? {
        guard fd >= 0 else { return nil }
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// A new socket created inside this namespace (socket(2) on a helper thread after
    /// setns(2)); the caller owns the fd and must close it. Close-on-exec.
    public func openSocket(domain: Int32, type: Int32, protocol proto: Int32 = 0) throws(NetworkError) -> Int32 {
        guard fd >= 0 else { throw NetworkError(code: .closed, operation: "open a socket", namespace: path) }
        var out: Int32 = -1
        let rc = bh_netns_socket(fd, domain, type, proto, &out)
        guard rc == 0 else {
            throw NetworkError(code: .socket, operation: "open socket(\(domain), \(type), \(proto))", namespace: path, errno: Errno(rc))
        }
        return out
    }

    /// An rtnetlink socket inside this namespace, for links, addresses, routes and qdiscs.
    /// Every request on it times out after `timeoutMilliseconds`.
    public func routeSocket(timeoutMilliseconds: Int32 = 5000) throws(NetworkError) -> RouteSocket {
        guard fd >= 0 else { throw NetworkError(code: .closed, operation: "open an rtnetlink socket", namespace: path) }
        var s: Int32 = -1
        let rc = bh_rtnl_open(fd, timeoutMilliseconds, &s)
        guard rc == 0 else {
            throw NetworkError(code: .socket, operation: "open an rtnetlink socket", namespace: path, errno: Errno(rc))
        }
        return RouteSocket(fd: s, namespace: path)
    }

    // MARK: - Listing and stale collection

    /// The names of the files in `directory` (bulkhead's namespaces and anything else there).
    public static func names(in directory: String = defaultDirectory) -> [String] {
        FileIO.listDirectory(directory)
    }

    /// Removes the namespaces in `directory` whose owner (encoded in a `NetworkNamespaceName`)
    /// no longer runs, and returns their paths. Files whose names are not such names, and
    /// namespaces whose owner is alive, are never touched.
    @discardableResult
    public static func collectStale(in directory: String = defaultDirectory) -> [String] {
        var removed: [String] = []
        for name in names(in: directory) {
            guard let parsed = NetworkNamespaceName(parsing: name), !parsed.ownerIsAlive else { continue }
            let path = directory + "/" + name
            if (try? remove(path: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// umount2(MNT_DETACH) then unlink; a file that is not (or no longer) a mount point, or
    /// is already gone, is fine.
    static func remove(path: String) throws(NetworkError) {
        if umount2(path, Int32(MNT_DETACH)) != 0 {
            let e = Glibc.errno
            guard e == EINVAL || e == ENOENT else {
                throw NetworkError(code: .namespace, operation: "unmount network namespace \(path)", errno: Errno(e))
            }
        }
        if unlink(path) != 0, Glibc.errno != ENOENT {
            throw NetworkError(code: .namespace, operation: "remove \(path)", errno: .current)
        }
    }

    /// Makes `directory` a shared mount point, as `ip netns add` does for /run/netns: try
    /// MS_SHARED; if it is not a mount point yet (EINVAL), bind it onto itself first. Why:
    /// a sandbox whose root is a recursive bind of the host's `/` (made a slave first) gets
    /// copies of the nsfs mounts here; with a shared directory the copies are slaves of it,
    /// so unmounting a namespace here unmounts the copies too and the namespace can die,
    /// instead of living on until every such sandbox has ended.
    static func makeShared(_ directory: String) throws(NetworkError) {
        if mount("", directory, "none", UInt(MS_SHARED | MS_REC), nil) == 0 { return }
        guard Glibc.errno == EINVAL else {
            throw NetworkError(code: .namespace, operation: "make \(directory) a shared mount", errno: .current)
        }
        guard mount(directory, directory, "none", UInt(MS_BIND | MS_REC), nil) == 0,
              mount("", directory, "none", UInt(MS_SHARED | MS_REC), nil) == 0 else {
            throw NetworkError(code: .namespace, operation: "make \(directory) a shared mount", errno: .current)
        }
    }

    /// mkdir -p with mode 0755.
    static func makeDirectory(_ directory: String) throws(NetworkError) {
        var prefix = ""
        for part in directory.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0, Glibc.errno != EEXIST {
                throw NetworkError(code: .namespace, operation: "create directory \(prefix)", errno: .current)
            }
        }
    }
}
