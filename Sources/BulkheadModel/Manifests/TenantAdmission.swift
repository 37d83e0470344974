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

/// Admission of a pod into a tenant, pure: the Pod Security Admission analogue (allowed
/// profiles), the tenant's host id range, and ResourceQuota arithmetic over the running pods.
public enum TenantAdmission {
    public static func admit(_ pod: PodLaunchSpec, tenant: Tenant, quotas: [ResourceQuotaManifest] = [],
                             running: [PodUsage] = []) -> AdmissionDecision {
        var reasons: [String] = []
        if pod.namespace != tenant.name {
            reasons.append("pod \(pod.name) is in namespace \(pod.namespace), not in tenant \(tenant.name)")
        }
        for c in pod.containers {
            if !tenant.allowedProfiles.contains(c.profileName) {
                reasons.append("container \(c.name): profile \(c.profileName) is not allowed in tenant \(tenant.name) (allowed: \(tenant.allowedProfiles.joined(separator: ", ")))")
            }
            let p = c.effective
            let count = UInt64(tenant.hostIDRange.count)
            if UInt64(p.runAsUser) >= count || UInt64(p.runAsGroup) >= count {
                reasons.append("container \(c.name): runs as uid \(p.runAsUser) gid \(p.runAsGroup), outside the \(count) ids tenant \(tenant.name) maps (host \(tenant.hostIDRange))")
            }
            if let r = p.hostIDRange {
                let end = UInt64(r.hostStart) + UInt64(r.count), tEnd = UInt64(tenant.hostIDRange.hostStart) + count
                if r.hostStart < tenant.hostIDRange.hostStart || end > tEnd {
                    reasons.append("container \(c.name): profile \(c.profileName) maps onto host ids \(r), outside tenant \(tenant.name)'s \(tenant.hostIDRange)")
                }
            }
        }
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
