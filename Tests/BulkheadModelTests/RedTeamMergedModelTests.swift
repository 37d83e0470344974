import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Red team of issue 15's merged changes (errors15, sandbox15, 6a1b5e2), the model side: a
/// manifest author against the collecting parser, a root-only manifest's errors, the ids a pod
/// may ask for and a hostname with the host's UTS namespace.
@Suite struct RedTeamMergedModelTests {
    /// Three levels of 100 aliases, as `RedTeamNumberTests.aliasesDoNotAmplify`: ~2 KB of YAML,
    /// 10^6 values once expanded.
    static let policyBomb: String = {
        let values = "[&v x" + String(repeating: ", *v", count: 99) + "]"
        let peers = "[&f {podSelector: {matchExpressions: [{key: k, operator: In, values: \(values)}]}}" + String(repeating: ", *f", count: 99) + "]"
        return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - &r {from: \(peers)}\n"
            + String(repeating: "    - *r\n", count: 99)
    }()

    /// `pod run` and `policy apply` read their files through `ManifestSet`, which composed every
    /// document itself and so never applied ConfigNode.parse's limit on aliases: a 2 KB
    /// NetworkPolicy given to `policy apply` was stored as 10^6 selector values, and a Pod whose
    /// one bad container is aliased 10^4 times gave 10^4 errors, each a string, sorted, collected.
    @Test("A multi-document manifest file's anchors and aliases cannot expand it past twice its size: not for policy apply's NetworkPolicy, not into a pod's errors")
    func manifestSetAliasesDoNotAmplify() throws {
        do {
            let set = try ManifestSet.parse(Self.policyBomb, file: "p.yaml")
            let n = set.networkPolicies.reduce(0) { $0 + $1.ingress.reduce(0) { $0 + $1.peers.reduce(0) { $0 + ($1.podSelector?.matchExpressions.reduce(0) { $0 + $1.values.count } ?? 0) } } }
            Issue.record("accepted: \(Self.policyBomb.utf8.count) bytes of YAML hold \(n) selector values")
        } catch {
            #expect(error.message.contains("aliases"), "\(error)")
        }
        // The same after a first, harmless document: the limit is the file's, not a document's.
        let second = podYAML() + "---\n" + Self.policyBomb
        #expect(throws: ConfigError.self) { _ = try ManifestSet.parseCollecting(second, file: "p.yaml") }

        // 100 x 100 aliased copies of one container with an unknown field: one error, about aliases.
        let bad = "&c {name: a, image: b, command: [/bin/true], stdinn: true}"
        let row = "[\(bad)" + String(repeating: ", *c", count: 99) + "]"
        var pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: &all \(row)\n"
        pod += "---\n" + (0..<99).map { _ in "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: *all}\n" }.joined(separator: "---\n")
        do {
            let (_, errors) = try ManifestSet.parseCollecting(pod, file: "p.yaml")
            Issue.record("accepted for collection: \(pod.utf8.count) bytes gave \(errors.count) errors")
        } catch {
            #expect(error.message.contains("aliases"), "\(error)")
        }
        // Modest anchors in a manifest still parse.
        let modest = podYAML(container: "    env: [&e {name: A, value: x}]\n") + "---\n" + podYAML(meta: "  labels: {a: b}\n").replacingOccurrences(of: "name: web", with: "name: web2")
        let (set, errors) = try ManifestSet.parseCollecting(modest, file: "p.yaml")
        #expect(errors.isEmpty && set.pods.count == 2, "\(errors)")
    }

    /// A root-only manifest's errors keep file, line, column and the field path, never its
    /// text: the collecting parser names keys the author wrote (labels, annotations, resource
    /// names, unknown keys with dots) in field paths, and a caller naming someone's root-only
    /// Pod manifest now sees every one of them.
    @Test("A root-only manifest's collected errors show none of its keys: labels, annotations, resource names, dotted unknown keys")
    func privateManifestErrorsShowNoKey() throws {
        // Tests/Fixtures/pod-private-keys.yaml (RedTeamMergedTests runs `pod run` on it, root-only).
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/pod-private-keys.yaml")
        let yaml = try String(contentsOf: url, encoding: .utf8)
        // Labels are read as one field (their first error): a bad value's key in a second file.
        let (_, errors1) = try ManifestSet.parseCollecting(yaml, file: "/root/pod.yaml")
        let (_, errors2) = try ManifestSet.parseCollecting(yaml.replacingOccurrences(of: "{\"REDTEAMSECRET1 key\": a}", with: "{secret2key: \"bad value!\"}"), file: "/root/pod.yaml")
        let errors = errors1 + errors2
        #expect(errors1.count == 5 && errors2.count == 5 && errors1 != errors2, "\(errors.map(\.description).joined(separator: "\n"))")
        let shown = errors.map { $0.withoutContent() }
        for e in shown {
            #expect(!e.description.uppercased().contains("SECRET"), "\(e)")
            #expect(e.line != nil)
        }
        // What is kept: the place (a schema path, cut where the author's own keys begin).
        #expect(shown.contains { $0.field == "metadata.labels" }, "\(shown)")
        #expect(shown.contains { $0.field == "metadata.annotations" }, "\(shown)")
        #expect(shown.contains { $0.field == "spec.containers[0].resources.limits" }, "\(shown)")
        #expect(shown.contains { $0.field == "spec.containers[0]" }, "\(shown)")
        // A schema field stays whole.
        let r = ConfigError(file: "f", field: "spec.restartPolicy", line: 3, message: "unknown restartPolicy \"Sometimes\"").withoutContent()
        #expect(r.field == "spec.restartPolicy" && !r.description.contains("Sometimes"))
    }

