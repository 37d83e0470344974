import Foundation
import Glibc
import Testing
import BulkheadModel

/// Issue 15: `--group-add` and a profile's `securityContext.supplementalGroups`, read inside the
/// sandbox from /proc/self/status and `id -G` on the real kernel. The flag adds to the profile's
/// list, as docker's `--group-add` adds to the image user's groups.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct GroupAddTests {
    /// The `Groups:` line of /proc/self/status and `id -G`, as the workload prints them.
    static let script = "grep '^Groups:' /proc/self/status; id -G"

    /// The gids the kernel reports for the workload (sorted by the kernel), from `Groups:`.
    static func groups(_ out: String) -> [String] {
        let line = out.split(separator: "\n").first { $0.hasPrefix("Groups:") } ?? ""
        return line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    static func profile(_ groups: String) throws -> String {
        let path = NSTemporaryDirectory() + "bh-groups-\(UUID().uuidString).yaml"
        try """
        apiVersion: bulkhead.dev/v1alpha1
        kind: LayerProfile
        metadata: {name: groups}
        extends: container
        securityContext:
          supplementalGroups: \(groups)
        """.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        return path
    }

    @Test("--group-add 10 --group-add 20: the workload's supplementary groups are 10 and 20 (/proc/self/status, id -G)")
    func flagSetsGroups() throws {
        let r = try Bulkhead.sh(Self.script, ["--group-add", "10", "--group-add", "20"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.groups(r.stdout) == ["10", "20"], "\(r.stdout)")
        let idG = r.stdout.split(separator: "\n").last.map { Set($0.split(separator: " ").map(String.init)) }
        #expect(idG == ["0", "10", "20"], "id -G: the primary group 0, then 10 and 20: \(r.stdout)")
        // Without the flag: none (the launcher's are dropped).
        let none = try Bulkhead.sh(Self.script)
        #expect(none.status == 0 && Self.groups(none.stdout).isEmpty, "\(none.stdout) \(none.stderr)")
    }

    @Test("A profile's securityContext.supplementalGroups sets them; --group-add adds to the profile's (as docker adds to the image's)")
    func profileAndFlag() throws {
        let p = try Self.profile("[30, 40]")
        defer { unlink(p) }
        let r = try Bulkhead.sh(Self.script, ["--profile", p])
        #expect(r.status == 0 && Self.groups(r.stdout) == ["30", "40"], "\(r.stdout) \(r.stderr)")
        let both = try Bulkhead.sh(Self.script, ["--profile", p, "--group-add", "10", "--group-add", "40"])
        #expect(both.status == 0 && Self.groups(both.stdout) == ["10", "30", "40"], "\(both.stdout) \(both.stderr)")
        // With a uid switch the primary group stays among them, as before.
        let user = try Bulkhead.sh(Self.script, ["--profile", p, "--user", "1000:1000"])
        #expect(user.status == 0 && Self.groups(user.stdout) == ["30", "40", "1000"], "\(user.stdout) \(user.stderr)")
    }

    @Test("Refused before anything runs (exit 125, naming the flag): an unmapped gid, 33 gids, a rootless launcher")
    func refusals() throws {
        let unmapped = try Bulkhead.sh("echo RAN", ["--group-add", "70000"])
        #expect(unmapped.status == 125 && unmapped.stderr.contains("--group-add") && unmapped.stderr.contains("70000") && !unmapped.stdout.contains("RAN"), "\(unmapped.stderr)")
        let many = try Bulkhead.sh("echo RAN", (1...33).flatMap { ["--group-add", "\($0)"] })
        #expect(many.status == 125 && many.stderr.contains("--group-add") && many.stderr.contains("at most 32") && !many.stdout.contains("RAN"), "\(many.stderr)")
        let tooManyInProfile = try Self.profile("[\((1...33).map(String.init).joined(separator: ", "))]")
        defer { unlink(tooManyInProfile) }
        let prof = try Bulkhead.sh("echo RAN", ["--profile", tooManyInProfile])
        #expect(prof.status == 125 && prof.stderr.contains("supplementalGroups") && !prof.stdout.contains("RAN"), "\(prof.stderr)")
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        let rootless = try Bulkhead.sh("echo RAN", ["--group-add", "10", "--limits", "best-effort"], prefix: nobody)
        #expect(rootless.status == 125 && rootless.stderr.contains("rootless sandbox cannot set supplementary groups") && rootless.stderr.contains("--group-add") && !rootless.stdout.contains("RAN"), "\(rootless.stderr)")
        let bad = try Bulkhead.sh("echo RAN", ["--group-add", "-1"])
        #expect(bad.status == 125 && bad.stderr.contains("--group-add") && !bad.stdout.contains("RAN"), "\(bad.stderr)")
    }

    @Test("--group-add NAME is looked up in the rootfs's /etc/group; an unknown name or a symlinked /etc/group is refused without showing the file")
    func names() throws {
        let root = try RootfsTests.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secret = "s3cr3t\(UUID().uuidString.prefix(8))"
        try "root:x:0:\n\(secret) garbage line\nstaff:x:3456:\naudio:x:29:\n".write(toFile: root + "/etc/group", atomically: false, encoding: .utf8)
        let flags = ["--rootfs", root, "--env", "PATH=/bin"]
        let r = try Bulkhead.run(["run"] + flags + ["--group-add", "staff", "--group-add", "29", "--", "/bin/sh", "-c", Self.script])
        #expect(r.status == 0 && Self.groups(r.stdout) == ["29", "3456"], "the rootfs's own /etc/group: \(r.stdout) \(r.stderr)")
        let missing = try Bulkhead.run(["run"] + flags + ["--group-add", "wheel", "--", "/bin/echo", "RAN"])
        #expect(missing.status == 125 && missing.stderr.contains("--group-add") && missing.stderr.contains("wheel") && !missing.stdout.contains("RAN"), "\(missing.stderr)")
        #expect(!missing.stderr.contains(secret), "\(missing.stderr)")
        unlink(root + "/etc/group")
        symlink("/etc/group", root + "/etc/group")
        let link = try Bulkhead.run(["run"] + flags + ["--group-add", "root", "--", "/bin/echo", "RAN"])
        #expect(link.status == 125 && link.stderr.contains("--group-add") && link.stderr.contains("cannot be read") && !link.stdout.contains("RAN"), "\(link.stderr)")
        #expect(!link.stderr.contains("root:x:0"), "\(link.stderr)")
    }

    @Test("--inject-fault step:N at the setgroups step, with --group-add: exit 125, the step named, the workload not run")
    func faultAtSetGroupsFailsClosed() throws {
        let plan = try Bulkhead.run(["profile", "show", "container", "--plan"])
        let steps = plan.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let line = try #require(steps.first { $0.contains("setgroups") }, "\(plan.stdout)")
        let n = try #require(Int(line.drop(while: { $0 == " " }).prefix(while: { $0.isNumber })))
        let r = try Bulkhead.run(["run", "--inject-fault", "step:\(n)", "--group-add", "10", "--group-add", "20", "--", "/bin/echo", "RAN"])
        #expect(r.status == 125 && r.stderr.contains("step \(n) (setgroups [10, 20])") && !r.stdout.contains("RAN"), "\(r.stderr)")
    }
}
