import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Robustness: mutated manifests either parse (and then map, admit and resolve) or throw a
/// ConfigError; they never crash. Fixed seed, so a failure reproduces.
@Suite struct ManifestFuzzTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let policyYAML = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: db, namespace: team-a}
    spec:
      podSelector:
        matchLabels: {app: db}
        matchExpressions: [{key: tier, operator: NotIn, values: [x]}]
      policyTypes: [Ingress, Egress]
      ingress:
      - from:
        - namespaceSelector: {matchLabels: {team: red}}
          podSelector: {matchLabels: {app: web}}
        ports: [{protocol: TCP, port: 5432, endPort: 5440}]
      egress:
      - to: [{podSelector: {}}]
    """

    static var seeds: [String] {
        [
            ManifestMappingTests.twoContainers,
            ManifestTenantTests.tenantYAML,
            ManifestTenantTests.quotaYAML,
            policyYAML,
            podYAML(spec: "  volumes:\n  - name: v\n    emptyDir: {sizeLimit: 1Mi}\n", container: "    volumeMounts: [{name: v, mountPath: /v}]\n    env: [{name: A, value: \"$(B)$$\"}]\n",
                    annotations: "    bulkhead.dev/pod-limits: cpu=1,memory=64Mi,pids=10\n    kubernetes.io/egress-bandwidth: 1M\n"),
        ]
    }

    static let tokens = [
        ": ", "- ", "{", "}", "[", "]", "true", "false", "-1", "0", "99999999999999999999999", "null", "~", "\"\"", "&a ", "*a",
        "!!binary ", "'", "\"", "#", "\t", "  ", "\n", ",", "ALL", "Always", "hostPath:", "valueFrom:", "1e400", "0x", "Mi", "$(", "/",
        "..", "bulkhead.dev/profile.", "kubernetes.io/ingress-bandwidth: ", "Exists", "In", "port: ", "endPort: 0", "\u{0}", "é",
    ]

    static func mutate(_ text: String, _ rng: inout SplitMix64) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            guard !lines.isEmpty else { break }
            let i = Int.random(in: 0..<lines.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: lines.remove(at: i)
            case 1: lines.insert(lines[i], at: i)
            case 2:
                var l = Array(lines[i])
                let t = Array(tokens.randomElement(using: &rng)!)
                l.insert(contentsOf: t, at: Int.random(in: 0...l.count, using: &rng))
                lines[i] = String(l)
            case 3:
                var l = Array(lines[i])
                if !l.isEmpty { l.remove(at: Int.random(in: 0..<l.count, using: &rng)) }
                lines[i] = String(l)
            case 4: lines[i] = "  " + lines[i]
            case 5:
                // Replace a value after the first ": " with a token.
                if let r = lines[i].range(of: ": ") { lines[i] = String(lines[i][..<r.upperBound]) + tokens.randomElement(using: &rng)! }
            default:
                let j = Int.random(in: 0..<lines.count, using: &rng)
                lines.swapAt(i, j)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Everything downstream of a successful parse must also not crash.
    static func exercise(_ text: String) {
        do {
            let set = try ManifestSet.parse(text, file: "fuzz.yaml")
            try? set.validate()
            var running: [RunningPod] = []
            for (i, p) in set.pods.enumerated() {
                running.append(RunningPod(name: p.name, namespace: p.namespace, labels: p.metadata.labels, ip: "10.0.0.\(i)"))
                guard let spec = try? p.launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers) else { continue }
                for t in set.tenants { _ = TenantAdmission.admit(spec, tenant: t, quotas: set.resourceQuotas, running: [spec.usage]) }
            }
            let r = NetworkPolicyResolver.resolve(pods: running, namespaces: set.namespaceLabels, policies: set.networkPolicies)
            _ = r.allows(source: "10.0.0.0", destination: "10.0.0.1", protocol: .tcp, port: 80)
        } catch {
            #expect(!error.message.isEmpty)
        }
    }

    @Test func seedsParse() throws {
        for s in Self.seeds { _ = try ManifestSet.parse(s, file: "seed.yaml") }
    }

    @Test func mutatedManifestsNeverCrash() {
        // BULKHEAD_FUZZ_ITERATIONS (per seed) and BULKHEAD_FUZZ_SEED run it longer or elsewhere.
        let env = ProcessInfo.processInfo.environment
        let iterations = env["BULKHEAD_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 120
        var rng = SplitMix64(state: env["BULKHEAD_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_B01C)
        var parsed = 0, refused = 0
        for seed in Self.seeds {
            for _ in 0..<iterations {
                let text = Self.mutate(seed, &rng)
                if (try? ManifestSet.parse(text, file: "fuzz.yaml")) != nil { parsed += 1 } else { refused += 1 }
                Self.exercise(text)
            }
        }
        // Both outcomes occur: the mutations are neither all harmless nor all fatal.
        #expect(parsed > 20 && refused > 100, "parsed \(parsed), refused \(refused)")
    }
}
