import Foundation
import Testing
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// The node-and-two-pods topology of the network tests, built only inside namespaces the
/// test creates (10.244.0.0/24 exists nowhere else):
///
///     node-…  bh0 10.244.0.1/24 (bridge) ── vbhA ┄┄ eth0 10.244.0.2/24  pod-… (A)
///                                         └─ vbhB ┄┄ eth0 10.244.0.3/24  pod-… (B)
///
/// `teardown()` removes everything; it runs on every path (the tests call it in `defer`).
final class PodNetworkFixture {
    static let bridgeAddress = IPv4CIDR("10.244.0.1/24")!
    static let podAddresses = [IPv4CIDR("10.244.0.2/24")!, IPv4CIDR("10.244.0.3/24")!]

    let node: NetworkNamespace
    var pods: [NetworkNamespace] = []
    var nodeRoute: RouteSocket
    var podRoutes: [RouteSocket] = []
    var bridgeIndex: Int32 = 0
    var nodeVeths: [Int32] = []
    var sockets: [Int32] = []
    private var tornDown = false

    /// Names for this process with a random sequence, so parallel runs cannot collide.
    static func name(_ role: String) -> NetworkNamespaceName {
        NetworkNamespaceName.forCurrentProcess(role: role, sequence: UInt64.random(in: 1...UInt64(UInt32.max)))!
    }

    init() throws {
        node = try NetworkNamespace.create(Self.name("node"))
        nodeRoute = try node.routeSocket()
        do {
            try build()
        } catch {
            teardown()
            throw error
        }
    }

    private func build() throws {
        bridgeIndex = try nodeRoute.createBridge(named: "bh0")
        try nodeRoute.addAddress(Self.bridgeAddress, to: bridgeIndex)
        try nodeRoute.setUp(bridgeIndex)
        for (i, address) in Self.podAddresses.enumerated() {
            let pod = try NetworkNamespace.create(Self.name("pod"))
            pods.append(pod)
            let hostEnd = try nodeRoute.createVethPair(named: "vbh\(["A", "B"][i])", peerName: "eth0", peerNamespace: pod)
            nodeVeths.append(hostEnd)
            try nodeRoute.setMaster(hostEnd, master: bridgeIndex)
            try nodeRoute.setUp(hostEnd)
            let r = try pod.routeSocket()
            podRoutes.append(r)
            try r.setUp(try r.linkIndex(named: "lo"))
            let eth0 = try r.linkIndex(named: "eth0")
            try r.addAddress(address, to: eth0)
            try r.setUp(eth0)
            try r.addDefaultRoute(via: Self.bridgeAddress.address)
        }
    }

    /// A socket inside pod `i`, closed by teardown.
    func socket(inPod i: Int, type: Int32 = Int32(SOCK_STREAM.rawValue)) throws -> Int32 {
        let s = try pods[i].openSocket(domain: AF_INET, type: type)
        sockets.append(s)
        return s
    }

    func close(_ fd: Int32) {
        if let i = sockets.firstIndex(of: fd) { sockets.remove(at: i); Glibc.close(fd) }
    }

    /// Removes the policy table, every socket, both pods and the node; idempotent.
    func teardown() {
        guard !tornDown else { return }
        tornDown = true
        for s in sockets { Glibc.close(s) }
        sockets = []
        try? node.removeBridgeFilter()
        for r in podRoutes { r.close() }
        for p in pods { try? p.delete() }
        nodeRoute.close()
        try? node.delete()
    }

    deinit { teardown() }
}

/// Plain TCP over sockets created inside the pods' namespaces.
enum TCP {
    static func sockaddr(_ a: IPv4Address, _ port: UInt16) -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = a.value.bigEndian
        return sa
    }

    static func listen(_ fd: Int32, on a: IPv4Address, port: UInt16) throws {
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = sockaddr(a, port)
        let rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw Errno.current }
        guard Glibc.listen(fd, 16) == 0 else { throw Errno.current }
    }

    /// Connects with a deadline: ETIMEDOUT when no answer came (dropped), ECONNREFUSED when
    /// refused. The socket is left blocking again on success.
    static func connect(_ fd: Int32, to a: IPv4Address, port: UInt16, timeoutMs: Int32) -> Errno? {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var sa = sockaddr(a, port)
        let rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc == 0 { return nil }
        guard errno == EINPROGRESS else { return .current }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { return Errno(ETIMEDOUT) }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0 ? nil : Errno(err)
    }

    /// accept(2) with a deadline.
    static func accept(_ listener: Int32, timeoutMs: Int32) -> Int32? {
        var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { return nil }
        let fd = Glibc.accept(listener, nil, nil)
        return fd >= 0 ? fd : nil
    }

    /// Sends `bytes` from `sender` (on another thread) and receives them on `receiver`;
    /// returns the receiver's throughput in bit/s from its first byte to its last, which
    /// leaves connection setup and thread start-up out. Bounded by `timeout` seconds (each
    /// socket gets send/receive timeouts).
    static func measure(sender: Int32, receiver: Int32, bytes: Int, timeout: Int = 30) throws -> Double {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        for fd in [sender, receiver] {
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        let done = DispatchSemaphore(value: 0)
        let sentOK = LockedFlag()
        let thread = Thread {
            var chunk = [UInt8](repeating: 0x5a, count: 64 << 10)
            var left = bytes
            while left > 0 {
                let n = chunk.withUnsafeMutableBytes { Glibc.send(sender, $0.baseAddress, min($0.count, left), Int32(MSG_NOSIGNAL)) }
                if n < 0 { if errno == EINTR { continue }; break }
                left -= n
            }
            sentOK.set(left == 0)
            done.signal()
        }
        thread.start()
        var buf = [UInt8](repeating: 0, count: 256 << 10)
        var got = 0
        var first = 0.0, last = 0.0, firstChunk = 0
        while got < bytes {
            let n = buf.withUnsafeMutableBytes { Glibc.recv(receiver, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if got == 0 { first = now(); firstChunk = n }
            got += n
            last = now()
        }
        _ = done.wait(timeout: .now() + .seconds(timeout))
        guard got == bytes, sentOK.get() else { throw Errno(EIO) }
        // The first read holds bytes that arrived before `first`: count only those after it.
        return Double(bytes - firstChunk) * 8 / max(last - first, 1e-6)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set(_ v: Bool) { lock.lock(); value = v; lock.unlock() }
    func get() -> Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// Whether any mount of this mount namespace refers to the network namespace `inode`
/// (an nsfs bind mount shows root `net:[inode]` in mountinfo).
func netnsMounted(inode: UInt64) -> Bool {
    (FileIO.read("/proc/self/mountinfo") ?? "").contains("net:[\(inode)]")
}

/// Whether any process's /proc/PID/ns/net is `inode`.
func netnsUsedByAProcess(inode: UInt64) -> Bool {
    FileIO.listDirectory("/proc").contains { pid in
        pid.allSatisfy(\.isNumber) && FileIO.readLink("/proc/\(pid)/ns/net") == "net:[\(inode)]"
    }
}
