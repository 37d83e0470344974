@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 12, attacked again after the fix (the launch path: fds, mounts, id ranges). Each test is
/// an attack that went through on 0739fca.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamLaunchTests {
    static func profileFile(_ body: String) throws -> (path: String, dir: String) { try RootProfileFile.write(body, name: "p") }

    /// Runs `argv` as nobody (65534), no groups.
    static func asNobody(_ script: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/sh", "-c", script]
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    // MARK: (b) the user namespace's owner

    @Test("A profile's range that is none of the built-in ones cannot map the owner of another live sandbox's user namespace")
    func profileRangeMapsAnotherSandboxesOwner() throws {
        // Two profiles, neither overlapping a built-in range: X's range A, and Y's range, which
        // starts one id before A (only the built-in ranges and those of one invocation are
        // checked against each other, HostIdentity.reservedRanges, so Y is accepted). When the
        // owner of X's user namespaces was A's first id, Y's id 1 was that host uid: a host
        // process under it (an escaped workload of Y, or one it left behind) had every
        // capability over X's sandboxes. No uid Y maps may own X's namespace, nor enter it.
        let start = UInt32(3_500_000_000) + UInt32.random(in: 0..<1000) * 131_072
        let x = try Self.profileFile("userNamespace: {hostIDRange: \"\(start):65536\"}\n")
        defer { try? FileManager.default.removeItem(atPath: x.dir) }
        let y = try Self.profileFile("userNamespace: {hostIDRange: \"\(start - 1):65536\"}\n")
        defer { try? FileManager.default.removeItem(atPath: y.dir) }

        let s = try TrustIdentityTests.Running(["--profile", x.path])
        defer { s.stop() }
        let target = try #require(s.sleeper)
        let owner = try #require(TrustIdentityTests.ownerUID(target))
        #expect(owner == IDRange(hostStart: start, count: 65536).ownerHostID && owner >= IDRange.ownerBandStart,
                "X's user namespace is owned by its range's uid in the owner band, not \(owner)")

        let r = try Bulkhead.sh("cat /proc/self/uid_map", ["--profile", y.path])
        let maps = r.stdout.split(separator: "\n").compactMap { line -> (UInt64, UInt64)? in
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            return f.count == 3 ? (f[1], f[2]) : nil
        }
        let mapsOwner = maps.contains { UInt64(owner) >= $0.0 && UInt64(owner) < $0.0 + $0.1 }
        #expect(r.status != 0 || !mapsOwner,
                "profile Y's sandbox maps host uid \(owner), the owner of X's live user namespace: \(r.stdout)")
        // What Y's uids can do to X (the attacker: a host process under a uid Y maps): Y's root,
        // Y's uid 1 (X's first id, the owner before the band) and Y's last id. None may enter.
        let yRange = maps.first ?? (UInt64(start - 1), 65536)
        for uid in [yRange.0, yRange.0 + 1, yRange.0 + yRange.1 - 1] {
            let e = try TrustIdentityTests.asHostUID(uid, ["/usr/bin/nsenter", "--user=/proc/\(target)/ns/user", "--preserve-credentials", "--", "/bin/true"])
            #expect(e.status != 0, "host uid \(uid), mapped by Y, entered X's user namespace with every capability")
        }
    }

    @Test("No host id range maps the host's own accounts (ids below 65536): not a tenant's, not a profile's")
    func rangeOverHostAccounts() throws {
        // A tenant (or profile) author picks any range that does not start at 0: "1:65536" runs
        // the pods' uid 999 as host uid 1000 and owns their user namespace with host uid 1
        // (daemon); pods read the host's root filesystem, so they read those users' private files.
        // Shown on the kernel with a profile: uid 3 inside is host uid 65534 (nobody), and reads
        // a file only nobody may read.
        let dir = "/var/tmp/bh-redlow-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chown(dir, 65534, 65534)
        let secret = "nobody-\(token())"
        #expect(try Self.asNobody("umask 077; echo \(secret) > \(dir)/s") == 0)
        let low = try Self.profileFile("userNamespace: {hostIDRange: \"65530:10\"}\n")
        defer { try? FileManager.default.removeItem(atPath: low.dir) }
        let r = try Bulkhead.sh("cat \(dir)/s", ["--profile", low.path, "--user", "3:3"])
        #expect(!r.stdout.contains(secret), "the sandbox's uid 3 is host uid 65534 and read its private file")
        #expect(r.status == 125, "\(r.stderr)")
        #expect(r.stderr.contains("hostIDRange"), "\(r.stderr)")

        // A tenant's range, as `pod run` loads it (no pod is started).
        let mdir = "/var/tmp/bh-redlow-\(token())"
        try FileManager.default.createDirectory(atPath: mdir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: mdir) }
        try """
            apiVersion: bulkhead.dev/v1alpha1
            kind: Tenant
            metadata: {name: team-low}
            spec: {hostIDRange: "1:65536", allowedProfiles: [container], secretsDirectory: /var/lib/bulkhead/secrets/team-low}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: p, namespace: team-low}
            spec:
              containers:
              - {name: c, image: x, command: ["true"]}

            """.write(toFile: mdir + "/pod.yaml", atomically: true, encoding: .utf8)
        do {
            let l = try PodLoader.load(files: [mdir + "/pod.yaml"])
            Issue.record("a tenant range over the host's accounts was accepted: uid map \(l.admission.hostIDRange.idMap.line)")
        } catch {
            #expect(error.description.contains("hostIDRange"), "\(error)")
        }
    }

    // MARK: (a)/(d) bind sources

    @Test("A bind source is not followed through a link or a directory another user controls")
    func bindSourceThroughAnotherUsersPath() throws {
        // Root runs a sandbox that binds a path under a directory a local user owns (here nobody).
        // That user replaces the source by a link to a host directory of their choosing (or swaps
        // the directory itself between the planner's realpath and the init's open_tree): the
        // sandbox gets that host directory. Root followed a path a user controls, unchecked.
        let base = "/tmp/bh-redbind-\(token())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: base) }
        chown(base, 65534, 65534)
        #expect(try Self.asNobody("ln -s /etc \(base)/link && mkdir \(base)/dir && echo mine > \(base)/dir/f") == 0)
        let host = (FileIO.read("/etc/hostname") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!host.isEmpty)

        let viaLink = try Bulkhead.sh("cat /mnt/hostname; echo RAN", ["--bind", "\(base)/link:/mnt:ro"])
        #expect(!viaLink.stdout.contains("RAN"), "the sandbox got the host's /etc through nobody's link: \(viaLink.stdout)")
        #expect(viaLink.status == 125, "\(viaLink.stderr)")
        #expect(viaLink.stderr.contains("bind"), "\(viaLink.stderr)")

        // No link at all: the directory lies in one nobody can rename entries of, so what root
        // checked is not what the init binds later.
        let viaDir = try Bulkhead.sh("cat /mnt/f; echo RAN", ["--bind", "\(base)/dir:/mnt:ro"])
        #expect(!viaDir.stdout.contains("RAN"), "root bound a directory whose parent another user can write: \(viaDir.stdout)")
        #expect(viaDir.status == 125, "\(viaDir.stderr)")

        // Root's own directory still binds.
        let mine = NSTemporaryDirectory() + "bh-redbind-ok-\(token())"
        try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: mine) }
        try "ok\n".write(toFile: mine + "/f", atomically: true, encoding: .utf8)
        let ok = try Bulkhead.sh("cat /mnt/f", ["--bind", "\(mine):/mnt:ro"])
        #expect(ok.status == 0 && ok.stdout.contains("ok"), "\(ok.stdout) \(ok.stderr)")
        let okFile = try Bulkhead.sh("cat /tmp/f", ["--bind", "\(mine)/f:/tmp/f:ro"])
        #expect(okFile.status == 0 && okFile.stdout.contains("ok"), "\(okFile.stdout) \(okFile.stderr)")
    }

    // MARK: (d) output files

    @Test("--report does not follow a directory link another user planted on the way to the file")
    func reportThroughAnotherUsersDirectoryLink() throws {
        // Root writes `--report /tmp/<nobody's dir>/x/report.json`; nobody makes x a link to a
        // root-only directory. The final component is no link and the file there is root's own,
        // so the checks on the last component pass: root's file is truncated and overwritten
        // (and a missing one is created in a directory nobody chose).
        let victim = "/var/tmp/bh-redout-victim-\(token())"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: victim) }
        try "root-only content\n".write(toFile: victim + "/report.json", atomically: false, encoding: .utf8)
        chmod(victim + "/report.json", 0o600)
        let base = "/tmp/bh-redout-\(token())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: base) }
        chown(base, 65534, 65534)
        #expect(try Self.asNobody("ln -s \(victim) \(base)/x") == 0)

        let r = try Bulkhead.run(["run", "--report", base + "/x/report.json", "--", "/bin/true"])
        #expect(try String(contentsOfFile: victim + "/report.json", encoding: .utf8) == "root-only content\n",
                "root's file was overwritten through nobody's directory link")
        #expect(r.stderr.contains("65534"), "the refusal names the other user: \(r.stderr)")
        _ = try Bulkhead.run(["run", "--report", base + "/x/new.json", "--", "/bin/true"])
        #expect(!FileManager.default.fileExists(atPath: victim + "/new.json"), "root created a file in a directory nobody chose")
    }
}
