import BulkheadModel
/// What a running pod of a tenant holds against its quota: the pod cgroup's limits.
public struct PodUsage: Sendable, Equatable {
    public var name: String
    public var cpuMilli: UInt64?
    public var memoryBytes: UInt64?
    public var pids: UInt64?
    public init(name: String, cpuMilli: UInt64? = nil, memoryBytes: UInt64? = nil, pids: UInt64? = nil) {
        self.name = name; self.cpuMilli = cpuMilli; self.memoryBytes = memoryBytes; self.pids = pids
    }
}

extension PodLaunchSpec {
    /// The pod's charge against a quota: its pod cgroup limits (the containers' sum, or the
    /// lower or higher `bulkhead.dev/pod-limits`), which is what the pod can actually use.
    public var usage: PodUsage {
        PodUsage(name: name, cpuMilli: podLimits.cpuMilli, memoryBytes: podLimits.memoryBytes, pids: podLimits.pids)
    }
}

public enum AdmissionDecision: Sendable, Equatable {
    case allowed
    /// Every reason, each a sentence a user can act on.
    case refused([String])

    public var isAllowed: Bool { self == .allowed }
    public var reasons: [String] { if case .refused(let r) = self { return r }; return [] }
}

/// Admission of a pod into a tenant, pure: Pod Security Admission (the tenant's Pod Security
/// Standards level on the effective profiles, `PodSecurityStandards`), the allowed profiles,
/// the tenant's host id range, and ResourceQuota arithmetic over the running pods.
public enum TenantAdmission {
    /// The host ids of the default namespace's pods (no Tenant named `default`): the range
    /// after the one plain `bulkhead run` sandboxes use, so that no plain sandbox shares a uid
    /// (and so a file or a per-uid budget) with a pod. `PodAdmission.defaultTenantRange`.
    public static let defaultNamespaceRange = EffectiveProfile.defaultNamespacePodRange

    /// A pod of the default namespace when no Tenant named `default` is given: the Pod
    /// Security Standards level `PodSecurityPolicy.defaultLevel` (baseline), and its ids inside
    /// `range`, the host range its user namespace maps (`idRangeReasons`, as for a tenant).
    public static func admitToDefaultNamespace(_ pod: PodLaunchSpec, range: IDRange = defaultNamespaceRange) -> AdmissionDecision {
        var reasons: [String] = []
        if pod.namespace != "default" { reasons.append("pod \(pod.name) is in namespace \(pod.namespace), not in namespace default") }
        reasons += podSecurityReasons(pod, level: PodSecurityPolicy.defaultLevel)
        reasons += idRangeReasons(pod, range: range, mappedBy: "namespace default")
        return reasons.isEmpty ? .allowed : .refused(reasons)
    }

    /// The one rule for a pod's ids: each container's runAsUser, runAsGroup and supplementary
    /// gids inside the ids the pod's user namespace maps (`range`: its tenant's, or the default
    /// namespace's). The container joins that namespace, so no plan of its own checks them and
    /// the kernel would refuse them only at the identity step (EINVAL). A refusal names the
    /// container, the field and the range; of the manifest's values, only the number.
    static func idRangeReasons(_ pod: PodLaunchSpec, range: IDRange, mappedBy owner: String) -> [String] {
        var reasons: [String] = []
        let count = UInt64(range.mappedCount)
        for c in pod.containers {
            let p = c.effective
            if !range.maps(p.runAsUser) || !range.maps(p.runAsGroup) {
                reasons.append("container \(c.name): runs as uid \(p.runAsUser) gid \(p.runAsGroup) (securityContext.runAsUser, runAsGroup), outside the \(count) ids \(owner) maps (host \(range))")
            }
            if let g = p.supplementalGIDs.first(where: { !range.maps($0) }) {
                reasons.append("container \(c.name): supplementary group \(g) (securityContext.supplementalGroups) is outside the \(count) ids \(owner) maps (host \(range))")
            }
        }
        return reasons
    }

    /// The enforce level's refusal, as one PSA message listing every violation.
    public static func podSecurityReasons(_ pod: PodLaunchSpec, level: PodSecurityLevel) -> [String] {
        let v = PodSecurityStandards.evaluate(pod, level: level)
        return v.isEmpty ? [] : [PodSecurityStandards.message(pod: pod.name, level: level, v)]
    }

