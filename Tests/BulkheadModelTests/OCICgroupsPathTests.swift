import BulkheadConfig
import Foundation
import Testing
@testable import BulkheadModel

/// `linux.cgroupsPath` (OCICgroupsPath, decoded by OCIConfig): what the engines send is
/// accepted; a path into bulkhead's own cgroup tree, shaped like its sandbox leaves, or whose
/// names escape or are unbounded is refused naming the field, never echoing the path.
struct OCICgroupsPathTests {
    static func decode(_ path: String) throws(ConfigError) -> OCIConfig {
        try OCIConfig.decode(OCIConfigTests.config(linux: "\"cgroupsPath\": \"\(path)\""), bundle: "/b")
    }

    /// containerd's CRI (`/k8s.io/<id>`) and ctr (`/default/<id>`), podman's cgroupfs manager
    /// (`/libpod_parent/libpod-<id>`), the kubelet's cgroupfs pods, and no path at all.
    @Test(arguments: [
        ("/k8s.io/4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0", ["k8s.io", "4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0"]),
        ("/default/my-ctr_1", ["default", "my-ctr_1"]),
        ("/libpod_parent/libpod-0123abcd", ["libpod_parent", "libpod-0123abcd"]),
        ("/kubepods/burstable/pod1b4e28ba-2fa1-11d2-883f-0016d3cca427/abc", ["kubepods", "burstable", "pod1b4e28ba-2fa1-11d2-883f-0016d3cca427", "abc"]),
        ("/bulkhead-engine/c-12-x", ["bulkhead-engine", "c-12-x"]),
    ])
    func engineFormsAreAccepted(_ path: String, _ components: [String]) throws {
        let c = try Self.decode(path)
        #expect(c.cgroupsPath == path)
        #expect(c.cgroupsPathComponents == components)
    }

    @Test func emptyMeansBulkheadsOwnPlace() throws {
        let c = try Self.decode("")
        #expect(c.cgroupsPath == nil && c.cgroupsPathComponents == nil)
    }

    /// Each refusal names linux.cgroupsPath and what to send, never the path given.
    @Test(arguments: [
        // bulkhead's own tree: the v2 base at the root, a v1 base under a launcher's own cgroup,
        // another tenant's directory, bulkhead's OCI directory.
        "/bulkhead/SECRET/c1", "/user.slice/SECRET/bulkhead/default/x", "/bulkhead", "/bulkhead/oci/SECRET",
        // shaped like a sandbox leaf or a pod's cgroup, anywhere.
        "/SECRET/c-1234-5678-9", "/c-1-2-3", "/SECRET/pod@123-456",
        // escaping or unbounded names.
        "/SECRET/../../x", "/SECRET/./x", "/SECRET//x", "/SECRET/x/", "//SECRET", "/SECRET/cgroup.procs",
        "/SECRET/" + String(repeating: "a", count: 256), "/SECRET" + String(repeating: "/a", count: 16),
        "/SECRET/a b", "/SECRET/\\u0001x", "/SECRET/\\u00e9", "/SECRET/a:b", "/SECRET/\\u0000",
        // relative, the root, systemd's form (podman's default machine.slice:libpod:<id>).
        "SECRET/x", "/", "machine.slice:libpod:SECRET", "system.slice:SECRET:x",
    ])
    func refusedNamingTheField(_ path: String) throws {
        do {
            _ = try Self.decode(path)
            Issue.record("accepted: \(path)")
        } catch {
            #expect(error.field == "linux.cgroupsPath", "\(error)")
            #expect(!error.message.contains("SECRET"), "\(error.message)")
            #expect(error.message.contains("give") || error.message.contains("configure") || error.message.contains("name the cgroup"), "names the fix: \(error.message)")
        }
    }

    @Test func sixteenLevelsAreTheBound() throws {
        let path = String(repeating: "/a", count: OCICgroupsPath.maxDepth)
        #expect(try Self.decode(path).cgroupsPathComponents?.count == 16)
    }
}
