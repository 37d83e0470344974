import Bulkhead
import Foundation
import Glibc
import Testing

/// `run --name`, `ps`, `stop` (issue 15): the registry of named sandboxes in
/// /run/bulkhead/sandboxes, its checks, and that `stop` signals no process but the launcher
/// it recorded (pid and start time, through a pidfd).
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct SandboxNamesTests {
    static let dir = SandboxRegistry.rootDirectory

    /// Starts `bulkhead run --name NAME -- sleep 60` in the background, waits until its entry
    /// holds the init's pid.
    func startNamed(_ name: String, _ command: [String] = ["sleep", "60"]) throws -> Process {
        let p = try Self.spawn(["run", "--name", name, "--"] + command)
        var tries = 0
        while tries < 500 && p.isRunning && (try? ps().first { $0.name == name }?.initPID) == nil { usleep(10_000); tries += 1 }
        return p
    }

    /// Starts `bulkhead ARGS` in the background, output discarded, `extra` added to its environment.
    static func spawn(_ args: [String], env extra: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["BULKHEAD_PROFILE_PATH"] = Bulkhead.packageRoot + "/Profiles"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func ps() throws -> [SandboxEntry] {
        let r = try Bulkhead.run(["ps", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONDecoder().decode([SandboxEntry].self, from: Data(r.stdout.utf8))
    }

    /// A process that is not a sandbox: the victim a forged entry points at.
    func victim() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["60"]
        try p.run()
        return p
    }

    func plant(_ name: String, pid: Int32, startTime: UInt64, owner: uid_t = 0) throws -> String {
        _ = try Bulkhead.run(["ps"]) // makes sure the directory exists
        let e = SandboxEntry(name: name, launcherPID: pid, launcherStartTime: startTime, owner: 0, profile: "container",
                             command: ["secret-marker-\(name)"], started: 0)
        let path = "\(Self.dir)/\(name).json"
        #expect(FileManager.default.createFile(atPath: path, contents: try JSONEncoder().encode(e), attributes: [.posixPermissions: 0o600]))
        #expect(chown(path, owner, owner) == 0)
        return path
    }

    @Test func namedSandboxIsListedStoppedAndRemoved() throws {
        let name = token()
        let p = try startNamed(name)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let listed = try ps().filter { $0.name == name }
        #expect(listed.count == 1)
        #expect(listed.first?.launcherPID == p.processIdentifier)
        #expect(listed.first?.command == ["sleep", "60"])
        // The init, recorded with its start time, is the launcher's child.
        let initPID = try #require(listed.first?.initPID)
        #expect(listed.first?.initStartTime == CgroupStart.of(initPID))
        #expect(CgroupStart.parent(of: initPID) == p.processIdentifier)
        // The table shows it too.
        #expect(try Bulkhead.run(["ps"]).stdout.contains(name))

        // A second sandbox of that name is refused before it starts.
        let second = try Bulkhead.run(["run", "--name", name, "--", "true"])
        #expect(second.status == 125)
        #expect(second.stderr.contains("a sandbox of that name runs"))

        let stop = try Bulkhead.run(["stop", name, "--grace", "5s"])
        #expect(stop.status == 0, "\(stop.stderr)")
        p.waitUntilExit()
        // SIGTERM reached the workload through the launcher: 128+15.
        #expect(p.terminationStatus == 143)
        #expect(!FileManager.default.fileExists(atPath: "\(Self.dir)/\(name).json"))
        #expect(try ps().allSatisfy { $0.name != name })
        // The name is free again.
        #expect(try Bulkhead.run(["run", "--name", name, "--", "true"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: "\(Self.dir)/\(name).json"))
    }

    @Test func workloadIgnoringSIGTERMIsKilledAfterTheGrace() throws {
        let name = token()
        let p = try startNamed(name, ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        #expect(try ps().first { $0.name == name }?.initPID != nil)
        let stop = try Bulkhead.run(["stop", name, "--grace", "300ms"])
        #expect(stop.status == 0, "\(stop.stderr)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 137)
        #expect(!FileManager.default.fileExists(atPath: "\(Self.dir)/\(name).json"))
    }

    /// `stop` sends the run's `--stop-signal` (recorded in the entry), not SIGTERM: a workload
    /// that exits 3 on SIGINT and 5 on SIGTERM exits 3.
    @Test func stopSendsTheRunsStopSignal() throws {
        let name = token()
        let p = try Self.spawn(["run", "--name", name, "--timeout", "10m", "--stop-signal", "SIGINT", "--",
                                "/bin/sh", "-c", "trap 'exit 3' INT; trap 'exit 5' TERM; while :; do sleep 0.1; done"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        var tries = 0
        while tries < 500 && p.isRunning && (try? ps().first { $0.name == name }?.initPID) == nil { usleep(10_000); tries += 1 }
        let entry = try #require(try ps().first { $0.name == name })
        #expect(entry.stopSignal == SIGINT)
        usleep(300_000) // the shell has set its traps
        let stop = try Bulkhead.run(["stop", name, "--grace", "5s"])
        #expect(stop.status == 0, "\(stop.stderr)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 3, "SIGINT reached the workload, not SIGTERM (5)")
    }

    /// An entry naming a signal `--stop-signal` does not accept (SIGSTOP here) is refused by
    /// `stop`, and nothing is signalled.
    @Test func entryWithAForeignStopSignalIsRefused() throws {
        let name = token()
        let v = try victim()
        defer { kill(v.processIdentifier, SIGKILL); v.waitUntilExit() }
        let start = try #require(CgroupStart.of(v.processIdentifier))
        _ = try Bulkhead.run(["ps"])
        var e = SandboxEntry(name: name, launcherPID: v.processIdentifier, launcherStartTime: start, owner: 0,
                             profile: "container", command: ["x"], started: 0)
        e.stopSignal = SIGSTOP
        let path = "\(Self.dir)/\(name).json"
        #expect(FileManager.default.createFile(atPath: path, contents: try JSONEncoder().encode(e), attributes: [.posixPermissions: 0o600]))
        defer { unlink(path) }
        let stop = try Bulkhead.run(["stop", name, "--grace", "100ms"])
        #expect(stop.status != 0 && stop.stderr.contains("signal \(SIGSTOP)"), "\(stop.stderr)")
        #expect(v.isRunning && CgroupStart.state(of: v.processIdentifier) != "T", "the victim was neither stopped nor killed")
    }

    @Test func reusedPIDIsNotSignalledAndTheEntryIsCollected() throws {
        let name = token()
        let v = try victim()
        defer { kill(v.processIdentifier, SIGKILL); v.waitUntilExit() }
        let start = try #require(CgroupStart.of(v.processIdentifier))
        // The entry's launcher had this pid once, with another start time.
        let path = try plant(name, pid: v.processIdentifier, startTime: start + 1)
        let stop = try Bulkhead.run(["stop", name, "--grace", "1s"])
        #expect(stop.status == 1)
        #expect(v.isRunning)
        #expect(try ps().allSatisfy { $0.name != name })
        #expect(!FileManager.default.fileExists(atPath: path))
        usleep(100_000)
        #expect(v.isRunning)
    }

    @Test func entryOfAnotherOwnerOrALinkIsRefused() throws {
        let v = try victim()
        defer { kill(v.processIdentifier, SIGKILL); v.waitUntilExit() }
        let start = try #require(CgroupStart.of(v.processIdentifier))
        let planted = token(), linked = token()
        let plantedPath = try plant(planted, pid: v.processIdentifier, startTime: start, owner: 65534)
        defer { unlink(plantedPath) }
        // A link to a well-formed entry elsewhere.
        let target = NSTemporaryDirectory() + "\(linked).json"
        let e = SandboxEntry(name: linked, launcherPID: v.processIdentifier, launcherStartTime: start, owner: 0,
                             profile: "container", command: ["secret-marker-\(linked)"], started: 0)
        try JSONEncoder().encode(e).write(to: URL(fileURLWithPath: target))
        chmod(target, 0o600)
        defer { unlink(target) }
        let linkPath = "\(Self.dir)/\(linked).json"
        #expect(symlink(target, linkPath) == 0)
        defer { unlink(linkPath) }

        let r = try Bulkhead.run(["ps", "--json"])
        let listed = try JSONDecoder().decode([SandboxEntry].self, from: Data(r.stdout.utf8))
        #expect(listed.allSatisfy { $0.name != planted && $0.name != linked })
        #expect(r.stderr.contains("\(planted).json"))
        #expect(r.stderr.contains("\(linked).json is a symbolic link"))
        #expect(!r.stderr.contains("secret-marker"))
        for n in [planted, linked] {
            let s = try Bulkhead.run(["stop", n, "--grace", "1s"])
            #expect(s.status == 1)
            #expect(!s.stderr.contains("secret-marker"))
        }
        usleep(100_000)
        #expect(v.isRunning)
    }

    @Test(arguments: ["a/b", "..", ".", "Web", "web_1", "-web", String(repeating: "a", count: 64), ""])
    func badNamesAreRefused(_ name: String) throws {
        let r = try Bulkhead.run(["run", "--name", name, "--", "true"])
        #expect(r.status == 125)
        #expect(r.stderr.contains("--name"))
        let s = try Bulkhead.run(["stop", name])
        #expect(s.status != 0)
    }

    /// A non-root caller's entries live in its own $XDG_RUNTIME_DIR: unset, or a directory that
    /// is not the caller's (/etc), and --name is refused before anything is created.
    @Test func nonRootNeedsItsOwnRuntimeDirectory() throws {
        let nobody = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/env"]
        let unset = try Bulkhead.run(["run", "--limits", "best-effort", "--name", "x", "--", "true"], prefix: nobody + ["-u", "XDG_RUNTIME_DIR"])
        #expect(unset.status == 125)
        #expect(unset.stderr.contains("XDG_RUNTIME_DIR is not set"))
        let etc = try Bulkhead.run(["run", "--limits", "best-effort", "--name", "x", "--", "true"], prefix: nobody + ["XDG_RUNTIME_DIR=/etc"])
        #expect(etc.status == 125)
        #expect(etc.stderr.contains("is not uid 65534's directory"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/bulkhead-sandboxes"))
    }

    @Test func longestNameIsAccepted() throws {
        let r = try Bulkhead.run(["run", "--name", String(repeating: "a", count: 63), "--", "true"])
        #expect(r.status == 0, "\(r.stderr)")
    }
}

/// /proc/PID/stat field 22 (and field 4, the parent), read by the test itself.
enum CgroupStart {
    static func parent(of pid: Int32) -> Int32? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// Field 3, the state ("T": stopped).
    static func state(of pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    static func of(_ pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): field 22 is fields[19].
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