    /// What the `warn` and `audit` modes report (nothing is refused for them).
    public static func podSecurityWarnings(_ pod: PodLaunchSpec, policy: PodSecurityPolicy) -> [String] {
        [("warn", policy.warn), ("audit", policy.audit)].compactMap { mode, level in
            guard let level else { return nil }
            let v = PodSecurityStandards.evaluate(pod, level: level)
            return v.isEmpty ? nil : "PodSecurity \(mode): would violate PodSecurity \"\(level.rawValue):\(PodSecurityStandards.version)\": "
                + v.map { "\($0.reason) (\($0.details.joined(separator: "; ")))" }.joined(separator: ", ")
        }
    }

    public static func admit(_ pod: PodLaunchSpec, tenant: Tenant, quotas: [ResourceQuotaManifest] = [],
                             running: [PodUsage] = []) -> AdmissionDecision {
        var reasons: [String] = []
        if pod.namespace != tenant.name {
            reasons.append("pod \(pod.name) is in namespace \(pod.namespace), not in tenant \(tenant.name)")
        }
        reasons += podSecurityReasons(pod, level: tenant.podSecurity.enforce)
        for c in pod.containers {
            if let allowed = tenant.allowedProfiles, !allowed.contains(c.profileName) {
                reasons.append("container \(c.name): profile \(c.profileName) is not allowed in tenant \(tenant.name) (allowed: \(allowed.joined(separator: ", ")))")
            }
            let p = c.effective
            if let r = p.hostIDRange {
                let end = UInt64(r.hostStart) + UInt64(r.count), tEnd = UInt64(tenant.hostIDRange.hostStart) + UInt64(tenant.hostIDRange.count)
                if r.hostStart < tenant.hostIDRange.hostStart || end > tEnd {
                    reasons.append("container \(c.name): profile \(c.profileName) maps onto host ids \(r), outside tenant \(tenant.name)'s \(tenant.hostIDRange)")
                }
            }
        }
        reasons += idRangeReasons(pod, range: tenant.hostIDRange, mappedBy: "tenant \(tenant.name)")
        for q in quotas where q.namespace == tenant.name {
            reasons += quotaReasons(pod, quota: q, running: running)
        }
        return reasons.isEmpty ? .allowed : .refused(reasons)
    }

    /// `pods`, `limits.cpu` and `limits.memory` are charged here, as Kubernetes charges them:
    /// the pod's limits plus the running pods' must fit. `bulkhead.dev/pids` is not: it is no
    /// Kubernetes quota but a ceiling on the tenant's processes that the kernel enforces on
    /// the tenant's cgroup (pids.max), whatever the pods' own limits add up to; a sum of
    /// generous per-container pid limits would refuse pods that run a dozen processes.
    static func quotaReasons(_ pod: PodLaunchSpec, quota q: ResourceQuotaManifest, running: [PodUsage]) -> [String] {
        var reasons: [String] = []
        let use = pod.usage
        if let hard = q.hard.pods, UInt64(running.count) + 1 > hard {
            reasons.append("quota \(q.name): pods would be \(running.count + 1), over the hard limit \(hard)")
        }
        let checks: [(String, String, KeyPath<PodUsage, UInt64?>, UInt64?, (UInt64) -> String)] = [
            ("limits.cpu", "cpu", \.cpuMilli, q.hard.limitsCPUMilli, Quantity.formatMilli),
            ("limits.memory", "memory", \.memoryBytes, q.hard.limitsMemoryBytes, Quantity.formatBytes),
        ]
        for (key, resource, path, hard, fmt) in checks {
            guard let hard else { continue }
            guard let asked = use[keyPath: path] else {
                let without = pod.containers.filter { c in
                    switch resource {
                    case "cpu": c.effective.limits.cpuMilli == nil
                    default: c.effective.limits.memoryBytes == nil
                    }
                }.map(\.name)
                reasons.append("quota \(q.name): \(key) is limited, so every container needs a \(resource) limit; \(without.joined(separator: ", ")) has none")
                continue
            }
            // Checked sums: a wrapped total would let a pod through a full quota.
            var used: UInt64? = 0
            for r in running { used = used.flatMap { u in let (t, o) = u.addingReportingOverflow(r[keyPath: path] ?? 0); return o ? nil : t } }
            let total = used.flatMap { u in let (t, o) = u.addingReportingOverflow(asked); return o ? nil : t }
            if total == nil || total! > hard {
                reasons.append("quota \(q.name): \(key) would be \(total.map(fmt) ?? "beyond range"), over the hard limit \(fmt(hard)) (running pods use \(used.map(fmt) ?? "beyond range"), this pod asks \(fmt(asked)))")
            }
        }
        return reasons
    }
}
