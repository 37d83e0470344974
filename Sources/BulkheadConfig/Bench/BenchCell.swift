import BulkheadModel
/// A row of the isolation matrix (docs/LAYERS.md): a resource or a kernel surface.
public enum BenchResource: String, CaseIterable, Codable, Sendable, Comparable {
    case cpu
    case cacheBandwidth = "cache-bandwidth"
    case memory
    case pids
    case fileDescriptors = "fds"
    case diskSpace = "disk-space"
    case diskBandwidth = "disk-bandwidth"
    case networkBandwidth = "network-bandwidth"
    case networkObjects = "ports"
    case ipc
    case identity
    case kernelBudgets = "inotify"
    case privilegedSyscalls = "syscalls"
    case processVisibility = "processes"
    case procSys = "proc-sys"
    /// The rows only a cluster has (the cluster layer's plans, BenchLayer.cluster).
    case apiServer = "api-server"
    case dns
    case scheduling
    case nodeFailure = "node-failure"

    /// The row title, as LAYERS.md spells it.
    public var title: String {
        switch self {
        case .cpu: "CPU time"
        case .cacheBandwidth: "CPU caches, memory bandwidth"
        case .memory: "memory"
        case .pids: "PIDs"
        case .fileDescriptors: "file descriptors"
        case .diskSpace: "disk space"
        case .diskBandwidth: "disk bandwidth"
        case .networkBandwidth: "network bandwidth"
        case .networkObjects: "network objects (ports, loopback)"
        case .ipc: "IPC"
        case .identity: "identity"
        case .kernelBudgets: "inotify/keyring budgets"
        case .privilegedSyscalls: "privileged syscalls"
        case .processVisibility: "process visibility, signals"
        case .procSys: "/proc and /sys"
        case .apiServer: "API server"
        case .dns: "cluster DNS"
        case .scheduling: "scheduling, allocatable"
        case .nodeFailure: "a node's failure"
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A column of the matrix: the layer whose boundary separates victim and aggressor.
public enum BenchLayer: String, CaseIterable, Codable, Sendable, Comparable {
    /// Two containers of one pod (or two sandboxes side by side).
    case container
    /// Two pods of one tenant.
    case pod
    /// Two pods of two tenants (the Kubernetes namespace).
    case namespace
    /// The host's kernel versus everything on it.
    case node
    /// Two nodes: what crosses between them. One machine cannot measure it: its cells are
    /// the plan the node bench of a cluster runs (verdict `planned`).
    case cluster

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One cell of the matrix, written `RESOURCE/LAYER` (`memory/pod`).
public struct BenchCellID: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public var resource: BenchResource
    public var layer: BenchLayer

    public init(_ resource: BenchResource, _ layer: BenchLayer) {
        self.resource = resource; self.layer = layer
    }

    /// Parses `RESOURCE/LAYER`, or nil.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let r = BenchResource(exactly: String(parts[0])),
              let l = BenchLayer(exactly: String(parts[1])) else { return nil }
        self.init(r, l)
    }

    public var description: String { "\(resource.rawValue)/\(layer.rawValue)" }

    public static func < (a: Self, b: Self) -> Bool {
        (a.resource, a.layer) < (b.resource, b.layer)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = BenchCellID(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not RESOURCE/LAYER: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
