import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// bulkhead's node network: a network namespace of its own, `/run/bulkhead/netns/node`,
/// holding the bridge `bh0` (10.244.0.1/16), and one veth pair per running pod: `eth0` in
/// the pod with an address from 10.244.0.0/16 and a default route via the bridge, the other
/// end a port of the bridge. The host's own network namespace is never touched.
///
/// The node is shared by every `bulkhead pod run` on the machine, each a separate launcher,
/// so its state lives in files under /run/bulkhead/node and every change happens under one
/// flock (`/run/bulkhead/node.lock`):
/// - `pods/<ip>.json`: one entry per pod on the node: its address, labels, tenant labels,
///   veth and launcher (pid and start time, so a killed launcher's entry is recognised);
/// - `policies/<namespace>_<name>.json`: the NetworkPolicies applied with `bulkhead policy
///   apply`, kept like the API server keeps objects.
///
/// After every change the policies are resolved against the registered pods and the node's
/// nftables table is replaced whole (`NodeFirewall`). The node namespace is created by the
/// first pod and deleted when the last one leaves; stored policies stay until deleted.
public enum NodeNetwork {
    public static let stateDirectory = "/run/bulkhead/node"
    public static let podsDirectory = stateDirectory + "/pods"
    public static let policiesDirectory = stateDirectory + "/policies"
    public static let lockPath = "/run/bulkhead/node.lock"
    public static let namespacePath = NetworkNamespace.defaultDirectory + "/node"
    public static let bridgeName = "bh0"
    public static let podNetwork = IPv4CIDR("10.244.0.0/16")!
    public static let gateway = IPv4CIDR("10.244.0.1/16")!

    /// One pod on the node.
    public struct Entry: Codable, Sendable, Equatable {
        public var ip: String
        public var pod: String
        public var namespace: String
        public var labels: [String: String]
        public var namespaceLabels: [String: String]
        /// The pod's veth end in the node namespace (a port of the bridge).
        public var veth: String
        public var launcherPID: Int32
        public var launcherStartTime: UInt64
        public var ingressBitsPerSecond: UInt64?
        public var egressBitsPerSecond: UInt64?
        /// The pod's eth0 hardware address, which the node pins (`NodeFirewall.Port`).
        public var mac: String?

        public var launcherIsAlive: Bool { OwnerLiveness.mayBeAlive(pid: launcherPID, startTime: launcherStartTime) }
        var running: RunningPod { RunningPod(name: pod, namespace: namespace, labels: labels, ip: ip) }
    }

    /// What a pod asks of the node.
    public struct PodSpec: Sendable {
        public var pod: String
        public var namespace: String
        public var labels: [String: String]
        public var namespaceLabels: [String: String]
        public var ingressBitsPerSecond: UInt64?
        public var egressBitsPerSecond: UInt64?
    }

    /// Takes the node lock (creating /run/bulkhead first).
    public static func lock() throws(LaunchError) -> FileLock {
        for d in ["/run/bulkhead", stateDirectory, podsDirectory, policiesDirectory] where mkdir(d, 0o755) != 0 && errno != EEXIST {
            throw LaunchError(operation: "create \(d)", errno: .current, hint: "the node network needs root")
        }
        do { return try FileLock(lockPath) } catch { throw LaunchError(error) }
    }

    // MARK: - Pods

