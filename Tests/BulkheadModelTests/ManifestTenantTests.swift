import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

@Suite struct ManifestTenantTests {
    static let tenantYAML = """
    apiVersion: bulkhead.dev/v1alpha1
    kind: Tenant
    metadata: {name: team-a, labels: {team: red}}
    spec:
      hostIDRange: "3000000000:100000"
      allowedProfiles: [restricted, container]
      secretsDirectory: /var/lib/bulkhead/secrets/team-a/
    """
    static let quotaYAML = """
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: q, namespace: team-a}
    spec:
      hard:
        limits.cpu: "2"
        limits.memory: 1Gi
        pods: "3"
        bulkhead.dev/pids: "4096"
    """

    func tenant(_ y: String = tenantYAML) throws(ConfigError) -> Tenant { try TenantParser.parse(y, file: "t.yaml") }
    func quota(_ y: String = quotaYAML) throws(ConfigError) -> ResourceQuotaManifest { try ResourceQuotaParser.parse(y, file: "q.yaml") }

    @Test func parsesTenantAndQuota() throws {
        let t = try tenant()
        #expect(t.name == "team-a" && t.labels == ["team": "red"])
        #expect(t.hostIDRange == IDRange(hostStart: 3_000_000_000, count: 100_000))
        #expect(t.allowedProfiles == ["restricted", "container"])
        #expect(t.secretsDirectory == "/var/lib/bulkhead/secrets/team-a")
        #expect(t.namespaceLabels == NamespaceLabels(name: "team-a", labels: ["team": "red"]))
        let q = try quota()
        #expect(q.namespace == "team-a")
        #expect(q.hard == QuotaLimits(limitsCPUMilli: 2000, limitsMemoryBytes: 1 << 30, pods: 3, pids: 4096))
        var r = ResourceSpec(); r.cpuMilli = 2000; r.memoryBytes = 1 << 30; r.pids = 4096
        #expect(q.hard.tenantCgroupLimits == r)
        #expect(QuotaLimits.tightest([q.hard, QuotaLimits(limitsCPUMilli: 500, pods: 10)]) == QuotaLimits(limitsCPUMilli: 500, limitsMemoryBytes: 1 << 30, pods: 3, pids: 4096))
    }

    @Test func tenantAndQuotaErrors() {
        let t = Self.tenantYAML
        for (from, to, field, text) in [
            ("\"3000000000:100000\"", "\"0:10\"", "spec.hostIDRange", "host's root"),
            ("\"3000000000:100000\"", "\"4294967000:1000\"", "spec.hostIDRange", "HOSTSTART:COUNT"),
            ("\"3000000000:100000\"", "\"4199999999:2\"", "spec.hostIDRange", "must end at or below 4200000000"),
            ("[restricted, container]", "[]", "spec.allowedProfiles", "at least one profile"),
            ("[restricted, container]", "[restricted, restricted]", "spec.allowedProfiles[1]", "listed twice"),
            ("/var/lib/bulkhead/secrets/team-a/", "secrets", "spec.secretsDirectory", "absolute path"),
            ("/var/lib/bulkhead/secrets/team-a/", "/", "spec.secretsDirectory", "cannot be /"),
            ("name: team-a", "name: Team", "metadata.name", "namespace name"),
            ("allowedProfiles", "allowedProfile", "spec.allowedProfile", "did you mean \"allowedProfiles\""),
        ] {
            expectConfigError(field: field, contains: text, file: "t.yaml") { () throws(ConfigError) in try tenant(t.replacingOccurrences(of: from, with: to)) }
        }
        let q = Self.quotaYAML
        for (from, to, field, text) in [
            ("limits.cpu: \"2\"", "requests.cpu: \"2\"", "spec.hard.requests.cpu", "requests are not quota'd"),
            ("pods: \"3\"", "services: \"3\"", "spec.hard.services", "not supported"),
            ("limits.memory: 1Gi", "limits.memory: lots", "spec.hard.limits.memory", "memory quantity"),
            ("limits.memory: 1Gi", "limits.memroy: 1Gi", "spec.hard.limits.memroy", "did you mean \"limits.memory\""),
            ("  hard:", "  scopes: [BestEffort]\n  hard:", "spec.scopes", "scopes are not supported"),
        ] {
            expectConfigError(field: field, contains: text, file: "q.yaml") { () throws(ConfigError) in try quota(q.replacingOccurrences(of: from, with: to)) }
        }
        expectConfigError(field: "spec.hard", contains: "at least one", file: "q.yaml") { () throws(ConfigError) in
            try quota("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec: {hard: {}}\n")
        }
    }

