import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// A Pod manifest's errors come all at once, in file order, as `profile lint` lists a profile's
/// (the one `ConfigErrorCollector`): a new user fixes them in one round, not one per run.
@Suite struct ManifestErrorListTests {
    /// Tests/Fixtures/pod-three-errors.yaml: errors on lines 7 (an annotation, read last),
    /// 9 (spec.hostNetwork) and 12 (a container's stdin); the parser finds them in the order
    /// 9, 12, 7. PodManifestErrorsTests runs `pod run` on the same file.
    static let threeErrors: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/pod-three-errors.yaml")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    @Test func everyErrorOfAPodInFileOrder() throws {
        let (_, errors) = try ManifestSet.parseCollecting(Self.threeErrors, file: "pod.yaml")
        #expect(errors.map(\.line) == [7, 9, 12], "\(errors)")
        #expect(errors.map(\.field) == ["metadata.annotations.bulkhead.dev/profil", "spec.hostNetwork", "spec.containers[0].stdin"], "\(errors)")
        #expect(errors.allSatisfy { $0.file == "pod.yaml" })
        #expect(errors.first?.message.contains("did you mean \"bulkhead.dev/profile\"") == true, "\(errors)")
        // `parse` still throws the first by position.
        #expect(throws: errors[0]) { try ManifestSet.parse(Self.threeErrors, file: "pod.yaml") }
    }

    /// Errors in different sections and list items, each its own: a refused key in a mapping
    /// does not hide the next key, a bad item the next item, a bad container the next container.
    @Test func theParserGoesOnPastEachField() throws {
        let yaml = """
            apiVersion: v1
            kind: Pod
            metadata: {name: many}
            spec:
              restartPolicy: Sometimes
              securityContext: {fsGroup: 5, runAsUser: -1}
              volumes:
                - {name: a, hostPath: {path: /}}
                - {name: b, emptyDir: {medium: Tape}}
              containers:
                - name: one
                  image: busybox
                  command: [/bin/true]
                  env: [{name: "1x", value: a}, {name: OK, valueFrom: {}}]
                  volumeMounts: [{name: a, mountPath: /proc}, {name: nope, mountPath: /m}]
                - name: two
                  image: busybox
                  resources: {limits: {memory: 1Ki, gpus: 1}}

            """
        let (_, errors) = try ManifestSet.parseCollecting(yaml, file: "pod.yaml")
        let fields = errors.map(\.field)
        #expect(fields == [
            "spec.restartPolicy",
            "spec.securityContext.fsGroup", "spec.securityContext.runAsUser",
            "spec.volumes[0].hostPath", "spec.volumes[1].emptyDir.medium",
            "spec.containers[0].env[0].name", "spec.containers[0].env[1].valueFrom",
            "spec.containers[0].volumeMounts[0].mountPath", "spec.containers[0].volumeMounts[1].name",
            "spec.containers[1]", "spec.containers[1].resources.limits.memory", "spec.containers[1].resources.limits.gpus",
        ], "\(errors.map(\.description).joined(separator: "\n"))")
        // A mount of volume a, refused for its hostPath, is not also "no volume named a".
        #expect(!errors.contains { $0.message.contains("no volume named \"a\"") })
        let lines = errors.compactMap(\.line)
        #expect(lines == lines.sorted() && lines.count == errors.count, "\(errors)")
    }

    /// A valid manifest has no errors, and a document of another kind keeps its first error.
    @Test func validManifestAndOtherKinds() throws {
        let (set, errors) = try ManifestSet.parseCollecting(podYAML(), file: "pod.yaml")
        #expect(errors.isEmpty && set.pods.count == 1, "\(errors)")
        let quota = "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec: {hard: {cpu: x}}\n---\n" + Self.threeErrors
        let (_, more) = try ManifestSet.parseCollecting(quota, file: "all.yaml")
        #expect(more.count == 4 && more[0].field.hasPrefix("spec.hard") && more.dropFirst().map(\.line) == [12, 14, 17], "\(more)")
    }

    /// At most `ConfigError.listLimit` errors are listed, then how many more: a hostile
    /// manifest cannot flood the terminal or the report.
    @Test func theListIsCapped() throws {
        var yaml = podYAML(container: "    env:\n")
        for i in 0..<60 { yaml += "    - {name: \"\(i)bad\", value: x}\n" }
        let (_, errors) = try ManifestSet.parseCollecting(yaml, file: "pod.yaml")
        #expect(errors.count == 60)
        let listed = ConfigError.listing(errors)
        #expect(listed.count == ConfigError.listLimit + 1 && ConfigError.listLimit == 50)
        #expect(listed.last == "and 10 more")
        #expect(listed.first == errors[0].description)
        #expect(ConfigError.listing(Array(errors.prefix(3))).count == 3)
    }
}
