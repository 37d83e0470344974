import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An rtnetlink (NETLINK_ROUTE) socket bound to one network namespace: every request on
/// it acts on that namespace, whichever thread sends it. Get one from
/// `NetworkNamespace.routeSocket()`. The handle owns the fd; it is not meant to be shared
/// between threads.
public final class RouteSocket {
    /// The namespace's path, for error messages.
    public let namespace: String
    private var fd: Int32

    init(fd: Int32, namespace: String) {
        self.fd = fd
        self.namespace = namespace
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    // MARK: - Links

    /// Creates a bridge and returns its ifindex (RTM_NEWLINK, kind `bridge`). It starts down.
    @discardableResult
    public func createBridge(named name: String) throws(NetworkError) -> Int32 {
        try checkName(name)
        try request("create bridge \(name)") { bh_rtnl_link_add($0, name, "bridge") }
        return try linkIndex(named: name)
    }

    /// Creates a veth pair: `name` here, `peerName` created directly inside `peerNamespace`
    /// (nil: here too). Returns the ifindex of the end in this namespace. Both ends start down.
    @discardableResult
    public func createVethPair(named name: String, peerName: String, peerNamespace: NetworkNamespace?) throws(NetworkError) -> Int32 {
        try checkName(name)
        try checkName(peerName)
        var peerFD: Int32 = -1
        if let peerNamespace {
            guard let f = peerNamespace.fileDescriptor else {
                throw NetworkError(code: .closed, operation: "create veth \(name) (peer \(peerName))", namespace: peerNamespace.path)
            }
            peerFD = f
        }
        let where_ = peerNamespace.map { " in \($0.path)" } ?? ""
        try request("create veth \(name) (peer \(peerName)\(where_))") { bh_rtnl_veth_add($0, name, peerName, peerFD) }
        return try linkIndex(named: name)
    }

    /// Sets the link up or down (IFF_UP).
    public func setUp(_ index: Int32, _ up: Bool = true) throws(NetworkError) {
        try request("set link \(index) \(up ? "up" : "down")") { bh_rtnl_link_set_up($0, index, up ? 1 : 0) }
    }

    /// Makes the link a port of the bridge `master` (IFLA_MASTER); nil releases it.
    public func setMaster(_ index: Int32, master: Int32?) throws(NetworkError) {
        try request("set master of link \(index) to \(master.map(String.init) ?? "none")") {
            bh_rtnl_link_set_master($0, index, master ?? 0)
        }
    }

    /// Moves the link into `namespace` (IFLA_NET_NS_FD), renaming it to `newName` if given.
    /// Its addresses and routes do not move with it.
    public func moveLink(_ index: Int32, to namespace: NetworkNamespace, renamingTo newName: String? = nil) throws(NetworkError) {
        if let newName { try checkName(newName) }
        guard let nsfd = namespace.fileDescriptor else {
            throw NetworkError(code: .closed, operation: "move link \(index)", namespace: namespace.path)
        }
        try request("move link \(index) to \(namespace.path)") { s in
            if let newName { return bh_rtnl_link_set_netns(s, index, nsfd, newName) }
            return bh_rtnl_link_set_netns(s, index, nsfd, nil)
        }
    }

    /// Deletes the link (RTM_DELLINK); for a veth both ends go.
    public func deleteLink(_ index: Int32) throws(NetworkError) {
        try request("delete link \(index)") { bh_rtnl_link_delete($0, index) }
    }

    /// The ifindex of the link called `name`; `.netlink` with ENODEV when there is none.
    public func linkIndex(named name: String) throws(NetworkError) -> Int32 {
        try checkName(name)
        var index: Int32 = 0
        try request("find link \(name)") { bh_rtnl_link_index($0, name, &index) }
        return index
    }

    /// Every link of the namespace.
    public func links() throws(NetworkError) -> [LinkInfo] {
        try dump("dump links", empty: bh_link_info()) { bh_rtnl_dump_links($0, $1, $2, $3) }.map(LinkInfo.init)
    }

    // MARK: - Addresses and routes

    /// Adds an IPv4 address with its prefix to the link (RTM_NEWADDR), which also adds the
    /// prefix route once the link is up.
    public func addAddress(_ cidr: IPv4CIDR, to index: Int32) throws(NetworkError) {
        let bytes = cidr.address.octets
        try request("add address \(cidr) to link \(index)") { s in
            bytes.withUnsafeBufferPointer { bh_rtnl_addr_add(s, index, UInt8(AF_INET), $0.baseAddress!, cidr.prefixLength) }
        }
    }

    /// Every address of the namespace (IPv4 and IPv6).
    public func addresses() throws(NetworkError) -> [AddressInfo] {
        try dump("dump addresses", empty: bh_addr_info()) { bh_rtnl_dump_addrs($0, UInt8(AF_UNSPEC), $1, $2, $3) }.map(AddressInfo.init)
    }

    /// Adds the IPv4 default route via `gateway` to the main table (RTM_NEWROUTE). The
    /// gateway must be reachable: on a link that is up and has an address in its network.
    public func addDefaultRoute(via gateway: IPv4Address) throws(NetworkError) {
        let bytes = gateway.octets
        try request("add default route via \(gateway)") { s in
            bytes.withUnsafeBufferPointer { bh_rtnl_route_add_default(s, UInt8(AF_INET), $0.baseAddress!) }
        }
    }

    /// Every IPv4 route of every table.
    public func routes() throws(NetworkError) -> [RouteInfo] {
        try dump("dump routes", empty: bh_route_info()) { bh_rtnl_dump_routes($0, UInt8(AF_INET), $1, $2, $3) }.map(RouteInfo.init)
    }

    // MARK: - Qdiscs

    /// Makes `bucket` the root qdisc (handle 1:) of the link, shaping what the link sends.
    /// With `replace` an existing root qdisc is replaced; without it one is refused (EEXIST).
    public func setTokenBucket(_ bucket: TokenBucket, on index: Int32, replace: Bool = false) throws(NetworkError) {
        var p = bh_tbf_params(rate_bytes: bucket.rateBytesPerSecond, burst_bytes: bucket.burstBytes,
                              limit_bytes: bucket.limitBytes, buffer_ticks: bucket.bufferTicks, replace: replace ? 1 : 0)
        try request("set tbf rate \(bucket.rateBitsPerSecond)bit burst \(bucket.burstBytes)b limit \(bucket.limitBytes)b on link \(index)") {
            bh_rtnl_qdisc_add_tbf($0, index, &p)
        }
    }

    /// Deletes the root qdisc; the link returns to its default one.
    public func deleteRootQdisc(on index: Int32) throws(NetworkError) {
        try request("delete root qdisc of link \(index)") { bh_rtnl_qdisc_delete_root($0, index) }
    }

    /// Every qdisc of the namespace, with its statistics.
    public func qdiscs() throws(NetworkError) -> [QdiscInfo] {
        try dump("dump qdiscs", empty: bh_qdisc_info()) { bh_rtnl_dump_qdiscs($0, $1, $2, $3) }.map(QdiscInfo.init)
    }

    // MARK: - Plumbing

    private func request(_ operation: String, _ body: (Int32) -> Int32) throws(NetworkError) {
        guard fd >= 0 else { throw NetworkError(code: .closed, operation: operation, namespace: namespace) }
        let rc = body(fd)
        guard rc == 0 else {
            // Read at once: the extended ack is kept per thread until the next request.
            let detail = String(cString: bh_rtnl_last_error_message())
            throw NetworkError(code: .netlink, operation: operation, namespace: namespace, errno: Errno(rc), detail: detail,
                               fix: rc == EPERM ? "rtnetlink changes need CAP_NET_ADMIN over the namespace (run as root)" : "")
        }
    }

    /// Runs a dump into a caller-sized array, growing it when the kernel had more records.
    private func dump<T>(_ operation: String, empty: T,
                         _ call: (Int32, UnsafeMutablePointer<T>?, UInt32, UnsafeMutablePointer<UInt32>) -> Int32) throws(NetworkError) -> [T] {
        var capacity: UInt32 = 64
        for _ in 0..<4 {
            var records = [T](repeating: empty, count: Int(capacity))
            var count: UInt32 = 0
            try request(operation) { s in
                records.withUnsafeMutableBufferPointer { call(s, $0.baseAddress, capacity, &count) }
            }
            if count <= capacity { return Array(records.prefix(Int(count))) }
            capacity = count + 64
        }
        throw NetworkError(code: .netlink, operation: operation, namespace: namespace, errno: Errno(EAGAIN),
                           detail: "the number of records kept changing")
    }

    private func checkName(_ name: String) throws(NetworkError) {
        let ok = (1...15).contains(name.utf8.count) && name != "." && name != ".."
            && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
        guard ok else {
            throw NetworkError(code: .invalidArgument, operation: "use link name \"\(name)\"", namespace: namespace,
                               detail: "a link name has 1 to 15 printable characters without '/', ':' or spaces")
        }
    }
}