    @Test func tenantRangesMustNotOverlap() throws {
        let a = Tenant(name: "a", hostIDRange: IDRange(hostStart: 3_000_000_000, count: 65536), allowedProfiles: ["container"], secretsDirectory: "/s/a", file: "a.yaml")
        var b = Tenant(name: "b", hostIDRange: IDRange(hostStart: 3_000_065_536, count: 65536), allowedProfiles: ["container"], secretsDirectory: "/s/b", file: "b.yaml")
        try Tenant.validate([a, b], reserved: [("the default sandbox range", EffectiveProfile.defaultHostIDRange)])
        b.hostIDRange = IDRange(hostStart: 3_000_065_535, count: 10)   // one id shared
        expectConfigError(field: "spec.hostIDRange", contains: "overlap tenant a's 3000000000:65536", file: "b.yaml") { () throws(ConfigError) in try Tenant.validate([a, b]) }
        b.hostIDRange = IDRange(hostStart: 2_999_999_990, count: 10)   // ends right before a
        try Tenant.validate([a, b])
        b.hostIDRange = IDRange(hostStart: 1_000, count: 4_000_000_000)  // contains a
        expectConfigError(field: "spec.hostIDRange", contains: "overlap", file: "b.yaml") { () throws(ConfigError) in try Tenant.validate([a, b]) }
        b.hostIDRange = IDRange(hostStart: 2_000_000_100, count: 10)
        expectConfigError(field: "spec.hostIDRange", contains: "overlap the default sandbox range", file: "b.yaml") { () throws(ConfigError) in
            try Tenant.validate([a, b], reserved: [("the default sandbox range", EffectiveProfile.defaultHostIDRange)])
        }
        b.hostIDRange = IDRange(hostStart: 100_000, count: 10)
        b.secretsDirectory = "/s/a/b"
        expectConfigError(field: "spec.secretsDirectory", contains: "shares a tree", file: "b.yaml") { () throws(ConfigError) in try Tenant.validate([a, b]) }
        b.secretsDirectory = "/s/ab"
        try Tenant.validate([a, b])
        b.name = "a"
        expectConfigError(field: "metadata.name", contains: "defined twice", file: "b.yaml") { () throws(ConfigError) in try Tenant.validate([a, b]) }
    }

    // MARK: Admission

