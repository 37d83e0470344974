import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// The files in Examples/ parse, validate, map, admit and resolve as documented.
@Suite struct ManifestExamplesTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples")

    func load(_ name: String) throws -> ManifestSet {
        let url = Self.examples.appendingPathComponent(name)
        return try ManifestSet.parse(try String(contentsOf: url, encoding: .utf8), file: "Examples/\(name)")
    }

    @Test func webAndSidecar() throws {
        let set = try load("pod-web-sidecar.yaml")
        try set.validate()
        let pod = try #require(set.pods.first)
        #expect(pod.ignoredFields.isEmpty)
        let s = try pod.launchSpec(volumeDirectory: "/run/bulkhead/default/web/volumes", profileLayers: embeddedLayers)
        #expect(s.containers.map(\.name) == ["web", "sidecar"])
        #expect(s.containers.allSatisfy { $0.runsOnHostRoot && $0.effective.runAsUser == 1000 && $0.effective.capabilities.isEmpty })
        #expect(s.volumes.first?.medium == .memory && s.volumes.first?.sizeLimitBytes == 8 << 20)
        #expect(s.containers[0].effective.binds.map(\.readOnly) == [true] && s.containers[1].effective.binds.map(\.readOnly) == [false])
        #expect(s.ingressBitsPerSecond == 10_000_000 && s.egressBitsPerSecond == 10_000_000)
        #expect(s.podLimits.cpuMilli == 750 && s.podLimits.memoryBytes == 192 << 20)
        #expect(!s.mountsIdentityToken && s.activeDeadlineSeconds == 60)
        // Admitted into the default namespace (baseline), and it meets restricted as well.
        #expect(TenantAdmission.admitToDefaultNamespace(s) == .allowed)
        #expect(PodSecurityStandards.evaluate(s, level: .restricted).isEmpty)
    }

    @Test func denyAllPlusOnePort() throws {
        // The walkthrough's three files: the server, the client and the policies.
        var set = try load("policy-server.yaml")
        set.merge(try load("policy-client.yaml"))
        set.merge(try load("network-policy.yaml"))
        try set.validate()
        try #require(set.pods.map(\.name) == ["server", "client"] && set.networkPolicies.count == 2,
                     "\(set.pods.map(\.name)), \(set.networkPolicies.count) policies")
        #expect(set.pods[1].containers[0].argv.last == "http://10.244.0.2:8080/", "the first pod of an idle node")
        let running = set.pods.enumerated().map { RunningPod(name: $1.name, namespace: $1.namespace, labels: $1.metadata.labels, ip: "10.88.0.\($0 + 2)") }
        let r = NetworkPolicyResolver.resolve(pods: running, namespaces: [], policies: set.networkPolicies)
        let server = "10.88.0.2", client = "10.88.0.3"
        #expect(Set(r.ingressIsolated.map(\.name)) == ["server", "client"])
        #expect(r.flows == [AllowedFlow(direction: .ingress, source: client, destination: server, protocol: .tcp, port: 8080)])
        #expect(r.allows(source: client, destination: server, protocol: .tcp, port: 8080))
        #expect(!r.allows(source: client, destination: server, protocol: .tcp, port: 8081))
        #expect(!r.allows(source: server, destination: client, protocol: .tcp, port: 8080))
        #expect(!r.allows(source: nil, destination: server, protocol: .tcp, port: 8080))
    }

    @Test func tenantWithQuota() throws {
        var set = try load("tenant.yaml")
        set.merge(try load("policy-server.yaml"))
        set.merge(try load("policy-client.yaml"))
        set.merge(try load("network-policy.yaml"))
        try set.validate()
        let tenant = try #require(set.tenant("team-a"))
        #expect(tenant.podSecurity == PodSecurityPolicy(enforce: .baseline))
        let quotas = set.quotas("team-a")
        #expect(quotas.first?.hard == QuotaLimits(limitsCPUMilli: 1000, limitsMemoryBytes: 512 << 20, pods: 4, pids: 4096))
        // server and client: 250m/64Mi each, 1024 pids each (the container profile's).
        let specs = try set.pods.map { try $0.launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers) }
        var running: [PodUsage] = []
        for s in specs {
            #expect(TenantAdmission.admit(s, tenant: tenant, quotas: quotas, running: running) == .allowed)
            running.append(s.usage)
        }
        // With four pods running, a fifth exceeds the pod count and limits.cpu (5 × 250m); the
        // pids quota is the tenant cgroup's pids.max, enforced by the kernel, not here.
        running += running
        let d = TenantAdmission.admit(specs[0], tenant: tenant, quotas: quotas, running: running)
        #expect(d.reasons.contains("quota team-a-quota: pods would be 5, over the hard limit 4"))
        #expect(d.reasons.contains { $0.hasPrefix("quota team-a-quota: limits.cpu would be 1250m") })
        #expect(!d.reasons.contains { $0.contains("pids") })
    }
}
