import BulkheadModel
import Yams

/// The documents of one or more manifest files (`---`-separated, as kubectl reads them):
/// Pods, NetworkPolicies, ResourceQuotas and bulkhead Tenants. Pure: the caller reads files.
public struct ManifestSet: Sendable, Equatable {
    public var pods: [PodManifest] = []
    public var networkPolicies: [NetworkPolicyManifest] = []
    public var resourceQuotas: [ResourceQuotaManifest] = []
    public var tenants: [Tenant] = []

    public init() {}

    /// The kinds bulkhead reads, as `apiVersion/kind`.
    public static let supportedKinds = [
        "\(PodManifestParser.apiVersion)/\(PodManifestParser.kind)",
        "\(NetworkPolicyParser.apiVersion)/\(NetworkPolicyParser.kind)",
        "\(ResourceQuotaParser.apiVersion)/\(ResourceQuotaParser.kind)",
        "\(TenantParser.apiVersion)/\(TenantParser.kind)",
    ]

    /// Parses every document of `text`; empty documents are skipped, an empty file is an error.
    /// The first error by position; `parseCollecting` gives them all.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ManifestSet {
        let (set, errors) = try parseCollecting(text, file: file)
        if let first = errors.first { throw first }
        return set
    }

    /// Every document of `text` and every error found in them, in file order (line, then
    /// column), collected as `ProfileParser.problems` collects a profile's (the one
    /// `ConfigErrorCollector`): a Pod's errors field by field, another kind's first error.
    /// The set holds what is valid only when the list is empty. Throws only for a file that is
    /// not YAML or holds no manifest.
    public static func parseCollecting(_ text: String, file: String) throws(ConfigError) -> (set: ManifestSet, errors: [ConfigError]) {
        var set = ManifestSet()
        var docs: YamlSequence<Node>
        // Tags and constructed values are never read (see ConfigNode.parse).
        do { docs = try Yams.compose_all(yaml: text, .basic, ConfigNode.textOnlyConstructor(), .utf8) } catch { throw ConfigError(file: file, field: "", message: "not valid YAML/JSON: \(error)") }
        // Read every document before interpreting any: a syntax error anywhere comes first.
        var nodes: [Node] = []
        while let node = docs.next() { nodes.append(node) }
        if let e = docs.error {
            if let y = e as? YamlError {
                throw ConfigError(file: file, field: "", line: ConfigNode.line(of: y), message: "not valid YAML/JSON: \(ConfigNode.describe(y))")
            }
            throw ConfigError(file: file, field: "", message: "not valid YAML/JSON: \(e)")
        }
        guard !nodes.isEmpty else { throw ConfigError(file: file, field: "", message: "the file holds no manifest") }
        // The file's anchors and aliases, all its documents together, under the one limit.
        try ConfigNode.checkExpansion(nodes, of: text, file: file)
        let c = ConfigErrorCollector()
        for node in nodes { c.attempt { () throws(ConfigError) in try set.add(ConfigNode(node: node, file: file), collecting: c) } }
        return (set, c.sorted)
    }

    /// Adds one document, dispatching on its apiVersion and kind.
    public mutating func add(_ doc: ConfigNode) throws(ConfigError) {
        let c = ConfigErrorCollector()
        try add(doc, collecting: c)
        if let first = c.sorted.first { throw first }
    }

    mutating func add(_ doc: ConfigNode, collecting c: ConfigErrorCollector) throws(ConfigError) {
        if doc.isNull { return }
        let top = try doc.mapping()
        let kindNode = try top.require("kind")
        let kind = try kindNode.string()
        let apiVersion = try top.require("apiVersion").string()
        switch kind {
        case PodManifestParser.kind: pods.append(try PodManifestParser.parse(doc, collecting: c))
        case NetworkPolicyParser.kind: networkPolicies.append(try NetworkPolicyParser.parse(doc))
        case ResourceQuotaParser.kind: resourceQuotas.append(try ResourceQuotaParser.parse(doc))
        case TenantParser.kind: tenants.append(try TenantParser.parse(doc))
        case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController":
            throw kindNode.error("\(apiVersion) \(kind) is not supported: bulkhead runs Pods; take the pod template (spec.template) as a Pod")
        case "Namespace":
            throw kindNode.error("Namespace is not read: a bulkhead Tenant (\(TenantParser.apiVersion)) is the namespace, with its uid range and profiles")
        default:
            throw kindNode.error("kind \(kind) is not supported; supported: \(Self.supportedKinds.joined(separator: ", "))")
        }
    }

    /// Merges another file's documents.
    public mutating func merge(_ other: ManifestSet) {
        pods += other.pods; networkPolicies += other.networkPolicies
        resourceQuotas += other.resourceQuotas; tenants += other.tenants
    }

    /// Checks across documents: tenants against each other (`Tenant.validate`), pods and
    /// policies unique by namespace and name, and — when tenants are given — every
    /// namespaced object belonging to one of them.
    public func validate() throws(ConfigError) {
        try Tenant.validate(tenants)
        var seen = Set<String>()
        let objects: [(String, String, String, String)] =
            pods.map { ("Pod", $0.namespace, $0.name, $0.file) }
            + networkPolicies.map { ("NetworkPolicy", $0.namespace, $0.name, "") }
            + resourceQuotas.map { ("ResourceQuota", $0.namespace, $0.name, "") }
        for (kind, ns, name, file) in objects {
            guard seen.insert("\(kind)/\(ns)/\(name)").inserted else {
                throw ConfigError(file: file.isEmpty ? "<manifests>" : file, field: "metadata.name", message: "\(kind) \(ns)/\(name) is defined twice")
            }
            if !tenants.isEmpty, !tenants.contains(where: { $0.name == ns }) {
                throw ConfigError(file: file.isEmpty ? "<manifests>" : file, field: "metadata.namespace",
                                  message: "\(kind) \(name) is in namespace \(ns), which no Tenant defines (tenants: \(tenants.map(\.name).joined(separator: ", ")))")
            }
        }
    }

    /// The tenant named `namespace`, if defined.
    public func tenant(_ namespace: String) -> Tenant? { tenants.first { $0.name == namespace } }

    /// The quotas of a namespace (all of them apply).
    public func quotas(_ namespace: String) -> [ResourceQuotaManifest] { resourceQuotas.filter { $0.namespace == namespace } }

    /// The tenants' labels, for `NetworkPolicyResolver.resolve(namespaces:)`.
    public var namespaceLabels: [NamespaceLabels] { tenants.map(\.namespaceLabels) }
}
