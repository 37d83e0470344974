import Bulkhead
import Foundation
import Glibc
import Testing

/// `run --name`, `ps`, `stop` for a caller that is not root (issue 15): the list lives in the
/// caller's own $XDG_RUNTIME_DIR/bulkhead-sandboxes, is separate from root's and from every other
/// user's, and a missing or unsafe $XDG_RUNTIME_DIR is refused, naming the fix, with no fallback
/// to a shared directory. The callers are uids 65534 and 65533 (setpriv), each with a runtime
/// directory the test makes (its own, mode 0700); the launches are rootless, so
/// `--limits best-effort` (this host's v1 hierarchies are not delegated to them).
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct SandboxNamesRootlessTests {
    static let alice: uid_t = 65534
    static let bob: uid_t = 65533

    /// A runtime directory owned by `uid`, mode `mode` (removed with everything in it by `cleanup`).
    func runtimeDirectory(_ uid: uid_t, mode: mode_t = 0o700) throws -> String {
        var template = Array("/tmp/bh-xdg-\(uid)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let path = String(cString: try #require(made))
        #expect(chown(path, uid, uid) == 0)
        #expect(chmod(path, mode) == 0)
        return path
    }

    func cleanup(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    /// `setpriv` as `uid` with XDG_RUNTIME_DIR set to `xdg` (unset when nil).
    func prefix(_ uid: uid_t, _ xdg: String?) -> [String] {
        ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--inh-caps=-all", "/usr/bin/env"]
            + (xdg.map { ["XDG_RUNTIME_DIR=\($0)"] } ?? ["-u", "XDG_RUNTIME_DIR"])
    }

    func run(_ uid: uid_t, _ xdg: String?, _ args: [String]) throws -> Bulkhead.Result {
        try Bulkhead.run(args, prefix: prefix(uid, xdg))
    }

    /// `ps --json` as `uid`, decoded as the typed entries.
    func ps(_ uid: uid_t, _ xdg: String?) throws -> [SandboxEntry] {
        let r = uid == 0 ? try Bulkhead.run(["ps", "--json"]) : try run(uid, xdg, ["ps", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONDecoder().decode([SandboxEntry].self, from: Data(r.stdout.utf8))
    }

    /// `bulkhead run --limits best-effort --name NAME -- COMMAND` as `uid` (root when 0), in the
    /// background; returns once its entry holds the init's pid.
    func startNamed(_ uid: uid_t, _ xdg: String?, _ name: String, _ command: [String] = ["sleep", "60"]) throws -> Process {
        let p = Process()
        let args = ["run", "--limits", "best-effort", "--name", name, "--"] + command
        if uid == 0 {
            p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
            p.arguments = args
        } else {
            let pre = prefix(uid, xdg)
            p.executableURL = URL(fileURLWithPath: pre[0])
            p.arguments = Array(pre.dropFirst()) + [Bulkhead.binary] + args
        }
        var env = ProcessInfo.processInfo.environment
        env["BULKHEAD_PROFILE_PATH"] = Bulkhead.packageRoot + "/Profiles"
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var tries = 0
        while tries < 1000 && p.isRunning && (try? ps(uid, xdg).first { $0.name == name }?.initPID) == nil {
            usleep(10_000); tries += 1
        }
        return p
    }

    func owner(_ path: String) -> (uid: uid_t, mode: mode_t)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_mode & 0o7777)
    }

    @Test func userSandboxIsListedStoppedAndSeparateFromRootsAndOtherUsers() throws {
        let xdgA = try runtimeDirectory(Self.alice), xdgB = try runtimeDirectory(Self.bob)
        defer { cleanup(xdgA); cleanup(xdgB) }
        let name = token()
        let p = try startNamed(Self.alice, xdgA, name)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        #expect(p.isRunning)

        // Listed for its user, with the launcher's pid and the init (its child, by start time).
        let listed = try ps(Self.alice, xdgA).filter { $0.name == name }
        #expect(listed.count == 1)
        let e = try #require(listed.first)
        #expect(e.launcherPID == p.processIdentifier)
        #expect(e.owner == Self.alice)
        #expect(e.command == ["sleep", "60"])
        let initPID = try #require(e.initPID)
        #expect(e.initStartTime == CgroupStart.of(initPID))
        #expect(CgroupStart.parent(of: initPID) == p.processIdentifier)
        #expect(try run(Self.alice, xdgA, ["ps"]).stdout.contains(name))
        // In the user's own directory: its, 0700; the entry its, 0600.
        let dir = xdgA + "/bulkhead-sandboxes"
        #expect(owner(dir)?.uid == Self.alice && owner(dir)?.mode == 0o700)
        #expect(owner("\(dir)/\(name).json")?.uid == Self.alice && owner("\(dir)/\(name).json")?.mode == 0o600)
        #expect(!FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json"))

        // Root's list is root's own: the user's sandbox is not in it, and root's `stop` says
        // where the user's list is.
        #expect(try ps(0, nil).allSatisfy { $0.name != name })
        let rootStop = try Bulkhead.run(["stop", name, "--grace", "1s"])
        #expect(rootStop.status == 1)
        #expect(rootStop.stderr.contains(SandboxRegistry.rootDirectory) && rootStop.stderr.contains("$XDG_RUNTIME_DIR/bulkhead-sandboxes"),
                "\(rootStop.stderr)")
        // Another user sees nothing and stops nothing: in its own list, and through the first
        // user's directory (not its own: refused).
        #expect(try ps(Self.bob, xdgB).allSatisfy { $0.name != name })
        let bobStop = try run(Self.bob, xdgB, ["stop", name, "--grace", "1s"])
        #expect(bobStop.status == 1)
        #expect(bobStop.stderr.contains("\(xdgB)/bulkhead-sandboxes") && bobStop.stderr.contains(SandboxRegistry.rootDirectory),
                "\(bobStop.stderr)")
        for args in [["ps", "--json"], ["stop", name, "--grace", "1s"]] {
            let r = try run(Self.bob, xdgA, args)
            #expect(r.status == 1)
            #expect(r.stderr.contains("is not uid \(Self.bob)'s directory"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        usleep(200_000)
        #expect(p.isRunning)
        #expect(try ps(Self.alice, xdgA).contains { $0.name == name && $0.launcherPID == p.processIdentifier })

        // Its user stops it: SIGTERM reaches the workload (128+15), the entry is gone, the
        // name is free again.
        let stop = try run(Self.alice, xdgA, ["stop", name, "--grace", "5s"])
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(stop.stdout.contains("stopped \(name)"))
        p.waitUntilExit()
        #expect(p.terminationStatus == 143)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/\(name).json"))
        #expect(try ps(Self.alice, xdgA).allSatisfy { $0.name != name })
        #expect(kill(initPID, 0) != 0 || CgroupStart.of(initPID) != e.initStartTime)
        let again = try run(Self.alice, xdgA, ["run", "--limits", "best-effort", "--name", name, "--", "true"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func rootSandboxIsNotInAUsersList() throws {
        let xdgA = try runtimeDirectory(Self.alice)
        defer { cleanup(xdgA) }
        let name = token()
        let p = try startNamed(0, nil, name)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        #expect(try ps(0, nil).contains { $0.name == name && $0.launcherPID == p.processIdentifier })
        #expect(try ps(Self.alice, xdgA).allSatisfy { $0.name != name })
        let userStop = try run(Self.alice, xdgA, ["stop", name, "--grace", "1s"])
        #expect(userStop.status == 1)
        #expect(userStop.stderr.contains("\(xdgA)/bulkhead-sandboxes") && userStop.stderr.contains(SandboxRegistry.rootDirectory)
                && userStop.stderr.contains("sudo bulkhead ps"), "\(userStop.stderr)")
        usleep(200_000)
        #expect(p.isRunning)
        #expect(try Bulkhead.run(["stop", name, "--grace", "5s"]).status == 0)
        p.waitUntilExit()
        #expect(p.terminationStatus == 143)
    }

    @Test func workloadIgnoringSIGTERMIsKilledAfterTheGrace() throws {
        let xdgA = try runtimeDirectory(Self.alice)
        defer { cleanup(xdgA) }
        let name = token()
        let p = try startNamed(Self.alice, xdgA, name, ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let entry = try #require(try ps(Self.alice, xdgA).first { $0.name == name })
        let initPID = try #require(entry.initPID)
        let stop = try run(Self.alice, xdgA, ["stop", name, "--grace", "300ms"])
        #expect(stop.status == 0, "\(stop.stderr)")
        p.waitUntilExit()
        // SIGTERM was ignored: SIGKILL after the grace period (128+9).
        #expect(p.terminationStatus == 137)
        #expect(!FileManager.default.fileExists(atPath: "\(xdgA)/bulkhead-sandboxes/\(name).json"))
        #expect(kill(initPID, 0) != 0 || CgroupStart.of(initPID) != entry.initStartTime)
    }

    /// Unset, relative, missing, not the caller's, writable by its group or others, a symbolic
    /// link (to a good directory): `run --name`, `ps` and `stop` each refuse, naming the fix;
    /// nothing runs, no state directory is made there or anywhere else.
    @Test func unsafeRuntimeDirectoryIsRefusedWithoutFallback() throws {
        let good = try runtimeDirectory(Self.alice)
        let rootOwned = try runtimeDirectory(0, mode: 0o755)
        let worldWritable = try runtimeDirectory(Self.alice, mode: 0o777)
        let groupWritable = try runtimeDirectory(Self.alice, mode: 0o770)
        let othersWritable = try runtimeDirectory(Self.alice, mode: 0o703)
        let holder = try runtimeDirectory(Self.alice)
        let link = holder + "/xdg"
        #expect(symlink(good, link) == 0)
        #expect(lchown(link, Self.alice, Self.alice) == 0)
        defer { for d in [good, rootOwned, worldWritable, groupWritable, othersWritable, holder] { cleanup(d) } }

        let cases: [(xdg: String?, says: String, fix: String)] = [
            (nil, "XDG_RUNTIME_DIR is not set", "/run/user/\(Self.alice)"),
            ("relative/dir", "is not an absolute path", "/run/user/\(Self.alice)"),
            (good + "/missing", "ENOENT", "/run/user/\(Self.alice)"),
            (rootOwned, "is not uid \(Self.alice)'s directory (owner uid 0", "/run/user/\(Self.alice)"),
            (worldWritable, "is writable by its group and others (mode 0777)", "chmod 0700 \(worldWritable)"),
            (groupWritable, "is writable by its group (mode 0770)", "chmod 0700 \(groupWritable)"),
            (othersWritable, "is writable by others (mode 0703)", "chmod 0700 \(othersWritable)"),
            (link, "is a symbolic link", "name the directory itself"),
        ]
        for c in cases {
            let name = token()
            let r = try run(Self.alice, c.xdg, ["run", "--limits", "best-effort", "--name", name, "--", "/bin/echo", "RAN"])
            #expect(r.status == 125, "\(String(describing: c.xdg)): \(r.stderr)")
            #expect(!r.stdout.contains("RAN"))
            for (args, status) in [(["run", "--limits", "best-effort", "--name", name, "--", "true"], Int32(125)),
                                   (["ps", "--json"], 1), (["ps"], 1), (["stop", name], 1)] {
                let r = try run(Self.alice, c.xdg, args)
                #expect(r.status == status, "\(args) with XDG_RUNTIME_DIR=\(String(describing: c.xdg)): \(r.stderr)")
                #expect(r.stderr.contains(c.says) && r.stderr.contains(c.fix),
                        "\(args) with XDG_RUNTIME_DIR=\(String(describing: c.xdg)): \(r.stderr)")
                #expect(r.stdout.isEmpty, "\(args): \(r.stdout)")
            }
        }
        // No state directory anywhere: not in the refused directories, not in the one the link
        // points to, not in a shared fallback.
        for d in [good, rootOwned, worldWritable, groupWritable, othersWritable, holder, "/tmp", "/run/user/\(Self.alice)", "/var/tmp"] {
            #expect(!FileManager.default.fileExists(atPath: d + "/bulkhead-sandboxes"), "\(d)/bulkhead-sandboxes")
        }
    }
}
