import BulkheadModel
/// bulkhead's own tenant (the Kubernetes namespace made concrete on one machine):
///
/// ```yaml
/// apiVersion: bulkhead.dev/v1alpha1
/// kind: Tenant
/// metadata: {name: team-a, labels: {team: red}}
/// spec:
///   hostIDRange: "3000041472:1000000"     # host uids and gids of the tenant's pods (65536-aligned)
///   podSecurity: {enforce: restricted}    # Pod Security Standards level (default baseline)
///   allowedProfiles: [restricted]         # optional: the profiles its pods may name
///   secretsDirectory: /var/lib/bulkhead/secrets/team-a
/// ```
///
/// The tenant's name is the namespace its pods, policies and quotas name; its labels are the
/// namespace labels NetworkPolicy `namespaceSelector`s match.
public struct Tenant: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    /// Host uids and gids owned by this tenant alone: a pod's ids 0..<count map onto them.
    public var hostIDRange: IDRange
    /// The layer profiles its pods may use (by name, as in `bulkhead.dev/profile`); nil: any
    /// profile, the Pod Security Standards level alone decides.
    public var allowedProfiles: [String]?
    /// The Pod Security Admission modes (`spec.podSecurity` or the
    /// `pod-security.kubernetes.io/*` labels); enforce defaults to baseline.
    public var podSecurity: PodSecurityPolicy
    /// The host directory holding the tenant's secrets (absolute).
    public var secretsDirectory: String
    /// The file it was read from, for errors across tenants.
    public var file: String

    public init(name: String, labels: [String: String] = [:], hostIDRange: IDRange, allowedProfiles: [String]?,
                podSecurity: PodSecurityPolicy = PodSecurityPolicy(), secretsDirectory: String, file: String = "<tenant>") {
        self.name = name; self.labels = labels; self.hostIDRange = hostIDRange; self.allowedProfiles = allowedProfiles
        self.podSecurity = podSecurity
        self.secretsDirectory = secretsDirectory; self.file = file
    }

    /// The labels `namespaceSelector` matches (the NetworkPolicy resolver adds
    /// `kubernetes.io/metadata.name`).
    public var namespaceLabels: NamespaceLabels { NamespaceLabels(name: name, labels: labels) }

    /// Checks a set of tenants against each other: unique names, host id ranges that do not
    /// overlap each other or `reserved` (ranges other sandboxes use: shared ids would make two
    /// tenants' sandboxes owners of the same host files; user-namespace owners are never among
    /// any range's ids, see `IDRange`), and secrets directories that are distinct and not
    /// nested in one another.
    public static func validate(_ tenants: [Tenant], reserved: [(name: String, range: IDRange)] = []) throws(ConfigError) {
        func overlap(_ a: IDRange, _ b: IDRange) -> Bool { a.overlaps(b) }
        func inside(_ a: String, _ b: String) -> Bool { a == b || a.hasPrefix(b == "/" ? "/" : b + "/") }
        for (i, t) in tenants.enumerated() {
            for (name, r) in reserved where overlap(t.hostIDRange, r) {
                throw ConfigError(file: t.file, field: "spec.hostIDRange",
                                  message: "tenant \(t.name): host ids \(t.hostIDRange) overlap \(name) (\(r))")
            }
            for u in tenants[..<i] {
                if u.name == t.name {
                    throw ConfigError(file: t.file, field: "metadata.name", message: "tenant \(t.name) is defined twice (also in \(u.file))")
                }
                if overlap(t.hostIDRange, u.hostIDRange) {
                    throw ConfigError(file: t.file, field: "spec.hostIDRange",
                                      message: "tenant \(t.name): host ids \(t.hostIDRange) overlap tenant \(u.name)'s \(u.hostIDRange); each tenant needs ids of its own")
                }
                if inside(t.secretsDirectory, u.secretsDirectory) || inside(u.secretsDirectory, t.secretsDirectory) {
                    throw ConfigError(file: t.file, field: "spec.secretsDirectory",
                                      message: "tenant \(t.name): secrets directory \(t.secretsDirectory) is or shares a tree with tenant \(u.name)'s \(u.secretsDirectory)")
                }
            }
        }
    }
}

public enum TenantParser {
    public static let apiVersion = "bulkhead.dev/v1alpha1"
    public static let kind = "Tenant"

    public static func parse(_ text: String, file: String) throws(ConfigError) -> Tenant {
        try parse(try ConfigNode.parse(text, file: file))
    }

    public static func parse(_ doc: ConfigNode) throws(ConfigError) -> Tenant {
        let top = try doc.mapping(allowed: ["apiVersion", "kind", "metadata", "spec"])
        try PodManifestParser.checkType(top, apiVersion: apiVersion, kind: kind, owner: doc)
        let mdNode = try top.require("metadata")
        let md = try mdNode.mapping(allowed: ["name", "labels", "annotations"])
        let nameNode = try md.require("name")
        let name = try nameNode.string()
        if let p = KubernetesLabels.dnsLabelProblem(name) { throw nameNode.error("tenant name \"\(name)\" \(p) (it is a namespace name)") }
        let labels = try md["labels"].map { (n) throws(ConfigError) in try KubernetesLabels.parseLabels(n) } ?? [:]
        _ = try md["annotations"].map { (n) throws(ConfigError) in try KubernetesLabels.parseAnnotations(n) }
        let spec = try top.require("spec").mapping(allowed: ["hostIDRange", "allowedProfiles", "podSecurity", "secretsDirectory"])
        let range = try ProfileParser.parseRange(try spec.require("hostIDRange"))
        let podSecurity = try PodSecurityPolicy.parse(spec: spec["podSecurity"], labels: labels, labelsNode: md["labels"])
        var profiles: [String]?
        if let apNode = spec["allowedProfiles"] {
            let list = try apNode.stringList()
            guard !list.isEmpty else { throw apNode.error("list at least one profile (or leave allowedProfiles out: the podSecurity level alone decides)") }
            for (i, p) in list.enumerated() where p.isEmpty || list[..<i].contains(p) {
                throw try apNode.sequence()[i].error(p.isEmpty ? "a profile name may not be empty" : "\(p) is listed twice")
            }
            profiles = list
        }
        let secrets = try ProfileParser.absolutePath(try spec.require("secretsDirectory"))
        guard secrets != "/" else { throw try spec.require("secretsDirectory").error("the secrets directory cannot be /") }
        return Tenant(name: name, labels: labels, hostIDRange: range, allowedProfiles: profiles, podSecurity: podSecurity,
                      secretsDirectory: secrets, file: doc.file)
    }
}
