import BulkheadModel
/// A Kubernetes ResourceQuota (`v1`) for a tenant (its namespace), in the subset bulkhead
/// enforces: `limits.cpu`, `limits.memory`, `pods`, and bulkhead's own `bulkhead.dev/pids`
/// (Kubernetes has no pids quota; the kubelet's podPidsLimit is per pod and node-wide).
/// The tenant's parent cgroup enforces the limits; admission (`TenantAdmission`) refuses a
/// pod that would take the sum over them.
public struct ResourceQuotaManifest: Sendable, Equatable {
    public var metadata: ObjectMeta
    public var hard: QuotaLimits
    public var ignoredFields: [IgnoredField]
    public var name: String { metadata.name }
    public var namespace: String { metadata.namespace }
    public init(metadata: ObjectMeta, hard: QuotaLimits, ignoredFields: [IgnoredField] = []) {
        self.metadata = metadata; self.hard = hard; self.ignoredFields = ignoredFields
    }
}

/// `spec.hard`, converted. nil: no quota on that resource.
public struct QuotaLimits: Sendable, Equatable {
    /// `limits.cpu`: the sum of the pods' CPU limits, thousandths of a CPU.
    public var limitsCPUMilli: UInt64?
    /// `limits.memory`: the sum of the pods' memory limits, bytes.
    public var limitsMemoryBytes: UInt64?
    /// `pods`: how many pods may run at once.
    public var pods: UInt64?
    /// `bulkhead.dev/pids`: a ceiling on all processes of the tenant's pods together, enforced
    /// by the kernel on the tenant cgroup (pids.max); not charged at admission.
    public var pids: UInt64?
    public init(limitsCPUMilli: UInt64? = nil, limitsMemoryBytes: UInt64? = nil, pods: UInt64? = nil, pids: UInt64? = nil) {
        self.limitsCPUMilli = limitsCPUMilli; self.limitsMemoryBytes = limitsMemoryBytes; self.pods = pods; self.pids = pids
    }

    /// Several quotas in one namespace all apply (as in Kubernetes): the tightest value of each.
    public static func tightest(_ all: [QuotaLimits]) -> QuotaLimits {
        func m(_ k: KeyPath<QuotaLimits, UInt64?>) -> UInt64? { all.compactMap { $0[keyPath: k] }.min() }
        return QuotaLimits(limitsCPUMilli: m(\.limitsCPUMilli), limitsMemoryBytes: m(\.limitsMemoryBytes), pods: m(\.pods), pids: m(\.pids))
    }

    /// The tenant cgroup's limits (cpu, memory, pids) that enforce this quota.
    public var tenantCgroupLimits: ResourceSpec {
        var r = ResourceSpec()
        r.cpuMilli = limitsCPUMilli; r.memoryBytes = limitsMemoryBytes; r.pids = pids
        return r
    }
}

public enum ResourceQuotaParser {
    public static let apiVersion = "v1"
    public static let kind = "ResourceQuota"
    /// bulkhead's pids quota key (no Kubernetes resource name exists for it).
    public static let pidsKey = "bulkhead.dev/pids"
    public static let supportedKeys = ["limits.cpu", "limits.memory", "pods", pidsKey]

    public static func parse(_ text: String, file: String) throws(ConfigError) -> ResourceQuotaManifest {
        try parse(try ConfigNode.parse(text, file: file))
    }

    public static func parse(_ doc: ConfigNode) throws(ConfigError) -> ResourceQuotaManifest {
        var ignored: [IgnoredField] = []
        let top = try ManifestFields.objectTop.mapping(doc, ignored: &ignored)
        try PodManifestParser.checkType(top, apiVersion: apiVersion, kind: kind, owner: doc)
        let meta = try ManifestFields.parseMetadata(top["metadata"], owner: doc, ignored: &ignored)
        let spec = try ManifestFields(
            supported: ["hard"],
            refused: [
                "scopes": "quota scopes are not supported: the quota applies to every pod of the tenant",
                "scopeSelector": "quota scopes are not supported: the quota applies to every pod of the tenant",
            ]
        ).mapping(try top.require("spec"), ignored: &ignored)
        let hardNode = try spec.require("hard")
        var hard = QuotaLimits()
        for (key, v) in try hardNode.mapping().entries {
            switch key {
            case "limits.cpu": hard.limitsCPUMilli = try NumberField.quotaCPU.parse(v)
            case "limits.memory": hard.limitsMemoryBytes = try NumberField.quotaMemory.parse(v)
            case "pods": hard.pods = try NumberField.quotaPods.parse(v)
            case pidsKey: hard.pids = try NumberField.quotaPids.parse(v)
            default:
                var msg = "quota on \"\(key)\" is not supported"
                if key == "cpu" || key == "memory" || key.hasPrefix("requests.") {
                    msg += " (requests are not quota'd here: bulkhead's tenant cgroup enforces limits)"
                }
                if let s = closestMatch(to: key, in: supportedKeys), s != key { msg += "; did you mean \"\(s)\"?" }
                throw v.error(msg + "; supported: \(supportedKeys.joined(separator: ", "))")
            }
        }
        guard hard != QuotaLimits() else { throw hardNode.error("give at least one of \(supportedKeys.joined(separator: ", "))") }
        return ResourceQuotaManifest(metadata: meta, hard: hard, ignoredFields: ignored)
    }
}
