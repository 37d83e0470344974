import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The red team's attacks on mount points that need not exist (`makeMountPoint`: a read-only
/// parent covered by a tmpfs copy of itself) and on `--tty`'s pty (issue 15).
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct RedTeamMountTests {
    /// The host uid of the sandbox's root in plain `run` (the plan's "# uid_map: 0 HOST COUNT").
    static func hostRoot() throws -> UInt32 {
        let plan = try Bulkhead.run(["profile", "show", "container", "--plan"]).stdout
        let mapLine = try #require(plan.split(separator: "\n").first { $0.hasPrefix("# uid_map: ") }, "\(plan)")
        return try #require(mapLine.split(separator: " ").dropFirst(3).first.flatMap { UInt32($0) }, "\(mapLine)")
    }

    /// A directory to bind read-only holding `u/` (0700, the sandbox's uid 1000) with a 0644
    /// file: only uid 1000 may enter `u`, not the sandbox's root without capabilities.
    @Test("A tmpfs copy of a read-only directory grants no sandbox id more than the directory did: a 0700 directory of uid 1000 stays closed to root and open to uid 1000")
    func coverKeepsTheDirectorysOwner() throws {
        let host = try Self.hostRoot()
        let outer = NSTemporaryDirectory() + "bh-rtm-\(token())", inner = NSTemporaryDirectory() + "bh-rtm-in-\(token())"
        defer { for d in [outer, inner] { try? FileManager.default.removeItem(atPath: d) } }
        for d in [outer, inner] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false); chmod(d, 0o755) }
        try FileManager.default.createDirectory(atPath: outer + "/u", withIntermediateDirectories: false)
        try "private-of-1000\n".write(toFile: outer + "/u/secret", atomically: true, encoding: .utf8)
        chmod(outer + "/u/secret", 0o644)
        chmod(outer + "/u", 0o700)
        for p in [outer + "/u", outer + "/u/secret"] { chown(p, host + 1000, host + 1000) }
        let name = "/bhrtm-\(token())"
        let binds = ["--bind", "\(outer):\(name):ro", "--bind", "\(inner):\(name)/u/cache:ro"]
        let script = "cat \(name)/u/secret; stat -c mode:%a:%u:%g \(name)/u; grep -c ' \(name)/u/cache ' /proc/self/mountinfo"
        // Without the cover, root (no capabilities) is refused and uid 1000 reads its file.
        let plainRoot = try Bulkhead.run(["run", "--bind", "\(outer):\(name):ro", "--", "/bin/sh", "-c", "cat \(name)/u/secret"])
        #expect(!plainRoot.stdout.contains("private-of-1000"), "\(plainRoot.stdout)")
        let asRoot = try Bulkhead.run(["run"] + binds + ["--", "/bin/sh", "-c", script])
        #expect(asRoot.status == 0, "\(asRoot.status) \(asRoot.stderr)")
        #expect(!asRoot.stdout.contains("private-of-1000"), "the cover gave uid 1000's directory to root: \(asRoot.stdout)")
        #expect(asRoot.stdout.contains("mode:700:1000:1000\n1\n"), "\(asRoot.stdout)")
        let asOwner = try Bulkhead.run(["run", "--user", "1000"] + binds + ["--", "/bin/sh", "-c", script])
        #expect(asOwner.status == 0, "\(asOwner.status) \(asOwner.stderr)")
        #expect(asOwner.stdout.hasPrefix("private-of-1000\nmode:700:1000:1000\n1\n"), "the owner lost its directory: \(asOwner.stdout) \(asOwner.stderr)")
        #expect(FileIO.listDirectory(outer + "/u").sorted() == ["secret"], "the directory on disk was written")
    }

    /// The profile's /run and /tmp tmpfs hide the host's sockets (connecting needs only write
    /// permission on the socket, which a read-only mount does not take away). `--tmpfs` replaced
    /// the profile's whole list, so any `--tmpfs` (now also one under /run, which makeMountPoint
    /// made in a copy of the host's /run) gave the workload the host's /run and /tmp back.
    @Test("--tmpfs and --bind add to the profile's mounts: its /run and /tmp stay the sandbox's own tmpfs, a target under /run is made there")
    func tmpfsFlagKeepsTheProfilesRun() throws {
        let r = try Bulkhead.run(["run", "--tmpfs", "/bhrtm-scratch-\(token())", "--tmpfs", "/run/bhx", "--",
                                  "/bin/sh", "-c", "stat -f -c %T /run /tmp; ls -A /run"])
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(r.stdout == "tmpfs\ntmpfs\nbhx\n", "the host's /run or /tmp is in the sandbox: \(r.stdout)")
    }

    @Test("Flags' mounts are merged by path: a profile's other binds and tmpfs stay, one for the same path is replaced")
    func mountFlagsMergeByPath() throws {
        var base = ProfileLayer()
        base.binds = [BindMount(source: "/a", destination: "/x", readOnly: true), BindMount(source: "/b", destination: "/y", readOnly: true)]
        base.tmpfs = [TmpfsMount(path: "/tmp"), TmpfsMount(path: "/run", optional: true)]
        var flags = CommandLineLayer()
        flags.binds = ["/c:/x:ro"]
        flags.tmpfs = ["/scratch", "/tmp:1Mi"]
        let p = try EffectiveProfile.resolve([base, try flags.layer(environment: [:], currentDirectory: "/")])
        #expect(p.binds.map { "\($0.source):\($0.destination)" } == ["/b:/y", "/c:/x"])
        #expect(p.tmpfs.map(\.path) == ["/run", "/scratch", "/tmp"])
        #expect(p.tmpfs.last?.sizeBytes == 1 << 20)
        #expect(try CommandLineLayer().layer(environment: [:], currentDirectory: "/") == ProfileLayer())
    }

    /// A mount point is made one component at a time, on disk where the parent is writable: a
    /// name the kernel refuses (over NAME_MAX) failed the launch after its first components
    /// had been made in a writable bind's directory, and they stayed there.
    @Test("A target with a component over 255 bytes is refused before anything runs; nothing is made in a writable bind")
    func overlongComponentIsRefusedBeforeTheLaunch() throws {
        let w = NSTemporaryDirectory() + "bh-rtm-w-\(token())", src = NSTemporaryDirectory() + "bh-rtm-s-\(token())"
        defer { for d in [w, src] { try? FileManager.default.removeItem(atPath: d) } }
        for d in [w, src] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false) }
        chmod(w, 0o777)
        chmod(src, 0o755)
        let long = String(repeating: "a", count: 256)
        let r = try Bulkhead.run(["run", "--bind", "\(w):/w:rw", "--bind", "\(src):/w/a/b/\(long):ro", "--", "/bin/true"])
        #expect(r.status == 125, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("255"), "\(r.stderr)")
        #expect(FileIO.listDirectory(w).isEmpty, "made on disk by a launch that failed: \(FileIO.listDirectory(w))")
        let tooLong = FieldRules.absolutePath("/x/" + String(repeating: "b/", count: 2000))
        if case .success = tooLong { Issue.record("a 4000-byte path was accepted") }
        let longest = FieldRules.absolutePath("/x/" + String(repeating: "b", count: 255))
        if case .failure(let e) = longest { Issue.record("a 255-byte component was refused: \(e)") }
    }
}
