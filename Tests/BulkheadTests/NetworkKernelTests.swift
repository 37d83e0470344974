import Foundation
import Testing
@testable import Bulkhead
@testable import BulkheadModel
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// Node and pod networking against the real kernel: namespaces, rtnetlink, tbf and the
/// nftables bridge policy. Everything lives in namespaces these tests create; nothing
/// touches the host's own network namespace. Serialized: the throughput test measures.
@Suite("network (real kernel, root)", .serialized, .enabled(if: Gate.root, Gate.rootReason))
struct NetworkKernelTests {
    @Test func namespaceCreateOpenDelete() throws {
        let name = PodNetworkFixture.name("pod")
        let ns = try NetworkNamespace.create(name)
        var deleted = false
        defer { if !deleted { try? ns.delete() } }
        let path = NetworkNamespace.defaultDirectory + "/\(name)"
        #expect(ns.path == path)
        #expect(NetworkNamespace.names().contains(name.description))
        let inode = try #require(ns.inode)
        #expect(netnsMounted(inode: inode))
        // Not the test's own namespace.
        #expect(FileIO.readLink("/proc/self/ns/net") != "net:[\(inode)]")
        // A second handle opens the same namespace; a plain file is refused.
        let again = try NetworkNamespace.open(name: name.description)
        #expect(again.inode == inode)
        again.close()
        #expect(throws: NetworkError.self) { try NetworkNamespace.open(path: "/proc/self/status") }
        // Creating it twice is refused with EEXIST.
        #expect { try NetworkNamespace.create(name) } throws: { ($0 as? NetworkError)?.errno == Errno(EEXIST) }
        // A fresh namespace has only lo, down, and no addresses.
        let r = try ns.routeSocket()
        let links = try r.links()
        #expect(links.map(\.name) == ["lo"])
        #expect(links.first?.isUp == false)
        #expect(try r.addresses().isEmpty)
        r.close()
        try ns.delete()
        deleted = true
        #expect(!FileIO.exists(path))
        #expect(!netnsMounted(inode: inode))
        #expect(!netnsUsedByAProcess(inode: inode))
        // Use after delete is an error value, not a crash.
        #expect { try ns.routeSocket() } throws: { ($0 as? NetworkError)?.code == .closed }
    }

    /// Prints what the primitives cost (for docs/network.md), and checks in every round that
    /// each primitive did what it is timed for: the namespace exists (mounted, listed, not
    /// ours), the rtnetlink socket speaks to it (a fresh namespace: only `lo`, and down), the
    /// request set `lo` up (seen by the socket and by `ip` run inside the namespace), and the
    /// delete removed the mount and the name. The times are printed, never asserted.
    @Test func primitiveCosts() throws {
        var create = 0.0, socket = 0.0, request = 0.0, delete = 0.0
        let rounds = 10
        let ourNet = FileIO.readLink("/proc/self/ns/net")
        for round in 0..<rounds {
            var t = TCP.now()
            let ns = try NetworkNamespace.create(PodNetworkFixture.name("pod"))
            create += TCP.now() - t
            var deleted = false
            defer { if !deleted { try? ns.delete() } }
            let inode = try #require(ns.inode, "round \(round): the namespace has no inode")
            #expect(netnsMounted(inode: inode), "round \(round): create left no nsfs mount")
            #expect(NetworkNamespace.names().contains(ns.name), "round \(round): not listed")
            #expect(ourNet != "net:[\(inode)]", "round \(round): the test's own namespace")
            t = TCP.now()
            let r = try ns.routeSocket()
            socket += TCP.now() - t
            defer { r.close() }
            let fresh = try r.links()
            #expect(fresh.map(\.name) == ["lo"] && !fresh[0].isUp, "round \(round): not a fresh namespace's links: \(fresh)")
            t = TCP.now()
            try r.setUp(try r.linkIndex(named: "lo"))
            request += TCP.now() - t
            #expect(try r.links().first { $0.name == "lo" }?.isUp == true, "round \(round): lo is not up")
            #expect(Self.loIsUp(inNamespaceAt: ns.path), "round \(round): ip inside the namespace does not see lo up")
            t = TCP.now()
            try ns.delete()
            delete += TCP.now() - t
            deleted = true
            #expect(!netnsMounted(inode: inode), "round \(round): the delete left the nsfs mount")
            #expect(!NetworkNamespace.names().contains(ns.name), "round \(round): still listed after the delete")
            #expect(!FileManager.default.fileExists(atPath: ns.path), "round \(round): \(ns.path) is left")
        }
        func ms(_ x: Double) -> String { String(format: "%.3f ms", x * 1000 / Double(rounds)) }
        print("network: create namespace \(ms(create)), rtnetlink socket inside it \(ms(socket)), lookup + set up lo \(ms(request)), delete \(ms(delete))")
    }