    /// Puts the pod whose network namespace is `pod` on the node: an address, the veth pair,
    /// the default route, the bandwidth limits, the registry entry and the firewall (which
    /// pins the pod's veth to its address and MAC). `pod` must belong to the initial user
    /// namespace (`NetworkNamespace.createAnonymous`), so that nothing in the pod can change
    /// what is set here. On a throw nothing of this pod is left on the node. Takes the lock.
    public static func attach(_ spec: PodSpec, podNamespace pod: NetworkNamespace) throws(LaunchError) -> Entry {
        let held = try lock()
        defer { held.unlock() }
        _ = collectStaleEntries()
        let node = try openNode(create: true)!
        defer { node.close() }
        guard let owner = CgroupLeafName.forCurrentProcess(sequence: 0) else { throw LaunchError(operation: "read /proc/self/stat") }
        let ip = try allocateAddress()
        let veth = vethName(for: ip)
        var entry = Entry(ip: ip.description, pod: spec.pod, namespace: spec.namespace, labels: spec.labels,
                          namespaceLabels: spec.namespaceLabels, veth: veth, launcherPID: owner.launcherPID,
                          launcherStartTime: owner.launcherStartTime,
                          ingressBitsPerSecond: spec.ingressBitsPerSecond, egressBitsPerSecond: spec.egressBitsPerSecond)
        let nodeRoute: RouteSocket
        do { nodeRoute = try node.routeSocket() } catch { throw LaunchError(wrapping: error) }
        defer { nodeRoute.close() }
        do throws(LaunchError) {
            // The registry entry first: it reserves the address, and it is what cleans up
            // after this launcher should it be killed half-way.
            try write(entry)
            try step("connect the pod to the node bridge") { () throws(NetworkError) in
                let nodeEnd = try nodeRoute.createVethPair(named: veth, peerName: "eth0", peerNamespace: pod)
                try nodeRoute.setMaster(nodeEnd, master: try nodeRoute.linkIndex(named: bridgeName))
                try nodeRoute.setUp(nodeEnd)
                let r = try pod.routeSocket()
                defer { r.close() }
                let eth0 = try r.linkIndex(named: "eth0")
                try r.addAddress(IPv4CIDR(ip, prefixLength: podNetwork.prefixLength), to: eth0)
                try r.setUp(eth0)
                try r.addDefaultRoute(via: gateway.address)
                // Bandwidth, as the CNI bandwidth plugin: egress leaves through the pod's
                // eth0, ingress through the node end (see PodBandwidth).
                if let bps = spec.egressBitsPerSecond { try r.setTokenBucket(try bucket(bps), on: eth0) }
                if let bps = spec.ingressBitsPerSecond { try nodeRoute.setTokenBucket(try bucket(bps), on: nodeEnd) }
                entry.mac = try pod.hardwareAddress(of: "eth0")
            }
            try write(entry, replacing: true)
            try applyFirewall(node)
        } catch {
            remove(entry, nodeRoute: nodeRoute)
            try? applyFirewall(node)
            throw error
        }
        return entry
    }

    /// Takes the pod off the node: its entry, its veth, its firewall rules; the node
    /// namespace goes with the last pod. Takes the lock.
    public static func detach(_ entry: Entry) {
        guard let held = try? lock() else { return }
        defer { held.unlock() }
        _ = collectStaleEntries()
        guard let node = try? openNode(create: false) else { return }
        if let r = try? node.routeSocket() {
            remove(entry, nodeRoute: r)
            r.close()
        } else {
            unlink(entryPath(entry.ip))
        }
        finish(node)
    }

    /// Entries of pods whose launcher is gone, and the node when no pod is left on it: the
    /// leftovers of a killed launcher (`bulkhead gc`). Takes the lock.
    public static func collectStale() -> [String] {
        guard let held = try? lock() else { return [] }
        defer { held.unlock() }
        var removed = collectStaleEntries().map { "\(podsDirectory)/\($0.ip).json (pod \($0.namespace)/\($0.pod))" }
        if let node = try? openNode(create: false) {
            if entries().isEmpty { removed.append(namespacePath) }
            finish(node)
        }
        return removed
    }

    /// The pods on the node, by address; entries of dead launchers included.
    public static func entries() -> [Entry] {
        FileIO.listDirectory(podsDirectory).filter { $0.hasSuffix(".json") }.compactMap { name in
            guard let text = FileIO.read("\(podsDirectory)/\(name)") else { return nil }
            return try? JSONDecoder().decode(Entry.self, from: Data(text.utf8))
        }
    }

    /// The node namespace's nftables ruleset, as nft lists it; nil when there is no node.
    public static func ruleset() throws(LaunchError) -> String? {
        guard let node = try openNode(create: false) else { return nil }
        defer { node.close() }
        do { return try node.nftRuleset() } catch { throw LaunchError(wrapping: error) }
    }

    // MARK: - Policies

    /// Stores `policies` (replacing any of the same namespace and name) and re-applies the
    /// firewall if the node exists. Takes the lock.
    public static func apply(policies: [NetworkPolicyManifest]) throws(LaunchError) {
        let held = try lock()
        defer { held.unlock() }
        for p in policies {
            let data: Data
            do { data = try JSONEncoder.sorted.encode(StoredPolicy(p)) } catch { throw LaunchError("encode policy \(p.name)", wrapping: error) }
            let path = policyPath(namespace: p.namespace, name: p.name)
            guard FileManager.default.createFile(atPath: path + ".new", contents: data), rename(path + ".new", path) == 0 else {
                throw LaunchError(operation: "store policy \(p.namespace)/\(p.name) in \(path)", errno: .current)
            }
        }
        try reapplyIfNodeExists()
    }

    /// Deletes stored policies; returns the ones that existed. Takes the lock.
    public static func delete(policies names: [(namespace: String, name: String)]) throws(LaunchError) -> [String] {
        let held = try lock()
        defer { held.unlock() }
        var deleted: [String] = []
        for n in names where unlink(policyPath(namespace: n.namespace, name: n.name)) == 0 { deleted.append("\(n.namespace)/\(n.name)") }
        try reapplyIfNodeExists()
        return deleted
    }

