import BulkheadModel
import Testing

private func effective(_ name: String) throws -> EffectiveProfile {
    var layers: [ProfileLayer] = []
    var next: String? = name
    while let n = next {
        let e = EmbeddedProfiles.files.first { $0.path == "\(n).yaml" }!
        let l = try ProfileParser.parse(e.text, file: "<embedded:\(n)>")
        layers.insert(l, at: 0)
        next = l.extends
    }
    return try EffectiveProfile.resolve(layers)
}

@Suite struct KubernetesContainerSpecTests {
    @Test func containerProfile() throws {
        let y = KubernetesContainerSpec(profile: try effective("container")).yaml
        for line in [
            "securityContext:\n", "  runAsUser: 0\n", "  runAsNonRoot: false\n", "  readOnlyRootFilesystem: true\n",
            "  allowPrivilegeEscalation: false\n", "  capabilities:\n    drop:\n    - ALL\n",
            "  seccompProfile:\n", "    type: Localhost\n    localhostProfile: profiles/container.json\n",
            "resources:\n  limits:\n    cpu: 1\n    memory: 1Gi\n    ephemeral-storage: 64Mi\n",
        ] { #expect(y.contains(line), "missing: \(line)") }
        #expect(y.contains("Kubernetes has no per-container pids field"))
        #expect(!y.contains("    add:"))
    }

    @Test func restrictedAndUnconfined() throws {
        let r = KubernetesContainerSpec(profile: try effective("restricted"), seccompName: "web").yaml
        #expect(r.contains("  runAsUser: 1000\n  runAsGroup: 1000\n  runAsNonRoot: true\n"))
        #expect(r.contains("localhostProfile: profiles/web.json"))
        let u = KubernetesContainerSpec(profile: try effective("unconfined")).yaml
        #expect(u.contains("    type: Unconfined\n"))
        #expect(u.contains("    add:\n    - ALL\n"))
    }

    @Test func limitsUseKubernetesQuantities() throws {
        var p = try effective("container")
        p.limits.cpuMilli = 500
        p.limits.memoryBytes = 256 << 20
        p.limits.pids = 64
        let y = KubernetesContainerSpec(profile: p).yaml
        #expect(y.contains("  limits:\n    cpu: 500m\n    memory: 256Mi\n    ephemeral-storage: 64Mi\n"))
        #expect(y.contains("# pids limit 64: Kubernetes has no per-container pids field"))
    }
}
