import BulkheadConfig
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
            "resources:\n  limits:\n    cpu: \"1\"\n    memory: \"1Gi\"\n    ephemeral-storage: \"64Mi\"\n",
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
        #expect(y.contains("  limits:\n    cpu: \"500m\"\n    memory: \"256Mi\"\n    ephemeral-storage: \"64Mi\"\n"))
        #expect(y.contains("# pids limit 64: Kubernetes has no per-container pids field"))
    }

    @Test("supplementalGroups, a pod-level field in Kubernetes, is a comment naming it, never dropped")
    func supplementalGroupsAreAPodField() throws {
        var p = try effective("container")
        p.supplementalGroups = [.id(10), .id(20)]
        #expect(KubernetesContainerSpec(profile: p).yaml.contains("# pod spec: securityContext.supplementalGroups: [10, 20] (no container-level field)\n"))
    }

    /// What Kubernetes cannot say is a comment, never dropped (issue 15: Landlock and io were).
    @Test func settingsWithoutAFieldAreComments() throws {
        var p = try effective("container")
        p.landlock = LandlockSpec(readOnly: ["/usr", "/etc"], readWrite: ["/tmp"], bindTCP: [8080], connectTCP: [])
        p.ioWeight = 200
        p.ioMax = [IOThrottle(major: 8, minor: 0, readBytesPerSecond: 1_048_576)]
        p.enforcement = .bestEffort
        p.maskedPaths.append("/proc/cpuinfo")
        p.binds = [BindMount(source: "/srv/data", destination: "/data", readOnly: true)]
        let y = KubernetesContainerSpec(profile: p).yaml
        for line in [
            "# filesystem.landlock (read-only /usr /etc; read-write /tmp; bind TCP 8080; connect TCP none) has no Kubernetes field",
            "# resources.io (io.weight 200; io.max 8:0 rbps=1048576) has no Kubernetes field",
            "# resources.enforcement: best-effort here",
            "# masked paths beyond the runtime's defaults (/run/bulkhead /proc/cpuinfo) have no Kubernetes field",
            "# bind /srv/data -> /data (read-only): a hostPath volume",
        ] { #expect(y.contains(line), "missing: \(line)\n\(y)") }
        let plain = KubernetesContainerSpec(profile: try effective("container")).yaml
        #expect(!plain.contains("landlock") && !plain.contains("resources.io") && !plain.contains("hostPath"), "\(plain)")
    }
}
