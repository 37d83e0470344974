@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 12, item 6 and the identities around it, on the kernel: which host ids a sandbox runs
/// as, who owns its user namespace, and what a host process under the sandbox's mapped root uid
/// (an escaped workload, or one it left behind) can do to the sandbox. The pure rules are
/// BulkheadModelTests/IdentityRangeTests.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct TrustIdentityTests {
    /// NS_GET_OWNER_UID, ioctl_ns(2): _IO(0xb7, 0x4).
    static let nsGetOwnerUID: UInt = 0xb704

    /// A sandbox left running (`sleep`) so that the host can look at it; `flags` go to `run`.
    final class Running {
        let run: BackgroundRun
        let marker = token()
        /// Host pids of the sandbox's processes (its init and the workload), and its user namespace.
        private(set) var pids: [Int32] = []
        private(set) var userNamespace = ""

        init(_ flags: [String] = []) throws {
            // The marker is in the shell's argv: the workload is found by it, in a user namespace
            // other than ours (the launcher has it in its argv too, in ours).
            // The workload's sleep runs from copies the sandbox owns, the dynamic loader included
            // (as an image's binaries in a rootfs of the range's ids would): a program or loader
            // owned by an unmapped host uid (root's /bin/sleep, /lib64/ld-linux...) makes the
            // kernel mark the process non-dumpable with the initial namespace as its mm's owner
            // (fs/exec.c would_dump), which would hide what the namespace's owner can do.
            let loader = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"].first { FileIO.exists($0) } ?? "/lib64/ld-linux-x86-64.so.2"
            run = try BackgroundRun(["run"] + flags + ["--", "/bin/sh", "-c",
                                     "M=\(marker); cp \(loader) /tmp/ld && cp /bin/sleep /tmp/s && /tmp/ld /tmp/s 30; echo $M"])
            let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")
            for _ in 0..<400 {
                let shells = FileIO.listDirectory("/proc").compactMap { Int32($0) }.filter { pid in
                    let cmd = FileIO.read("/proc/\(pid)/cmdline") ?? ""
                    let ns = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/user")) ?? mine
                    return cmd.hasPrefix("/bin/sh\0") && cmd.contains("M=\(marker);") && ns != mine
                }
                if let shell = shells.first, let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(shell)/ns/user") {
                    // Every process of that user namespace: the init, the shell, its sleep.
                    pids = FileIO.listDirectory("/proc").compactMap { Int32($0) }.filter {
                        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/user")) == ns
                    }
                    if sleeper != nil { userNamespace = ns; return }
                }
                usleep(25_000)
            }
            Issue.record("the sandbox's workload did not appear")
        }

        static func comm(_ pid: Int32) -> String {
            (FileIO.read("/proc/\(pid)/comm") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// The workload's shell (the process that exec'd /bin/sh with the marker).
        var shell: Int32? { pids.first { (FileIO.read("/proc/\($0)/cmdline") ?? "").hasPrefix("/bin/sh\0") } }
        /// The workload's own copy of sleep, a process of the sandbox that the kernel lets the
        /// same uid, or a holder of CAP_SYS_PTRACE in the sandbox's user namespace, access.
        var sleeper: Int32? { pids.first { (FileIO.read("/proc/\($0)/cmdline") ?? "").hasPrefix("/tmp/ld\0/tmp/s\0") } }

        func stop() {
            for p in pids { kill(p, SIGKILL) }
            _ = try? run.finish()
        }
    }

    /// The lines of /proc/PID/uid_map (or gid_map) as (inside, outside, count).
    static func idMap(_ pid: Int32, _ file: String) -> [(inside: UInt64, outside: UInt64, count: UInt64)] {
        (FileIO.read("/proc/\(pid)/\(file)") ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            return f.count == 3 ? (f[0], f[1], f[2]) : nil
        }
    }

    static func ownerUID(_ pid: Int32) -> UInt32? {
        let fd = open("/proc/\(pid)/ns/user", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var uid: uid_t = 0
        let rc = withUnsafeMutablePointer(to: &uid) { ioctl(fd, nsGetOwnerUID, $0) }
        return rc == 0 ? uid : nil
    }

    /// The four uids of /proc/PID/status (real, effective, saved, filesystem), host view.
    static func uids(_ pid: Int32) -> [UInt32] {
        guard let s = FileIO.read("/proc/\(pid)/status"), let line = statusField(s, "Uid") else { return [] }
        return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
    }

    /// Runs `argv` on the host as `uid`:`uid` with no groups and no capabilities.
    static func asHostUID(_ uid: UInt64, _ argv: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"] + argv
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test("The user namespace's owner is the range's host uid in the owner band: no process of the sandbox has it, no map contains it; the map is the whole range")
    func ownerIsOutsideTheMaps() throws {
        let s = try Running()
        defer { s.stop() }
        let shell = try #require(s.shell, "the workload runs")
        let uidMap = Self.idMap(shell, "uid_map"), gidMap = Self.idMap(shell, "gid_map")
        #expect(uidMap.count == 1 && gidMap.count == 1, "\(uidMap) \(gidMap)")
        let owner = try #require(Self.ownerUID(shell), "NS_GET_OWNER_UID: \(Errno.current)")
        #expect(owner != 0, "host root does not own the namespace (its inotify budget stays its own)")
        for m in uidMap + gidMap {
            #expect(!(m.outside...(m.outside + m.count - 1)).contains(UInt64(owner)), "owner \(owner) is mapped: \(m)")
            // No range may reach the band, so no sandbox of any range maps an owner.
            #expect(m.outside + m.count <= UInt64(IDRange.ownerBandStart), "map \(m) reaches the owner band")
        }
        // The owner is the range's id in the band: per-user budgets stay per 65,536-id block.
        let m = try #require(uidMap.first)
        #expect(m.inside == 0, "\(m)")
        let range = IDRange(hostStart: UInt32(m.outside), count: UInt32(m.count))
        #expect(owner == IDRange.ownerBandStart + range.hostStart / 65536 && owner == range.ownerHostID, "owner \(owner), map \(m)")
        #expect(owner >= IDRange.ownerBandStart, "owner \(owner) is below the owner band")
        #expect(s.pids.count >= 2, "init and workload: \(s.pids)")
        for pid in s.pids {
            let u = Self.uids(pid)
            #expect(u.count == 4 && !u.contains(owner), "pid \(pid) (\(Running.comm(pid))) runs as \(u), the owner is \(owner)")
        }
    }

    @Test("A host process with the sandbox's mapped root uid cannot enter its user namespace (no handle on it, no setns)")
    func mappedRootCannotSetns() throws {
        // The workload runs as root inside, from its own (dumpable) binary, as the same host uid
        // as the attacker. Opening its namespace file needs ptrace read access, which across user
        // namespaces needs CAP_SYS_PTRACE in the sandbox's (security/commoncap.c
        // cap_ptrace_access_check), and setns needs CAP_SYS_ADMIN there: the namespace's owner
        // has both, so before the owner was moved out of the map this entered the namespace. The
        // map is whole again: the attacker is the range's first host id, which owned the
        // namespace before issue 12.
        let s = try Running()
        defer { s.stop() }
        let target = try #require(s.sleeper)
        let root = try #require(Self.idMap(target, "uid_map").first { $0.inside == 0 }).outside
        #expect(Self.uids(target).first.map(UInt64.init) == root)
        let r = try Self.asHostUID(root, ["/usr/bin/nsenter", "--user=/proc/\(target)/ns/user", "--preserve-credentials", "--", "/bin/true"])
        #expect(r.status != 0, "host uid \(root) entered the sandbox's user namespace")
        #expect(r.stderr.contains(String(cString: strerror(EACCES))) || r.stderr.contains(String(cString: strerror(EPERM))), "\(r.stderr)")
    }

    @Test("A host process with the sandbox's mapped root uid cannot ptrace-access a sandbox process of another uid")
    func mappedRootCannotTrace() throws {
        // The workload runs as uid 1000 inside: a host process as the sandbox's root uid shares
        // no uid with it, so only a capability in the sandbox's user namespace (the owner's)
        // would let it read its memory map or its namespaces (ptrace access mode, ptrace(2);
        // /proc/PID/maps is mode 0444, only the ptrace check guards it).
        let s = try Running(["--user", "1000:1000"])
        defer { s.stop() }
        let shell = try #require(s.sleeper)
        let map = try #require(Self.idMap(shell, "uid_map").first { $0.inside == 0 })
        #expect(Self.uids(shell).first == UInt32(map.outside + 1000), "the workload is uid 1000 inside")
        let r = try Self.asHostUID(map.outside, ["/bin/sh", "-c", "cat /proc/\(shell)/maps >/dev/null && echo READ"])
        #expect(!r.stdout.contains("READ"), "host uid \(map.outside) read the memory map of the sandbox's uid 1000: \(r.stdout)")
        #expect(r.stderr.contains(String(cString: strerror(EACCES))) || r.stderr.contains(String(cString: strerror(EPERM))), "\(r.stderr)")
        // The same host process, against the init (non-dumpable): refused too.
        if let initPID = s.pids.first(where: { $0 != shell && Running.comm($0) != "sleep" }) {
            let i = try Self.asHostUID(map.outside, ["/bin/sh", "-c", "cat /proc/\(initPID)/maps >/dev/null && echo READ"])
            #expect(!i.stdout.contains("READ"), "host uid \(map.outside) read the init's memory map")
        }
        let e = try Self.asHostUID(map.outside, ["/usr/bin/nsenter", "--user=/proc/\(shell)/ns/user", "--preserve-credentials", "--", "/bin/true"])
        #expect(e.status != 0)
    }

    @Test("The gid map is the bulkhead entry of /etc/subgid when there is one, else the same range as the uids; both whole")
    func gidMapFromSubgid() throws {
        // The real files (not edited by the test): with no bulkhead entry in either, both maps
        // are the built-in range; with entries, each map is its own file's.
        let subuid = try? SubordinateIDs.range(in: FileIO.read("/etc/subuid") ?? "", user: "bulkhead", file: "/etc/subuid")
        let subgid = try? SubordinateIDs.range(in: FileIO.read("/etc/subgid") ?? "", user: "bulkhead", file: "/etc/subgid")
        let r = try Bulkhead.sh("cat /proc/self/uid_map /proc/self/gid_map")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let u = (subuid ?? nil) ?? EffectiveProfile.defaultHostIDRange
        let g = (subgid ?? nil) ?? EffectiveProfile.defaultHostIDRange
        #expect(lines.count == 2)
        #expect(lines.first == ["0", "\(u.hostStart)", "\(u.count)"], "\(r.stdout)")
        #expect(lines.last == ["0", "\(g.hostStart)", "\(g.count)"], "\(r.stdout)")
    }

    @Test("A rootless caller's supplementary groups, which it cannot drop, are reported and warned about, never hidden")
    func rootlessSupplementaryGroups() throws {
        let gid: UInt32 = 4242
        let file = "/var/tmp/bh-grp-\(token())"
        try "GROUPSECRET\n".write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        chown(file, 0, gid)
        chmod(file, 0o640)
        let reportPath = NSTemporaryDirectory() + "bh-groups-\(token()).json"
        defer { unlink(reportPath) }
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--groups=\(gid)", "--inh-caps=-all"]
        let r = try Bulkhead.run(["run", "--limits", "best-effort", "--report", reportPath, "--",
                                  "/bin/sh", "-c", "grep ^Groups: /proc/self/status; cat \(file)"], prefix: nobody)
        #expect(r.status == 0, "\(r.stderr)")
        // The kernel: the group is still held (shown as the overflow gid inside) and still reads
        // a file of that group on the host. That is what the report must say.
        #expect(r.stdout.contains("Groups:\t65534"), "\(r.stdout)")
        #expect(r.stdout.contains("GROUPSECRET"), "the kept group grants its access: \(r.stdout)")
        let report = try JSONDecoder().decode(RunReport.self, from: try Data(contentsOf: URL(fileURLWithPath: reportPath)))
        #expect(report.controls.supplementaryGroupsKept == [gid], "\(String(describing: report.controls.supplementaryGroupsKept))")
        #expect(r.stderr.contains("keeps your supplementary groups \(gid)"), "\(r.stderr)")
        // Under --supplementary-groups refuse, nothing runs.
        let strict = try Bulkhead.run(["run", "--limits", "best-effort", "--supplementary-groups", "refuse", "--",
                                       "/bin/sh", "-c", "echo RAN; cat \(file)"], prefix: nobody)
        #expect(strict.status == 125 && !strict.stdout.contains("RAN"), "\(strict.stdout) \(strict.stderr)")
        #expect(strict.stderr.contains("--supplementary-groups") && strict.stderr.contains("\(gid)"), "\(strict.stderr)")
        // Without groups there is nothing to report.
        let clear = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        let c = try Bulkhead.run(["run", "--limits", "best-effort", "--supplementary-groups", "refuse", "--report", reportPath, "--", "/bin/sh", "-c", "cat \(file)"], prefix: clear)
        #expect(c.status != 0 || !c.stdout.contains("GROUPSECRET"), "without the group the file is not readable")
        let cr = try JSONDecoder().decode(RunReport.self, from: try Data(contentsOf: URL(fileURLWithPath: reportPath)))
        #expect(cr.controls.supplementaryGroupsKept == nil)
        #expect(!c.stderr.contains("supplementary groups"))
    }

    @Test("/etc/subuid and /etc/subgid are trusted only as root's files: another owner, group/other write, a symlink or a FIFO is refused without reading it")
    func subordinateFilesMustBeRoots() throws {
        let dir = "/var/tmp/bh-subid-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = dir + "/good", planted = dir + "/planted", writable = dir + "/writable", link = dir + "/link", fifo = dir + "/fifo"
        for f in [good, planted, writable] { try "bulkhead:2000000000:65536\n".write(toFile: f, atomically: false, encoding: .utf8) }
        chmod(good, 0o644)
        chown(planted, 65534, 65534); chmod(planted, 0o644)
        chmod(writable, 0o664)
        symlink(good, link)
        mkfifo(fifo, 0o644)
        #expect(try HostIdentity.readRootFile(good) == "bulkhead:2000000000:65536\n")
        #expect(try HostIdentity.readRootFile(dir + "/missing") == nil, "a missing file is an empty one")
        for (path, message) in [(planted, "owned by uid 65534"), (writable, "writable by its group"), (link, "is a symbolic link"), (fifo, "not a regular file")] {
            do {
                _ = try HostIdentity.readRootFile(path)
                Issue.record("\(path) was trusted")
            } catch {
                #expect(error.file == path && error.message.contains(message), "\(error)")
                #expect(!error.description.contains("2000000000"), "no content in the error: \(error)")
            }
        }
    }

    @Test("A profile or a tenant cannot pick a range that shares host ids with a range bulkhead hands out")
    func overlappingRangesAreRefused() throws {
        // The profile's range ends one id into the default range: its uid 1 would be host uid
        // 2000000000, the root of every plain sandbox (the same host files).
        let path = "/var/tmp/bh-overlap-\(token()).yaml"
        try "extends: container\nuserNamespace:\n  hostIDRange: \"1999999998:10\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let r = try Bulkhead.sh("echo RAN", ["--profile", path])
        #expect(r.status == 125 && !r.stdout.contains("RAN"), "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("overlap the default sandbox range"), "\(r.stderr)")
        // The default range itself is fine (the same ids and owner, which neither maps).
        try "extends: container\nuserNamespace:\n  hostIDRange: \"\(EffectiveProfile.defaultHostIDRange)\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Bulkhead.sh("echo RAN", ["--profile", path]).stdout.contains("RAN"))
        // A tenant whose range lies inside the default namespace's pod range (shared host ids).
        let dir = "/var/tmp/bh-overlap-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let podStart = PodAdmission.defaultTenantRange.hostStart
        let yaml = """
            apiVersion: bulkhead.dev/v1alpha1
            kind: Tenant
            metadata: {name: team-x}
            spec: {hostIDRange: "\(podStart + 10):100", allowedProfiles: [container], secretsDirectory: /var/lib/bulkhead/secrets/team-x}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: p, namespace: team-x}
            spec:
              containers:
              - {name: c, image: x, command: ["true"]}

            """
        let files = try PodManifestFiles.write(yaml, into: dir)
        do {
            _ = try PodLoader.load(files: files)
            Issue.record("a tenant range inside the default pod range was accepted")
        } catch {
            #expect(error.description.contains("overlap the default namespace's pod range"), "\(error)")
        }
    }
}
