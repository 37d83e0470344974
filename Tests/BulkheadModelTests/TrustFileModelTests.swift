import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Issue 12, item 4, the pure half: a manifest's author does not choose which of the node's
/// files root reads, and a parse error about a file root read need not show its text.
@Suite struct TrustFileModelTests {
    let sc = "    securityContext:\n      seccompProfile: {type: Localhost, localhostProfile: %@}\n"

    func container(_ lp: String) -> String { sc.replacingOccurrences(of: "%@", with: lp) }

    /// An absolute `localhostProfile` or one with `..`: refused with a field error (before the fix
    /// accepted, and read as root at launch).
    @Test(arguments: ["/etc/shadow", "../../../../etc/shadow", "profiles/../../x.json", ".."])
    func manifestLocalhostProfileIsRelativeToTheSeccompRoot(path: String) {
        expectConfigError(field: "spec.containers[0].securityContext.seccompProfile.localhostProfile", contains: "seccomp root") { () throws(ConfigError) in
            try PodManifestParser.parse(podYAML(container: container(path)), file: "pod.yaml")
        }
        expectConfigError(field: "spec.securityContext.seccompProfile.localhostProfile", contains: "seccomp root") { () throws(ConfigError) in
            try PodManifestParser.parse(podYAML(spec: "  securityContext:\n    seccompProfile: {type: Localhost, localhostProfile: \"\(path)\"}\n"), file: "pod.yaml")
        }
    }

    @Test func manifestRelativeLocalhostProfileIsMarked() throws {
        let p = try PodManifestParser.parse(podYAML(container: container("profiles/web.json")), file: "/m/pod.yaml")
        #expect(p.containers[0].securityContext.seccomp == .localhost(path: "profiles/web.json", relativeTo: ProfileLayer.seccompRootMarker))
    }

    /// `bulkhead.dev/profile` takes a name, not a path (before the fix: any file, read as root).
    @Test(arguments: ["/etc/shadow", "../x", "./restricted", "shadow.yaml", "a/b", ".hidden"])
    func profileAnnotationTakesANameOnly(value: String) {
        expectConfigError(field: "metadata.annotations.bulkhead.dev/profile", contains: "expected a profile name") { () throws(ConfigError) in
            try PodManifestParser.parse(podYAML(annotations: "    bulkhead.dev/profile: \"\(value)\"\n"), file: "pod.yaml")
        }
        expectConfigError(field: "metadata.annotations.bulkhead.dev/profile.app", contains: "expected a profile name") { () throws(ConfigError) in
            try PodManifestParser.parse(podYAML(annotations: "    bulkhead.dev/profile.app: \"\(value)\"\n"), file: "pod.yaml")
        }
    }

    /// A layer profile's relative localhostProfile may not climb out of the profile's directory.
    @Test func profileLocalhostProfileStaysInItsDirectory() {
        expectConfigError(field: "securityContext.seccompProfile.localhostProfile", contains: "may not contain \"..\"", file: "/p/p.yaml") { () throws(ConfigError) in
            try ProfileParser.parse("securityContext:\n  seccompProfile: {type: Localhost, localhostProfile: ../../etc/shadow}\n", file: "/p/p.yaml")
        }
    }

    /// /etc/shadow's shape (a plain multi-line scalar) parsed as a profile: the error without
    /// content names the file, line and column, and none of the text.
    @Test func errorWithoutContentShowsNoText() {
        let text = "root:$6$abcdefgh$secretsecrethash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
        do {
            _ = try ProfileParser.parse(text, file: "/etc/shadow")
            Issue.record("parsed")
        } catch {
            #expect(error.description.contains("secrethash"), "the full message (for a file everyone can read) should say what was found")
            let e = error.withoutContent()
            #expect(!e.description.contains("secrethash") && !e.description.contains("daemon"), "\(e)")
            #expect(e.description.hasPrefix("/etc/shadow:1:") && e.description.contains("column"), "\(e)")
        }
        do {
            _ = try ProfileParser.parse("apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\ntoken-abc123: x\n", file: "/p.yaml")
            Issue.record("parsed")
        } catch {
            let e = error.withoutContent()
            #expect(!e.description.contains("token-abc123"), "\(e)")
        }
    }
}
