@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Red team of issue 12 (files root reads or writes for a user), attacked again after the fix:
/// a local unprivileged user (`nobody`) plants links where root writes; whoever names a file
/// gets root to show a file they cannot read. Each test failed on 0739fca.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamFilesTests {
    static let nobody: uid_t = 65534
    let t = TrustFileTests()

    /// A root-only directory holding a root-only `report.json` (the victim).
    func victim() throws -> (dir: String, file: String) {
        let dir = try t.scratch()
        chmod(dir, 0o700)
        let file = dir + "/report.json"
        try t.write("root-only content\n", file, mode: 0o600)
        return (dir, file)
    }

    /// `--report /tmp/shared/out/report.json` (and `seccomp export -o`, and a relative
    /// `out/report.json` run from a directory nobody owns) where nobody made `out` a symlink to a
    /// root-only directory. Only the last component was checked on 0739fca: root followed
    /// nobody's link on the way and truncated and overwrote /root-only-dir/report.json.
    @Test(arguments: [false, true])
    func outputDoesNotFollowAnotherUsersLinkOnTheWay(relative: Bool) throws {
        let v = try victim()
        let shared = try t.scratch()
        defer { for d in [v.dir, shared] { try? FileManager.default.removeItem(atPath: d) } }
        if relative { chown(shared, Self.nobody, Self.nobody) } else { chmod(shared, 0o1777) }
        symlink(v.dir, shared + "/out")
        lchown(shared + "/out", Self.nobody, Self.nobody)
        let path = relative ? "out/report.json" : shared + "/out/report.json"
        for args in [["run", "--report", path, "--", "/bin/true"], ["seccomp", "export", "--profile", "container", "-o", path]] {
            let r = try t.bulkhead(args, cwd: shared)
            #expect(r.status != 0, "\(args[0]) wrote through nobody's link")
            // Refused for nobody's link or directory (named), not for some other reason.
            #expect(r.stderr.contains("uid \(Self.nobody)"), "\(args[0]): \(r.stderr)")
            #expect(try String(contentsOfFile: v.file, encoding: .utf8) == "root-only content\n", "\(args[0]) overwrote the root-only file")
        }
    }

    /// A file readable by everyone by its mode, in a directory only root can enter (/root/x.yaml
    /// mode 0644 in /root 0700): nobody can read it, yet on 0739fca `isPrivate` looked at the
    /// file's mode only, so `run --profile` echoed its first line in the error and
    /// `profile show` printed it whole.
    @Test func fileInARootOnlyDirectoryIsPrivate() throws {
        let dir = try t.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o700)
        let file = dir + "/shadow-copy"
        try t.write("root:$6$REDTEAMSECRETHASH:19000:0:99999:7:::\n", file, mode: 0o644)
        for args in [["run", "--profile", file, "--", "/bin/true"], ["profile", "show", file], ["profile", "lint", file]] {
            let r = try t.bulkhead(args)
            #expect(!(r.stdout + r.stderr).contains("REDTEAMSECRET"), "\(args[0...1]) shows the file: \(r.stdout) \(r.stderr)")
            // Refused as a private file, not for some other reason that would also show nothing.
            #expect(r.status != 0 && r.stderr.contains("not readable by everyone"), "\(args[0...1]): \(r.status) \(r.stderr)")
        }
    }

    /// A pod of the default namespace (baseline) names the host's root as its root filesystem
    /// directory, writable: `bulkhead.dev/rootfs: /` with `readOnlyRootFilesystem: false`. On
    /// 0739fca it ran with the host's root bound read-write and created a file in the host's
    /// /var/tmp (as uid 2000065537); a pod never writes to the host's root.
    @Test func podCannotWriteTheHostRootThroughRootfsSlash() throws {
        let dir = try t.scratch()
        let marker = "/var/tmp/bh-red-\(token())"
        defer { try? FileManager.default.removeItem(atPath: dir); unlink(marker) }
        let pod = dir + "/pod.yaml"
        try t.write("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: red-rootfs
              annotations: {bulkhead.dev/network: none, bulkhead.dev/rootfs: "/"}
            spec:
              restartPolicy: Never
              containers:
                - name: c
                  image: busybox
                  securityContext: {readOnlyRootFilesystem: false}
                  command: [/bin/sh, -c, "touch \(marker)"]
            """, pod)
        let r = try t.bulkhead(["pod", "run", pod], timeout: 60)
        #expect(r.status != 0, "the pod ran on a writable host root")
        #expect(access(marker, F_OK) != 0, "the pod created \(marker) on the host")
        #expect(r.stderr.contains("under /var/lib/bulkhead/rootfs") || r.stderr.contains("a pod never writes to the host's root"), "\(r.stderr)")
    }

    /// A profile's `userNamespace.hostIDRange` or a Tenant's `spec.hostIDRange` that covers a
    /// local account: "65533:3" maps the sandbox's root onto host uid 65534 (nobody). On 0739fca
    /// only the range's own owner, uid 0 and bulkhead's own ranges were kept out, so the workload
    /// ran as nobody and read nobody's mode-0600 file through the read-only host root (and nobody
    /// could signal or ptrace it). Ranges must stay clear of the host's own accounts (0-65535).
    @Test(arguments: [false, true])
    func rangeCannotMapALocalAccount(pod: Bool) throws {
        let dir = "/var/tmp/bh-red-\(token())"
        mkdir(dir, 0o755)
        chmod(dir, 0o755)
        let scratch = try t.scratch()
        defer { for d in [dir, scratch] { try? FileManager.default.removeItem(atPath: d) } }
        let secret = dir + "/nobody-secret"
        try t.write("NOBODY-PRIVATE\n", secret, mode: 0o600, owner: Self.nobody)
        let r: (status: Int32, stdout: String, stderr: String)
        if pod {
            try t.write("""
                apiVersion: bulkhead.dev/v1alpha1
                kind: Tenant
                metadata: {name: team-red}
                spec:
                  hostIDRange: "65533:3"
                  secretsDirectory: /var/lib/bulkhead/secrets/team-red
                """, scratch + "/tenant.yaml")
            try t.write("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: red-range
                  namespace: team-red
                  annotations: {bulkhead.dev/network: none}
                spec:
                  restartPolicy: Never
                  containers:
                    - name: c
                      image: busybox
                      command: [/bin/cat, \(secret)]
                """, scratch + "/pod.yaml")
            r = try t.bulkhead(["pod", "run", scratch + "/pod.yaml", scratch + "/tenant.yaml"], timeout: 60)
        } else {
            try t.write("""
                apiVersion: bulkhead.dev/v1alpha1
                kind: LayerProfile
                extends: container
                userNamespace: {hostIDRange: "65533:3"}
                """, scratch + "/p.yaml")
            r = try t.bulkhead(["run", "--profile", scratch + "/p.yaml", "--", "/bin/cat", secret])
        }
        #expect(!r.stdout.contains("NOBODY-PRIVATE"), "the workload ran as nobody and read nobody's file")
        #expect(r.status != 0)
        #expect(r.stderr.contains("host's own accounts"), "\(r.stderr)")
    }

    /// A kernel file whose content depends on who reads it: /proc/PID/maps of a root process is
    /// mode 0444, yet nobody gets EACCES (the kernel checks ptrace access at open). On 0739fca
    /// `isPrivate` trusted the mode, so `profile show` printed root's memory map (its ASLR
    /// layout) and `run --profile` and `profile lint` quoted it in their errors.
    @Test func procfsFileIsPrivate() throws {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let maps = "/proc/\(sleeper.processIdentifier)/maps"
        for args in [["profile", "show", maps], ["run", "--profile", maps, "--", "/bin/true"], ["profile", "lint", maps]] {
            let r = try t.bulkhead(args)
            #expect(!(r.stdout + r.stderr).contains("r-xp"), "\(args[0...1]) shows root's memory map: \((r.stdout + r.stderr).prefix(200))")
            // Refused as a private file, not for some other reason that would also show nothing.
            #expect(r.status != 0 && r.stderr.contains("not readable by everyone"), "\(args[0...1]): \(r.status) \(r.stderr)")
        }
    }
}
