import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Red team of issue 12 (files, admission): attacks by a manifest author on what launchSpec and
/// admission let through. Each test failed on 0739fca.
@Suite struct RedTeamModelTests {
    /// `bulkhead.dev/rootfs: /` names the host's root as a "root filesystem directory": on
    /// 0739fca the writable-host-root rule (`root == .host`) did not see it, and a pod of the
    /// default namespace (baseline) with `readOnlyRootFilesystem: false` got the host's root
    /// bound read-write (it created /var/tmp/red-pwned on the host as uid 2000065537).
    @Test(arguments: ["/", "//", "/.", "/./."])
    func podCannotNameTheHostRootAsAWritableRootfs(_ root: String) throws {
        let yaml = podYAML(container: "    securityContext: {readOnlyRootFilesystem: false}\n",
                           annotations: "    bulkhead.dev/rootfs: \"\(root)\"\n")
        do {
            let s = try PodManifestParser.parse(yaml, file: "pod.yaml").launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers)
            Issue.record("rootfs \(root) with readOnlyRootFilesystem: false was accepted: root \(s.containers[0].effective.root), read-only \(s.containers[0].effective.readOnlyRootFilesystem)")
        } catch {
            // Refused twice over: a pod's rootfs is under the node's image store, and the host's
            // root is never writable in a pod.
            #expect(error.message.contains("under /var/lib/bulkhead/rootfs") || error.message.contains("a pod never writes to the host's root"), "\(error)")
        }
    }

    /// The same through a profile's `filesystem.root: /`.
    @Test func profileRootSlashIsTheHostRoot() throws {
        let layer = try ProfileParser.parse("""
            apiVersion: bulkhead.dev/v1alpha1
            kind: LayerProfile
            filesystem: {root: /}
            """, file: "p.yaml")
        #expect(layer.root == .host)
    }
}