    /// `ip -o link show lo` run inside the namespace (nsenter), an independent reader of the
    /// link's flags.
    static func loIsUp(inNamespaceAt path: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        p.arguments = ["--net=" + path, "/usr/sbin/ip", "-o", "link", "show", "lo"]
        let out = Pipe()
        p.standardOutput = out
        guard (try? p.run()) != nil else { return false }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, let flags = text.split(separator: "<").dropFirst().first?.split(separator: ">").first else { return false }
        return flags.split(separator: ",").contains("UP")
    }

    /// A process in another mount namespace (a copy of ours with slave propagation, as a
    /// sandbox's is) sees the nsfs mount; deleting the namespace here must unmount its copy
    /// too, or that process would keep the namespace alive.
    @Test func deleteUnmountsCopiesInSlaveMountNamespaces() throws {
        let ns = try NetworkNamespace.create(PodNetworkFixture.name("pod"))
        var deleted = false
        defer { if !deleted { try? ns.delete() } }
        let inode = try #require(ns.inode)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["--mount", "--propagation", "slave", "/bin/sleep", "30"]
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        let pid = holder.processIdentifier
        func copyPresent() -> Bool { (FileIO.read("/proc/\(pid)/mountinfo") ?? "").contains("net:[\(inode)]") }
        // unshare(1) copies the mount table before it execs sleep; wait for that (bounded).
        var seen = false
        for _ in 0..<100 where !seen {
            seen = FileIO.readLink("/proc/\(pid)/exe") == "/usr/bin/sleep" && copyPresent()
            if !seen { usleep(20_000) }
        }
        #expect(seen, "the holder's mount namespace has no copy of the namespace mount")
        try ns.delete()
        deleted = true
        var gone = false
        for _ in 0..<100 where !gone {
            gone = !copyPresent()
            if !gone { usleep(20_000) }
        }
        #expect(gone, "the copy in a slave mount namespace survived the delete")
    }

    @Test("A failed network setup step keeps the kernel's errno: the launch error wraps it, the report names it")
    func failedSetupStepReportsErrno() throws {
        let ns = try NetworkNamespace.create(PodNetworkFixture.name("pod"))
        defer { try? ns.delete() }
        let r = try ns.routeSocket()
        defer { r.close() }
        try NodeNetwork.step("create the node bridge") { () throws(NetworkError) in _ = try r.createBridge(named: "br0") }
        var kernel: NetworkError?
        do throws(NetworkError) { _ = try r.createBridge(named: "br0") } catch { kernel = error }
        let cause = try #require(kernel)
        #expect(cause.errno == Errno(EEXIST))
        var launch: LaunchError?
        do throws(LaunchError) {
            try NodeNetwork.step("create the node bridge") { () throws(NetworkError) in _ = try r.createBridge(named: "br0") }
        } catch { launch = error }
        let error = try #require(launch)
        // What goes into the run report, through its Codable form.
        let report = try JSONDecoder().decode(LaunchErrorReport.self, from: JSONEncoder().encode(error.report))
        #expect(report.errno == "EEXIST", "\(report)")
        #expect(report.operation == "create the node bridge")
        #expect(report.message == "create the node bridge: \(cause)", "the message is the text it always was")
    }