    /// The stored policies, sorted by namespace and name.
    public static func storedPolicies() throws(LaunchError) -> [NetworkPolicyManifest] {
        var out: [NetworkPolicyManifest] = []
        for name in FileIO.listDirectory(policiesDirectory) where name.hasSuffix(".json") {
            let path = "\(policiesDirectory)/\(name)"
            guard let text = FileIO.read(path) else { continue }
            do { out.append(try NetworkPolicyParser.parse(text, file: path)) } catch { throw LaunchError(error) }
        }
        return out.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    /// The policies resolved against the pods now on the node.
    public static func resolution() throws(LaunchError) -> NetworkPolicyResolution {
        let live = entries().filter(\.launcherIsAlive)
        var namespaces: [String: [String: String]] = [:]
        for e in live { namespaces[e.namespace] = e.namespaceLabels }
        return NetworkPolicyResolver.resolve(
            pods: live.map(\.running),
            namespaces: namespaces.map { NamespaceLabels(name: $0.key, labels: $0.value) },
            policies: try storedPolicies())
    }

    // MARK: - Internals

    static func entryPath(_ ip: String) -> String { "\(podsDirectory)/\(ip).json" }
    static func policyPath(namespace: String, name: String) -> String { "\(policiesDirectory)/\(namespace)_\(name).json" }

    /// The node-side veth of the pod at `ip`: `bhv` and the address's low 16 bits in hex.
    static func vethName(for ip: IPv4Address) -> String {
        let low = ip.value & 0xffff
        let hex = String(low, radix: 16)
        return "bhv" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// A token bucket with the rate of the annotation and a burst of 20 ms at that rate, at
    /// least 32 KiB: the CNI plugin takes the burst from the runtime, which passes a huge
    /// one for annotations (letting short transfers through unshaped); a bucket this size
    /// holds the rate from the first packet on.
    static func bucket(_ bitsPerSecond: UInt64) throws(NetworkError) -> TokenBucket {
        let burst = max(bitsPerSecond / 8 / 50, 32 << 10)
        guard let b = TokenBucket(rateBitsPerSecond: bitsPerSecond, burstBytes: UInt32(clamping: burst)) else {
            throw NetworkError(code: .invalidArgument, operation: "shape \(bitsPerSecond) bit/s with a token bucket",
                               fix: "give a bandwidth between 8 bit/s and about 1 Tbit/s")
        }
        return b
    }

    /// The lowest free address of the pod network, after the gateway.
    static func allocateAddress() throws(LaunchError) -> IPv4Address {
        let used = Set(entries().map(\.ip))
        let first = podNetwork.network.address.value + 2
        let last = (podNetwork.network.address.value | ~podNetwork.netmask) - 1
        var v = first
        while v <= last {
            let a = IPv4Address(v)
            if !used.contains(a.description) { return a }
            v += 1
        }
        throw LaunchError(operation: "allocate a pod address", errno: Errno(EADDRNOTAVAIL), hint: "every address of \(podNetwork) is in use")
    }

    static func write(_ entry: Entry, replacing: Bool = false) throws(LaunchError) {
        let data: Data
        do { data = try JSONEncoder.sorted.encode(entry) } catch { throw LaunchError("encode the node entry", wrapping: error) }
        let path = entryPath(entry.ip)
        if replacing {
            guard FileManager.default.createFile(atPath: path + ".new", contents: data), rename(path + ".new", path) == 0 else {
                unlink(path + ".new")
                throw LaunchError(operation: "register the pod in \(path)", errno: .current)
            }
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw LaunchError(operation: "register the pod in \(path)", errno: .current)
        }
    }

    /// Opens the node namespace; creates it with its bridge when `create` and it is absent.
    static func openNode(create: Bool) throws(LaunchError) -> NetworkNamespace? {
        if FileIO.exists(namespacePath), let ns = try? NetworkNamespace.open(path: namespacePath) { return ns }
        guard create else { return nil }
        // A file without a namespace behind it (a creation cut short): remove it first. A new
        // node has no ruleset yet.
        unlink(namespacePath)
        unlink(appliedRulesetPath)
        var made: NetworkNamespace?
        try step("create the node network namespace \(namespacePath)") { () throws(NetworkError) in
            let ns = try NetworkNamespace.create(path: namespacePath)
            made = ns
            let r = try ns.routeSocket()
            defer { r.close() }
            try r.setUp(try r.linkIndex(named: "lo"))
            let br = try r.createBridge(named: bridgeName)
            try r.addAddress(gateway, to: br)
            try r.setUp(br)
        }
        return made
    }

    /// Removes an entry's file and its veth (which takes the pod's eth0 with it).
    static func remove(_ entry: Entry, nodeRoute: RouteSocket) {
        if let index = try? nodeRoute.linkIndex(named: entry.veth) { try? nodeRoute.deleteLink(index) }
        unlink(entryPath(entry.ip))
    }

    /// Entries whose launcher is gone: removed with their veths (if the node is there).
    static func collectStaleEntries() -> [Entry] {
        let stale = entries().filter { !$0.launcherIsAlive }
        guard !stale.isEmpty else { return [] }
        let node = try? openNode(create: false)
        let r = try? node?.routeSocket()
        for e in stale {
            if let r { remove(e, nodeRoute: r) } else { unlink(entryPath(e.ip)) }
        }
        r?.close()
        node?.close()
        return stale
    }

    /// After a pod left: the firewall without it, or the node gone when it was the last.
    static func finish(_ node: NetworkNamespace) {
        if entries().isEmpty {
            try? node.delete()
            unlink(appliedRulesetPath)
        } else {
            try? applyFirewall(node)
            node.close()
        }
    }

    /// The ruleset last applied to the node, to skip a transaction that would change
    /// nothing: an nftables commit costs 15 to 25 ms here, most of a pod's attach.
    static let appliedRulesetPath = stateDirectory + "/ruleset.nft"

    static func applyFirewall(_ node: NetworkNamespace, force: Bool = false) throws(LaunchError) {
        // Every registered pod's port, a dead launcher's too (its veth may not be gone yet):
        // a port's rules only let its own pod's address through.
        let ports = entries().map { NodeFirewall.Port(veth: $0.veth, ip: $0.ip, mac: $0.mac) }
        let script = NodeFirewall.script(try resolution(), ports: ports)
        if !force, FileIO.read(appliedRulesetPath) == script { return }
        unlink(appliedRulesetPath)
        try step("apply the network policies to the node bridge") { () throws(NetworkError) in try node.runNftables(script) }
        _ = FileManager.default.createFile(atPath: appliedRulesetPath, contents: Data(script.utf8))
    }

    static func reapplyIfNodeExists() throws(LaunchError) {
        guard let node = try openNode(create: false) else { return }
        defer { node.close() }
        try applyFirewall(node, force: true)
    }

    static func step(_ what: String, _ body: () throws(NetworkError) -> Void) throws(LaunchError) {
        do { try body() } catch {
            throw LaunchError(what, wrapping: error, hint: error.code == .nftables && !error.fix.isEmpty ? error.fix : nil)
        }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

/// A NetworkPolicy as stored on the node: the Kubernetes JSON form, which
/// `NetworkPolicyParser` reads back (YAML is a superset of JSON).
struct StoredPolicy: Encodable {
    struct Meta: Encodable { var name: String; var namespace: String; var labels: [String: String]? }
    struct Selector: Encodable {
        struct Expression: Encodable { var key: String; var `operator`: String; var values: [String]? }
        var matchLabels: [String: String]?
        var matchExpressions: [Expression]?
        init(_ s: LabelSelector) {
            matchLabels = s.matchLabels.isEmpty ? nil : s.matchLabels
            matchExpressions = s.matchExpressions.isEmpty ? nil : s.matchExpressions.map {
                Expression(key: $0.key, operator: $0.operator.rawValue, values: $0.values.isEmpty ? nil : $0.values)
            }
        }
    }
    struct Peer: Encodable { var podSelector: Selector?; var namespaceSelector: Selector? }
    struct Port: Encodable { var `protocol`: String; var port: UInt16?; var endPort: UInt16? }
    struct Rule: Encodable {
        var from: [Peer]?
        var to: [Peer]?
        var ports: [Port]?
        init(_ r: NetworkPolicyRule, ingress: Bool) {
            let peers = r.peers.isEmpty ? nil : r.peers.map {
                Peer(podSelector: $0.podSelector.map(Selector.init), namespaceSelector: $0.namespaceSelector.map(Selector.init))
            }
            if ingress { from = peers } else { to = peers }
            ports = r.ports.isEmpty ? nil : r.ports.map { Port(protocol: $0.protocol.rawValue, port: $0.port, endPort: $0.endPort) }
        }
    }
    struct Spec: Encodable {
        var podSelector: Selector
        var policyTypes: [String]
        var ingress: [Rule]
        var egress: [Rule]
    }
    var apiVersion = NetworkPolicyParser.apiVersion
    var kind = NetworkPolicyParser.kind
    var metadata: Meta
    var spec: Spec

    init(_ p: NetworkPolicyManifest) {
        metadata = Meta(name: p.name, namespace: p.namespace, labels: p.metadata.labels.isEmpty ? nil : p.metadata.labels)
        spec = Spec(podSelector: Selector(p.podSelector), policyTypes: p.policyTypes.sorted().map(\.rawValue),
                    ingress: p.ingress.map { Rule($0, ingress: true) }, egress: p.egress.map { Rule($0, ingress: false) })
    }
}