    /// A default-namespace pod's ids, every way a manifest or its profile can give them: the
    /// container's own securityContext over a pod-level one in range, runAsGroup alone, a
    /// second container only, a group added by the pod, the profile the annotation names.
    /// Each is refused at admission (`TenantAdmission.idRangeReasons`).
    @Test("A default-namespace pod's ids outside its range are refused however they are given: container over pod, group alone, second container, the profile's")
    func defaultNamespaceIdsEveryWay() throws {
        func reasons(_ yaml: String, profile: [ProfileLayer]? = nil) throws -> [String] {
            let spec = try PodManifestParser.parse(yaml, file: "pod.yaml").launchSpec(volumeDirectory: "/v") { (name: String) throws(ConfigError) -> [ProfileLayer] in
                if let profile, name == "wide" { return profile }
                return try embeddedLayers(name)
            }
            return TenantAdmission.admitToDefaultNamespace(spec).reasons
        }
        #expect(try reasons(podYAML(spec: "  securityContext: {runAsUser: 1000}\n", container: "    securityContext: {runAsUser: 65536}\n")).count == 1)
        #expect(try reasons(podYAML(container: "    securityContext: {runAsGroup: 65536}\n")).count == 1)
        #expect(try reasons(podYAML(container: "    securityContext: {runAsGroup: 4294967294}\n")).count == 1)
        #expect(try reasons(podYAML(spec: "  securityContext: {runAsUser: 1000, supplementalGroups: [65536]}\n")).count == 1)
        let two = podYAML() + "  - name: second\n    image: busybox\n    command: [/bin/sh]\n    securityContext: {runAsUser: 1000, runAsGroup: 100000}\n"
        let r2 = try reasons(two)
        #expect(r2.contains { $0.hasPrefix("container second:") }, "\(r2)")
        // The profile the annotation names: its runAsUser and its groups.
        var wide = try embeddedLayers("container")
        var top = ProfileLayer(); top.source = "/etc/bulkhead/profiles/wide.yaml"; top.runAsUser = 70000
        wide.append(top)
        let named = podYAML(annotations: "    bulkhead.dev/profile: wide\n")
        let r3 = try reasons(named, profile: wide)
        #expect(r3.contains { $0.contains("uid 70000") }, "\(r3)")
        // The same ids inside the range are admitted.
        #expect(try reasons(podYAML(spec: "  securityContext: {supplementalGroups: [0, 65535]}\n", container: "    securityContext: {runAsUser: 65535, runAsGroup: 65535}\n")).isEmpty)
    }

    /// A pod's profile that shares the host's UTS namespace: the pod always has a hostname (its
    /// name), so the container is refused, and for the namespace, not for a hostname the
    /// author never wrote (6a1b5e2's hostname rule ran first and named "hostname").
    @Test("A pod whose profile turns the UTS namespace off is refused for the namespace, at the container")
    func podProfileWithoutUTSIsRefusedForTheNamespace() throws {
        var layers = try embeddedLayers("container")
        var off = ProfileLayer(); off.source = "/etc/bulkhead/profiles/hostuts.yaml"; off.namespaces[.uts] = false
        layers.append(off)
        let yaml = podYAML(annotations: "    bulkhead.dev/profile: hostuts\n")
        do {
            _ = try PodManifestParser.parse(yaml, file: "pod.yaml").launchSpec(volumeDirectory: "/v") { (name: String) throws(ConfigError) -> [ProfileLayer] in
                name == "hostuts" ? layers : try embeddedLayers(name)
            }
            Issue.record("a pod ran with the host's UTS namespace")
        } catch {
            #expect(error.description.contains("uts namespace") && error.field == "spec.containers[0]", "\(error)")
        }
    }

    /// Collecting every error must not make a manifest's cost a product: a 700 KB Pod of 10,000
    /// volumes and one container of 10,000 mounts of volumes it does not declare. The parser
    /// that stopped at the first error looked one name up; the collecting one looked each
    /// missing name up among all volumes for a "did you mean" (10,000 x 10,000 edit distances).
    @Test("Collecting a Pod's errors costs the manifest's length, not volumes x mounts: 10,000 missing mounts among 10,000 volumes")
    func collectionIsNotQuadratic() throws {
        let n = 10_000
        var yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  volumes:\n"
        for i in 0..<n { yaml += "  - {name: v\(i), emptyDir: {}}\n" }
        yaml += "  containers:\n  - name: a\n    image: b\n    command: [/bin/true]\n    volumeMounts:\n"
        for i in 0..<n { yaml += "    - {name: w\(i), mountPath: /m\(i)}\n" }
        var errors: [ConfigError] = []
        let cpu = try RedTeamNumberTests.cpuSeconds { errors = try ManifestSet.parseCollecting(yaml, file: "p.yaml").errors }
        #expect(errors.count == n, "\(errors.count) errors")
        #expect(errors.first?.message.contains("no volume named \"w0\"") == true, "\(errors.first?.description ?? "")")
        #expect(cpu < 20, "collecting the errors of \(yaml.utf8.count) bytes took \(cpu) s of CPU")
    }
}