    func pod(_ yaml: String) throws -> PodLaunchSpec {
        try PodManifestParser.parse(yaml, file: "pod.yaml").launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers)
    }
    func teamPod(cpu: String = "500m", memory: String = "256Mi", profile: String = "restricted", extra: String = "") -> String {
        podYAML(meta: "  namespace: team-a\n", container: "    resources: {limits: {cpu: \(cpu), memory: \(memory)}}\n" + extra,
                annotations: "    bulkhead.dev/profile: \(profile)\n")
    }

    @Test func admitsWithinQuota() throws {
        let p = try pod(teamPod())
        #expect(p.usage == PodUsage(name: "web", cpuMilli: 500, memoryBytes: 256 << 20, pids: 1024))
        let running = [PodUsage(name: "a", cpuMilli: 1000, memoryBytes: 512 << 20, pids: 1024)]
        #expect(TenantAdmission.admit(p, tenant: try tenant(), quotas: [try quota()], running: running) == .allowed)
        // Exactly at the limit is allowed.
        let full = [PodUsage(name: "a", cpuMilli: 1500, memoryBytes: 768 << 20, pids: 3072)]
        #expect(TenantAdmission.admit(p, tenant: try tenant(), quotas: [try quota()], running: full).isAllowed)
    }

    @Test func quotaArithmeticRefuses() throws {
        let p = try pod(teamPod(cpu: "1", memory: "512Mi"))
        let running = [PodUsage(name: "a", cpuMilli: 1500, memoryBytes: 600 << 20, pids: 3500), PodUsage(name: "b", cpuMilli: 0, memoryBytes: 0, pids: 0)]
        let d = TenantAdmission.admit(p, tenant: try tenant(), quotas: [try quota()], running: running)
        #expect(d.reasons.count == 2, "\(d.reasons)")
        #expect(d.reasons.contains("quota q: limits.cpu would be 2500m, over the hard limit 2 (running pods use 1500m, this pod asks 1)"))
        #expect(d.reasons.contains { $0.hasPrefix("quota q: limits.memory would be 1112Mi, over the hard limit 1Gi") })
        // pids are the kernel's business (the tenant cgroup's pids.max), not admission's.
        #expect(!d.reasons.contains { $0.contains("pids") })
        let three = (0..<3).map { PodUsage(name: "p\($0)", cpuMilli: 1, memoryBytes: 1, pids: 1) }
        let e = TenantAdmission.admit(try pod(teamPod(cpu: "100m", memory: "64Mi")), tenant: try tenant(), quotas: [try quota()], running: three)
        #expect(e.reasons == ["quota q: pods would be 4, over the hard limit 3"])
    }

    @Test func quotaNeedsLimits() throws {
        let bare = ProfileLayer.with { $0.name = "restricted" }   // a profile without limits
        let p = try PodManifestParser.parse(podYAML(meta: "  namespace: team-a\n"), file: "pod.yaml").launchSpec(volumeDirectory: "/v") { _ throws(ConfigError) in [bare] }
        let d = TenantAdmission.admit(p, tenant: try tenant(), quotas: [try quota()])
        #expect(d.reasons.contains("quota q: limits.cpu is limited, so every container needs a cpu limit; app has none"))
        #expect(d.reasons.contains { $0.contains("limits.memory is limited") } && !d.reasons.contains { $0.contains("pids") })
    }

    @Test func profileAndNamespaceAndUIDRefusals() throws {
        let d = TenantAdmission.admit(try pod(teamPod(profile: "unconfined", extra: "").replacingOccurrences(of: "annotations:\n", with: "annotations:\n    bulkhead.dev/rootfs: /var/lib/bulkhead/rootfs/r\n")), tenant: try tenant())
        // The profile is not allowed, and what it turns off violates the tenant's level (baseline).
        #expect(d.reasons.count == 2 && d.reasons[1] == "container app: profile unconfined is not allowed in tenant team-a (allowed: restricted, container)", "\(d.reasons)")
        #expect(d.reasons[0].hasPrefix("pods \"web\" is forbidden: violates PodSecurity \"baseline:latest\": non-default capabilities"), "\(d.reasons)")
        let other = try pod(podYAML(container: "    resources: {limits: {cpu: 1}}\n"))
        #expect(TenantAdmission.admit(other, tenant: try tenant()).reasons == ["pod web is in namespace default, not in tenant team-a"])
        let small = Tenant(name: "team-a", hostIDRange: IDRange(hostStart: 3_000_000_000, count: 1000), allowedProfiles: ["restricted"], secretsDirectory: "/s")
        let big = try pod(teamPod(extra: "    securityContext: {runAsUser: 5000}\n"))
        #expect(TenantAdmission.admit(big, tenant: small).reasons == ["container app: runs as uid 5000 gid 1000 (securityContext.runAsUser, runAsGroup), outside the 1000 ids tenant team-a maps (host 3000000000:1000)"])
        // A profile pinned to host ids outside the tenant's range.
        let pinned = ProfileLayer.with { $0.name = "restricted"; $0.hostIDRange = IDRange(hostStart: 2_000_000_000, count: 65536) }
        let pp = try PodManifestParser.parse(teamPod(), file: "pod.yaml").launchSpec(volumeDirectory: "/v") { _ throws(ConfigError) in [pinned] }
        #expect(TenantAdmission.admit(pp, tenant: try tenant()).reasons == ["container app: profile restricted maps onto host ids 2000000000:65536, outside tenant team-a's 3000000000:100000"])
    }

    // MARK: ManifestSet

    @Test("A pod's supplementalGroups outside the tenant's range are refused at admission, naming the field")
    func supplementalGroupsOutsideTheRange() throws {
        let tenant = Tenant(name: "team-a", hostIDRange: IDRange(hostStart: 3_000_000_000, count: 2000), allowedProfiles: ["restricted"], secretsDirectory: "/s")
        let yaml = { (groups: String) in
            podYAML(meta: "  namespace: team-a\n", spec: "  securityContext:\n    supplementalGroups: [\(groups)]\n",
                    container: "    resources: {limits: {cpu: 500m, memory: 256Mi}}\n", annotations: "    bulkhead.dev/profile: restricted\n")
        }
        #expect(TenantAdmission.admit(try pod(yaml("10, 1999")), tenant: tenant).isAllowed)
        let refused = TenantAdmission.admit(try pod(yaml("10, 5000")), tenant: tenant).reasons
        #expect(refused == ["container app: supplementary group 5000 (securityContext.supplementalGroups) is outside the 2000 ids tenant team-a maps (host 3000000000:2000)"], "\(refused)")
    }

    /// The same rule for the default namespace (no Tenant), on the 65536 ids its pods' user
    /// namespace maps: refused at admission, not by the kernel at the container's setgroups or
    /// setresuid step (EINVAL). The refusal names the container, the field and the range.
    @Test("A default-namespace pod's ids outside the range it maps are refused at admission, by the tenants' rule")
    func defaultNamespaceIdsOutsideItsRange() throws {
        let range = IDRange(hostStart: 2_000_065_536, count: 65536)
        let yaml = { (sc: String) in podYAML(spec: "  securityContext:\n" + sc) }
        let reasons = { (sc: String) throws in TenantAdmission.admitToDefaultNamespace(try pod(yaml(sc)), range: range).reasons }
        #expect(try reasons("    supplementalGroups: [10, 65535]\n    runAsUser: 65535\n    runAsGroup: 65535\n").isEmpty)
        #expect(try reasons("    supplementalGroups: [10, 65536]\n")
                == ["container app: supplementary group 65536 (securityContext.supplementalGroups) is outside the 65536 ids namespace default maps (host 2000065536:65536)"])
        #expect(try reasons("    runAsUser: 70000\n")
                == ["container app: runs as uid 70000 gid 0 (securityContext.runAsUser, runAsGroup), outside the 65536 ids namespace default maps (host 2000065536:65536)"])
        #expect(try reasons("    runAsGroup: 65536\n").count == 1)
    }

    @Test func multiDocumentFiles() throws {
        let text = Self.tenantYAML + "\n---\n" + Self.quotaYAML + "\n---\n" + teamPod() + "---\n"
            + "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: team-a}\nspec: {podSelector: {}}\n"
        let set = try ManifestSet.parse(text, file: "all.yaml")
        #expect(set.tenants.count == 1 && set.resourceQuotas.count == 1 && set.pods.count == 1 && set.networkPolicies.count == 1)
        try set.validate()
        #expect(set.quotas("team-a").map(\.name) == ["q"])
        #expect(set.tenant("team-a")?.allowedProfiles == ["restricted", "container"])
        #expect(set.namespaceLabels == [NamespaceLabels(name: "team-a", labels: ["team": "red"])])
    }

    @Test func manifestSetErrors() throws {
        expectConfigError(field: "kind", contains: "take the pod template", file: "d.yaml") { () throws(ConfigError) in
            try ManifestSet.parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", file: "d.yaml")
        }
        expectConfigError(field: "kind", contains: "supported: v1/Pod", file: "d.yaml") { () throws(ConfigError) in
            try ManifestSet.parse("apiVersion: v1\nkind: Service\n", file: "d.yaml")
        }
        expectConfigError(field: "", contains: "holds no manifest", file: "d.yaml") { () throws(ConfigError) in try ManifestSet.parse("", file: "d.yaml") }
        expectConfigError(field: "", contains: "not valid YAML", file: "d.yaml") { () throws(ConfigError) in
            try ManifestSet.parse("apiVersion: v1\n---\n  - : [\n", file: "d.yaml")
        }
        // Errors in a later document carry that document's line.
        do {
            _ = try ManifestSet.parse(podYAML() + "---\n" + podYAML(spec: "  hostPID: true\n"), file: "d.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "spec.hostPID" && error.line == 22, "\(error)")
        }
        let dup = try ManifestSet.parse(podYAML() + "---\n" + podYAML(), file: "d.yaml")
        expectConfigError(field: "metadata.name", contains: "Pod default/web is defined twice", file: "d.yaml") { () throws(ConfigError) in try dup.validate() }
        let orphan = try ManifestSet.parse(Self.tenantYAML + "\n---\n" + podYAML(), file: "d.yaml")
        expectConfigError(field: "metadata.namespace", contains: "no Tenant defines", file: "d.yaml") { () throws(ConfigError) in try orphan.validate() }
    }
}
