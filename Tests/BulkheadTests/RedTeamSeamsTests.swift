@testable import Bulkhead
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 16 (the seams between the layers), attacked after the merge at 92060e3. Each test is
/// an attack that went through there.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamSeamsTests {
    /// A fresh directory under /tmp owned by root, of `mode`.
    static func scratch(mode: mode_t) throws -> String {
        let dir = "/tmp/bh-seams-\(token())"
        guard mkdir(dir, 0o700) == 0 else { throw SystemError("mkdir \(dir)", errno: .current) }
        chmod(dir, mode)
        return dir
    }

    static func write(_ text: String, _ path: String, mode: mode_t) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
    }

    /// A profile whose only fault shows up after parsing: when the layers are merged (a bind
    /// over /proc), when the launch is prepared (a root directory that does not exist), or when
    /// its seccomp policy is looked up (a file that does not exist). Each names `secret`.
    static let lateFaults: [(String, @Sendable (String) -> String)] = [
        ("a bind over /proc (EffectiveProfile.resolve)", { s in "filesystem:\n  binds:\n  - {source: /tmp, destination: /proc/\(s)}\n" }),
        ("a root directory (Sandbox.prepare)", { s in "filesystem:\n  root: /nonexistent/\(s)\n" }),
        ("a seccomp policy (SeccompSetup)", { s in "securityContext:\n  seccompProfile: {type: Localhost, localhostProfile: \(s).json}\n" }),
    ]

    static func profile(_ body: String) -> String {
        "apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nmetadata: {name: private}\n" + body
    }

    /// "No error shows a byte of a file the author could not read": a root-only profile that
    /// parses cleanly but fails when its layers are merged or the launch is prepared. Before the
    /// fix the merge and the launch preparation threw their messages outside the store's
    /// `parsing(private:)`, so the file's values came back: `cannot bind over /proc/SECRET`,
    /// the root directory's path, the seccomp policy's name. The layers the store hands over
    /// (`RunRequest.layers`, a pod's `ContainerLaunchSpec.layers`) did not say they were private.
    @Test("A root-only profile that fails when merged or prepared shows none of its values; the same file readable by everyone does",
          arguments: 0..<lateFaults.count)
    func privateProfileLaunchErrorsShowNoValue(_ fault: Int) throws {
        let (what, body) = Self.lateFaults[fault]
        let secret = "s3cr3t-\(token())"
        let dir = try Self.scratch(mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/private.yaml"
        try Self.write(Self.profile(body(secret)), file, mode: 0o600)
        let hidden = try Bulkhead.run(["run", "--profile", file, "--", "/bin/true"])
        #expect(hidden.status == ExitStatus.launchFailed, "\(what): \(hidden.stderr)")
        #expect(!hidden.stderr.contains(secret) && !hidden.stdout.contains(secret), "\(what): the private file's value is shown: \(hidden.stderr)")
        #expect(hidden.stderr.contains(file), "\(what): the error does not name the file: \(hidden.stderr)")
        // The control: readable by everyone, its author can read it anyway, and the message is whole.
        chmod(dir, 0o755)
        chmod(file, 0o644)
        let shown = try Bulkhead.run(["run", "--profile", file, "--", "/bin/true"])
        #expect(shown.status == ExitStatus.launchFailed && shown.stderr.contains(secret), "\(what): \(shown.stderr)")
    }

    /// The same through a pod: a root-only profile in the search path, named by a Pod's
    /// `bulkhead.dev/profile` annotation. Admission merges the pod's layer over it
    /// (`PodManifest.launchSpec`) and the merge's error came back with the profile's values.
    @Test("A root-only profile a pod names shows none of its values when the pod's containers are mapped onto it")
    func privateProfileNamedByAPodShowsNoValue() throws {
        let secret = "s3cr3t-\(token())"
        let dir = try Self.scratch(mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "seams-\(token())"
        try Self.write(Self.profile("extends: container\n" + Self.lateFaults[0].1(secret)), "\(dir)/\(name).yaml", mode: 0o600)
        let pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: seams
          annotations: {bulkhead.dev/network: none, bulkhead.dev/profile: \(name)}
        spec:
          restartPolicy: Never
          containers:
          - {name: c, image: x, command: [/bin/true]}

        """
        let files = try PodManifestFiles.write(pod, into: dir)
        let r = try Bulkhead.run(["pod", "run"] + files, env: ["BULKHEAD_PROFILE_PATH": dir + ":" + Bulkhead.packageRoot + "/Profiles"])
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        #expect(!r.stderr.contains(secret) && !r.stdout.contains(secret), "the private profile's value is shown: \(r.stderr)")
        #expect(r.stderr.contains(name), "the error does not name the profile: \(r.stderr)")
    }
}