    @Test func kernelErrorsCarryTheExtendedAck() throws {
        let ns = try NetworkNamespace.create(PodNetworkFixture.name("pod"))
        defer { try? ns.delete() }
        let r = try ns.routeSocket()
        defer { r.close() }
        #expect { try r.linkIndex(named: "nosuch0") } throws: { ($0 as? NetworkError)?.errno == Errno(ENODEV) }
        let br = try r.createBridge(named: "br0")
        #expect { try r.createBridge(named: "br0") } throws: { ($0 as? NetworkError)?.errno == Errno(EEXIST) }
        #expect { try r.createBridge(named: "bad name") } throws: { ($0 as? NetworkError)?.code == .invalidArgument }
        // A default route via an unreachable gateway: the kernel says why.
        do {
            try r.addDefaultRoute(via: IPv4Address(10, 244, 9, 9))
            Issue.record("a default route via an unreachable gateway was accepted")
        } catch {
            #expect(error.errno == Errno(ENETUNREACH))
            #expect(!error.detail.isEmpty, "no extended ack text: \(error)")
        }
        try r.deleteLink(br)
        #expect(try !r.links().contains { $0.name == "br0" })
    }

    @Test func nodeBridgeTwoPodsPolicyAndShaping() throws {
        let net = try PodNetworkFixture()
        defer { net.teardown() }
        let nodeInode = try #require(net.node.inode)
        let podInodes = net.pods.compactMap(\.inode)

        // --- the topology, read back through our own dumps ---
        let nodeLinks = try net.nodeRoute.links()
        let bridge = try #require(nodeLinks.first { $0.name == "bh0" })
        #expect(bridge.kind == "bridge" && bridge.isUp)
        for name in ["vbhA", "vbhB"] {
            let veth = try #require(nodeLinks.first { $0.name == name })
            #expect(veth.kind == "veth" && veth.isUp && veth.master == bridge.index)
        }
        #expect(try net.nodeRoute.addresses().compactMap(\.ipv4).contains(PodNetworkFixture.bridgeAddress))
        for (i, r) in net.podRoutes.enumerated() {
            let links = try r.links()
            #expect(Set(links.map(\.name)) == ["lo", "eth0"])
            let eth0 = try #require(links.first { $0.name == "eth0" })
            #expect(eth0.kind == "veth" && eth0.isUp && eth0.master == nil)
            let addrs = try r.addresses().filter { $0.index == eth0.index }.compactMap(\.ipv4)
            #expect(addrs == [PodNetworkFixture.podAddresses[i]])
            let main = try r.routes().filter { $0.table == RouteInfo.mainTable }
            let def = try #require(main.first { $0.isDefault })
            #expect(def.gateway == PodNetworkFixture.bridgeAddress.address && def.outputIndex == eth0.index)
            #expect(main.contains { $0.destination == IPv4CIDR("10.244.0.0/24")! && $0.outputIndex == eth0.index })
        }
        // The pod's eth0 is not visible in the node namespace, and vice versa.
        #expect(!nodeLinks.contains { $0.name == "eth0" })

        let a = PodNetworkFixture.podAddresses[0].address
        let b = PodNetworkFixture.podAddresses[1].address
        let port: UInt16 = 8080
        let listener = try net.socket(inPod: 1)
        try TCP.listen(listener, on: b, port: port)

        /// One connection attempt from pod A to pod B; nil when it was accepted.
        func connectAB(timeoutMs: Int32 = 1500, port: UInt16 = port) throws -> Errno? {
            let c = try net.socket(inPod: 0)
            defer { net.close(c) }
            if let e = TCP.connect(c, to: b, port: port, timeoutMs: timeoutMs) { return e }
            guard let s = TCP.accept(listener, timeoutMs: 1000) else { return Errno(EIO) }
            Glibc.close(s)
            return nil
        }

        // --- reachability ---
        #expect(try connectAB() == nil, "pod A cannot reach pod B without any policy")
        // A port with no listener is refused (answered), not dropped.
        #expect(try connectAB(port: 8081) == Errno(ECONNREFUSED))

        // --- policy: default drop between pods ---
        // The node's generator (NodeFirewall), as `pod run` applies it: B isolated, no hole.
        let podA = RunningPod(name: "a", namespace: "t", ip: a.description)
        let podB = RunningPod(name: "b", namespace: "t", ip: b.description)
        try net.node.runNftables(NodeFirewall.script(NetworkPolicyResolution(ingressIsolated: [podB], egressIsolated: [], flows: [])))
        let listed = try net.node.nftRuleset()
        #expect(listed.contains("table bridge bulkhead") && listed.contains("hook forward"), "\(listed)")
        #expect(try connectAB(timeoutMs: 1000) == Errno(ETIMEDOUT), "default drop let the connection through")

        // --- an allow rule for A -> B:8080 restores it, and only it ---
        try net.node.runNftables(NodeFirewall.script(NetworkPolicyResolution(
            ingressIsolated: [podB], egressIsolated: [],
            flows: [AllowedFlow(direction: .ingress, source: podA.ip, destination: podB.ip, protocol: .tcp, port: port)])))
        #expect(try connectAB() == nil, "the allow rule did not restore A -> B:\(port)")
        #expect(try connectAB(timeoutMs: 1000, port: 8081) == Errno(ETIMEDOUT), "a port the policy does not allow got an answer")
        // B may not open a connection to A from the allowed port (the reply rule is not a hole).
        let listenerA = try net.socket(inPod: 0)
        try TCP.listen(listenerA, on: a, port: 9090)
        let fromB = try net.socket(inPod: 1)
        var one: Int32 = 1
        setsockopt(fromB, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sb = TCP.sockaddr(b, port)
        _ = withUnsafePointer(to: &sb) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fromB, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(TCP.connect(fromB, to: a, port: 9090, timeoutMs: 1000) == Errno(ETIMEDOUT))
        net.close(fromB)
        net.close(listenerA)

        try net.node.removeBridgeFilter()
        #expect(try !net.node.nftRuleset().contains("bulkhead"))
        #expect(try connectAB() == nil)

        // --- shaping: tbf 8 Mbit/s on pod A's egress (root qdisc of A's eth0) ---
        let bytes = 4 << 20
        func throughput() throws -> Double {
            let c = try net.socket(inPod: 0)
            defer { net.close(c) }
            if let e = TCP.connect(c, to: b, port: port, timeoutMs: 2000) { throw e }
            guard let s = TCP.accept(listener, timeoutMs: 2000) else { throw Errno(EIO) }
            defer { Glibc.close(s) }
            return try TCP.measure(sender: c, receiver: s, bytes: bytes)
        }
        let unshaped = try throughput()
        let rA = net.podRoutes[0]
        let eth0A = try rA.linkIndex(named: "eth0")
        let bucket = try #require(TokenBucket(rateBitsPerSecond: 8_000_000, burstBytes: 32 << 10))
        try rA.setTokenBucket(bucket, on: eth0A)
        let qdisc = try #require(try rA.qdiscs().first { $0.index == eth0A && $0.isRoot })
        #expect(qdisc.kind == "tbf" && qdisc.handle == 0x10000)
        let reading = try #require(qdisc.tokenBucket)
        #expect(reading.rateBitsPerSecond == 8_000_000)
        #expect(reading.limitBytes == bucket.limitBytes)
        #expect(abs(Int(reading.burstBytes) - Int(bucket.burstBytes)) <= 64, "burst read back \(reading.burstBytes)")
        #expect { try rA.setTokenBucket(bucket, on: eth0A) } throws: { ($0 as? NetworkError)?.errno == Errno(EEXIST) }
        let shaped = try throughput()
        let after = try #require(try rA.qdiscs().first { $0.index == eth0A && $0.isRoot })
        #expect(after.bytes >= UInt64(bytes), "the tbf did not see the transfer")
        print("network: unshaped \(Int(unshaped / 1e6)) Mbit/s, tbf 8 Mbit/s egress: \(String(format: "%.2f", shaped / 1e6)) Mbit/s, overlimits \(after.overlimits), drops \(after.drops)")
        // Payload rate: 8 Mbit/s on the wire carries about 7.6 Mbit/s of TCP payload.
        #expect(shaped > 5.5e6 && shaped < 9.0e6, "shaped throughput \(shaped / 1e6) Mbit/s is not near 8")
        #expect(unshaped > 10 * shaped, "unshaped \(unshaped / 1e6) Mbit/s is not clearly faster")

        // Pod B's ingress on the node-side end (vbhB) — the CNI plugin's place for it.
        try rA.deleteRootQdisc(on: eth0A)
        #expect(try !rA.qdiscs().contains { $0.index == eth0A && $0.kind == "tbf" })
        let vbhB = net.nodeVeths[1]
        try net.nodeRoute.setTokenBucket(bucket, on: vbhB)
        let shapedIngress = try throughput()
        print("network: tbf 8 Mbit/s on the node-side end of pod B (B's ingress): \(String(format: "%.2f", shapedIngress / 1e6)) Mbit/s")
        #expect(shapedIngress > 5.5e6 && shapedIngress < 9.0e6)
        try net.nodeRoute.deleteRootQdisc(on: vbhB)

        // --- teardown leaves nothing ---
        net.teardown()
        let ours = ([nodeInode] + podInodes)
        for inode in ours {
            #expect(!netnsMounted(inode: inode))
        }
        #expect(!NetworkNamespace.names().contains(net.node.name))
        for p in net.pods { #expect(!NetworkNamespace.names().contains(p.name)) }
        // No process, socket or fd keeps them: the kernel can destroy them with their links.
        for inode in ours { #expect(!netnsUsedByAProcess(inode: inode)) }
    }

    @Test func moveRenameReleaseAndSetDown() throws {
        let node = try NetworkNamespace.create(PodNetworkFixture.name("node"))
        defer { try? node.delete() }
        let pod = try NetworkNamespace.create(PodNetworkFixture.name("pod"))
        defer { try? pod.delete() }
        let r = try node.routeSocket()
        defer { r.close() }
        let br = try r.createBridge(named: "bh0")
        let v = try r.createVethPair(named: "vbh0", peerName: "vbh0p", peerNamespace: nil)
        let peer = try r.linkIndex(named: "vbh0p")
        try r.moveLink(peer, to: pod, renamingTo: "eth1")
        #expect(try !r.links().contains { $0.name == "vbh0p" })
        let rp = try pod.routeSocket()
        defer { rp.close() }
        #expect(try rp.links().contains { $0.name == "eth1" && $0.kind == "veth" })
        try r.setMaster(v, master: br)
        try r.setUp(v)
        #expect(try r.links().first { $0.index == v }.map { $0.master == br && $0.isUp } == true)
        try r.setMaster(v, master: nil)
        try r.setUp(v, false)
        #expect(try r.links().first { $0.index == v }.map { $0.master == nil && !$0.isUp } == true)
        // Deleting one end deletes the pair, in both namespaces.
        try r.deleteLink(v)
        #expect(try !rp.links().contains { $0.name == "eth1" })
    }

    @Test func everyRuleShapeIsAcceptedByNft() throws {
        let node = try NetworkNamespace.create(PodNetworkFixture.name("node"))
        defer { try? node.delete() }
        // Every shape NodeFirewall emits: port, range, any port of a protocol, any protocol,
        // any peer, ingress and egress isolation together.
        let pod = { (ip: String) in RunningPod(name: ip, namespace: "t", ip: ip) }
        let script = NodeFirewall.script(NetworkPolicyResolution(
            ingressIsolated: [pod("10.244.0.3"), pod("10.244.0.4")], egressIsolated: [pod("10.244.0.2")],
            flows: [
                AllowedFlow(direction: .ingress, source: "10.244.0.2", destination: "10.244.0.3", protocol: .tcp, port: 8080),
                AllowedFlow(direction: .ingress, source: nil, destination: "10.244.0.4", protocol: .udp, port: 5000, endPort: 5010),
                AllowedFlow(direction: .ingress, source: "10.244.0.2", destination: "10.244.0.4"),
                AllowedFlow(direction: .egress, source: "10.244.0.2", destination: nil, protocol: .udp, port: 53),
                AllowedFlow(direction: .egress, source: "10.244.0.2", destination: "10.244.0.3", protocol: .tcp),
            ]))
        try node.runNftables(script)
        try node.runNftables(script)   // replacing is idempotent
        let listed = try node.nftRuleset()
        #expect(listed.contains("tcp dport 8080 return"), "\(listed)")
        #expect(listed.contains("udp dport 5000-5010 return"), "\(listed)")
        #expect(listed.contains("udp sport 53 accept"), "\(listed)")
        #expect(listed.contains("jump egress_policy"), "\(listed)")
        #expect(listed.components(separatedBy: "hook forward").count == 2, "the table was not replaced: \(listed)")
        // nft refuses a broken script with its own message; nothing is applied.
        #expect { try node.runNftables("add rule bridge nosuch forward drop") } throws: {
            let e = $0 as? NetworkError
            return e?.code == .nftables && e?.detail.contains("Error") == true
        }
        try node.removeBridgeFilter()
        try node.removeBridgeFilter()   // fine when there is none
        #expect(try !node.nftRuleset().contains("bulkhead"))
    }

    @Test func deletingAPodNamespaceRemovesItsVethFromTheNode() throws {
        let net = try PodNetworkFixture()
        defer { net.teardown() }
        let r = net.podRoutes.removeFirst()
        r.close()
        try net.pods.removeFirst().delete()
        // The namespace is destroyed asynchronously (cleanup_net); poll, bounded.
        var gone = false
        for _ in 0..<100 where !gone {
            gone = try !net.nodeRoute.links().contains { $0.name == "vbhA" }
            if !gone { usleep(50_000) }
        }
        #expect(gone, "vbhA still in the node namespace 5 s after its pod's namespace was deleted")
        #expect(try net.nodeRoute.links().contains { $0.name == "vbhB" })
    }

    @Test func collectStaleRemovesNamespacesOfAKilledOwner() throws {
        // The owner: a real process, SIGKILLed while its namespaces exist.
        let owner = Process()
        owner.executableURL = URL(fileURLWithPath: "/bin/sleep")
        owner.arguments = ["60"]
        try owner.run()
        var killed = false
        defer { if !killed { owner.terminate(); owner.waitUntilExit() } }
        let pid = owner.processIdentifier
        let nodeName = try #require(NetworkNamespaceName.forProcess(pid, role: "node", sequence: 0))
        let podName = try #require(NetworkNamespaceName.forProcess(pid, role: "pod", sequence: 1))
        let mine = try NetworkNamespace.create(PodNetworkFixture.name("pod"))
        defer { try? mine.delete() }

        var inodes: [UInt64] = []
        var created: [NetworkNamespace] = []
        defer { for ns in created { try? ns.delete() } }   // only if the test fails midway
        do {
            let node = try NetworkNamespace.create(nodeName)
            created.append(node)
            let pod = try NetworkNamespace.create(podName)
            created.append(pod)
            let r = try node.routeSocket()
            let br = try r.createBridge(named: "bh0")
            let v = try r.createVethPair(named: "vbh0", peerName: "eth0", peerNamespace: pod)
            try r.setMaster(v, master: br)
            r.close()
            inodes = [node.inode!, pod.inode!]
            node.close()
            pod.close()
        }
        // Nothing is collected while the owner lives.
        #expect(!NetworkNamespace.collectStale().contains { $0.hasSuffix(nodeName.description) })
        kill(pid, SIGKILL)
        owner.waitUntilExit()
        killed = true
        #expect(!nodeName.ownerIsAlive)
        let removed = NetworkNamespace.collectStale()
        #expect(removed.contains(NetworkNamespace.defaultDirectory + "/\(nodeName)"))
        #expect(removed.contains(NetworkNamespace.defaultDirectory + "/\(podName)"))
        for inode in inodes {
            #expect(!netnsMounted(inode: inode))
            #expect(!netnsUsedByAProcess(inode: inode))
        }
        // A live owner's namespace (this process's) is untouched.
        #expect(NetworkNamespace.names().contains(mine.name))
        #expect(try mine.routeSocket().links().count == 1)
        created = []
    }
}

extension IPv4Address {
    /// The address as a /32 network.
    var host: IPv4CIDR { IPv4CIDR(self, prefixLength: 32) }
}
