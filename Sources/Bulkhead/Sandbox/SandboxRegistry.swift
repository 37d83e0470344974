import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// A named sandbox as `bulkhead ps` shows it: one JSON file per name in the state directory.
public struct SandboxEntry: Codable, Sendable, Equatable {
    public var name: String
    /// The launcher (the `bulkhead run` process that supervises the sandbox) and its start time
    /// (/proc/PID/stat field 22): both are checked before it is signalled.
    public var launcherPID: Int32
    public var launcherStartTime: UInt64
    /// The real uid that started it: root or this uid may stop it.
    public var owner: UInt32
    public var profile: String
    public var command: [String]
    /// Seconds since the epoch.
    public var started: Double
    /// The sandbox's init (pid and start time), once it started: SIGKILLed through a checked
    /// pidfd when the grace period of `stop` ends.
    public var initPID: Int32?
    public var initStartTime: UInt64?
    /// The run's `--stop-signal`: what `stop` sends first (the launcher passes it to the
    /// workload); nil, SIGTERM. Checked against `FieldRules.stopSignals` when it is read.
    public var stopSignal: Int32?

    public init(name: String, launcherPID: Int32, launcherStartTime: UInt64, owner: UInt32, profile: String,
                command: [String], started: Double, initPID: Int32? = nil, initStartTime: UInt64? = nil,
                stopSignal: Int32? = nil) {
        (self.initPID, self.initStartTime, self.stopSignal) = (initPID, initStartTime, stopSignal)
        (self.name, self.launcherPID, self.launcherStartTime, self.owner) = (name, launcherPID, launcherStartTime, owner)
        (self.profile, self.command, self.started) = (profile, command, started)
    }
}

/// The named sandboxes of `bulkhead run --name`: `ps`, `stop`, and the uniqueness of a name.
///
/// Where: root's is /run/bulkhead/sandboxes (root's, 0700); a non-root caller's is
/// $XDG_RUNTIME_DIR/bulkhead-sandboxes (the caller's, 0700), and without XDG_RUNTIME_DIR
/// `--name` is refused. Every read goes through `TrustedFile` (the directory: owner, mode,
/// type; each entry: a regular file, no link, owned by root or the caller, not writable by
/// others); an entry that fails a check is refused, never shown. An entry is published with
/// `link(2)` from a private temporary file (atomic, and never over another entry; the init's
/// pid is added by a rename over it), removed by
/// the launcher when the sandbox ends, and collected by `ps`, `stop` and `gc` once its
/// launcher is gone (pid and start time).
public enum SandboxRegistry {
    public static let rootDirectory = "/run/bulkhead/sandboxes"

    /// The state directory for this caller. Root's list and each user's are separate (as
    /// podman's): root's `ps` shows only what root started, a user's only what that user started
    /// with the same $XDG_RUNTIME_DIR.
    public static func directory() throws(SystemError) -> String {
        if getuid() == 0 { return rootDirectory }
        return try runtimeDirectory() + "/bulkhead-sandboxes"
    }

    /// Where this caller's list lives, and where the others are: the hint of `stop` for a name
    /// that is not in it.
    static func whereListsLive() -> String {
        if getuid() == 0 {
            return "root's list is \(rootDirectory) (`bulkhead ps`); a sandbox a user started with --name is in that user's own list ($XDG_RUNTIME_DIR/bulkhead-sandboxes), which only that user's `bulkhead ps` and `bulkhead stop` see"
        }
        let mine = (try? directory()) ?? "$XDG_RUNTIME_DIR/bulkhead-sandboxes"
        return "your list is \(mine), from XDG_RUNTIME_DIR (`bulkhead ps`); a sandbox root started (sudo bulkhead run --name) is in root's list, \(rootDirectory): `sudo bulkhead ps`, `sudo bulkhead stop NAME`"
    }

    /// A non-root caller's $XDG_RUNTIME_DIR: set, absolute, not a symbolic link, a directory of
    /// the caller's that its group and others cannot write (checked here by lstat, and again on
    /// the opened fd by `openDirectory`). There is no fallback to a shared directory (/tmp):
    /// another user could plant entries there, or take a name.
    static func runtimeDirectory() throws(SystemError) -> String {
        let uid = getuid()
        let fix = "set XDG_RUNTIME_DIR to your own runtime directory (/run/user/\(uid), which your login session makes; or a directory of yours, mode 0700), or run without --name"
        guard let xdg = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], !xdg.isEmpty else {
            throw SystemError("find the state directory of named sandboxes", errno: Errno(ENOENT),
                              hint: "XDG_RUNTIME_DIR is not set: \(fix)")
        }
        guard xdg.hasPrefix("/"), !xdg.utf8.contains(0) else {
            throw SystemError("XDG_RUNTIME_DIR \(xdg) is not an absolute path", errno: Errno(EINVAL), hint: fix)
        }
        var st = stat()
        guard lstat(xdg, &st) == 0 else { throw SystemError("XDG_RUNTIME_DIR \(xdg)", errno: .current, hint: fix) }
        if st.st_mode & S_IFMT == S_IFLNK {
            throw SystemError("XDG_RUNTIME_DIR \(xdg) is a symbolic link", errno: Errno(ELOOP), hint: "name the directory itself; " + fix)
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw SystemError("XDG_RUNTIME_DIR \(xdg) is not a directory", errno: Errno(ENOTDIR), hint: fix)
        }
        try checkRuntimeDirectory(st, path: xdg)
        return xdg
    }

    static func checkRuntimeDirectory(_ st: stat, path: String) throws(SystemError) {
        let uid = getuid(), mode = "0" + String(st.st_mode & 0o7777, radix: 8)
        guard st.st_uid == uid else {
            throw SystemError("XDG_RUNTIME_DIR \(path) is not uid \(uid)'s directory (owner uid \(st.st_uid), mode \(mode))", errno: Errno(EPERM),
                              hint: "set XDG_RUNTIME_DIR to your own runtime directory (/run/user/\(uid)), or run without --name")
        }
        guard st.st_mode & 0o022 == 0 else {
            let writers = st.st_mode & 0o002 == 0 ? "its group" : st.st_mode & 0o020 == 0 ? "others" : "its group and others"
            throw SystemError("XDG_RUNTIME_DIR \(path) is writable by \(writers) (mode \(mode))", errno: Errno(EPERM),
                              hint: "chmod 0700 \(path), or set XDG_RUNTIME_DIR to your own runtime directory (/run/user/\(uid))")
        }
    }

    /// Creates the state directory if needed (0700, the caller's) and opens it through the checks.
    static func openDirectory(create: Bool) throws(SystemError) -> (fd: Int32, path: String) {
        let dir = try directory()
        if create && getuid() == 0 {
            if mkdir("/run/bulkhead", 0o711) != 0, errno != EEXIST { throw SystemError("mkdir /run/bulkhead", errno: .current) }
            if mkdir(dir, 0o700) != 0, errno != EEXIST { throw SystemError("mkdir \(dir)", errno: .current) }
        } else if getuid() != 0 {
            // $XDG_RUNTIME_DIR is the caller's word: it must be the caller's own directory
            // (checked open), and the directory is made in it relative to that fd.
            let parent = String(dir.dropLast("/bulkhead-sandboxes".count))
            let p = try TrustedFile.openDirectory(parent, what: "XDG_RUNTIME_DIR")
            defer { close(p.fd) }
            var st = stat()
            guard fstat(p.fd, &st) == 0 else { throw SystemError("fstat \(p.path)", errno: .current) }
            try checkRuntimeDirectory(st, path: p.path)
            if create, mkdirat(p.fd, "bulkhead-sandboxes", 0o700) == 0 {
                if geteuid() != getuid(), fchownat(p.fd, "bulkhead-sandboxes", getuid(), getgid(), Int32(AT_SYMLINK_NOFOLLOW)) != 0 {
                    throw SystemError("chown \(dir)", errno: .current)
                }
            } else if create, errno != EEXIST {
                throw SystemError("mkdir \(dir)", errno: .current)
            }
        }
        let opened = try TrustedFile.openDirectory(dir, what: "sandbox state directory")
        var st = stat()
        guard fstat(opened.fd, &st) == 0 else { close(opened.fd); throw SystemError("fstat \(dir)", errno: .current) }
        guard st.st_mode & 0o7777 == 0o700, st.st_uid == getuid() else {
            close(opened.fd)
            throw SystemError("sandbox state directory \(dir) is owned by uid \(st.st_uid) with mode \(String(st.st_mode & 0o7777, radix: 8))",
                              errno: Errno(EPERM), hint: "it must be uid \(getuid())'s, mode 0700: remove it and run again")
        }
        return opened
    }

    static func fileName(_ name: String) -> String { name + ".json" }

    /// The most an entry may hold: `read` refuses a larger one, so `register` never writes one.
    static let entryLimit = 1 << 16

    /// The command as an entry records it (for `ps` only): at most 4096 Unicode scalars in all,
    /// a cut argument ending in "…". JSON escapes a scalar into at most 6 bytes, so the command
    /// stays far under `entryLimit` however long the real command line is.
    static func recordedCommand(_ command: [String]) -> [String] {
        var left = 4096, out: [String] = []
        for arg in command {
            let scalars = arg.unicodeScalars
            if scalars.count <= left { out.append(arg); left -= scalars.count; continue }
            var cut = String.UnicodeScalarView()
            cut.append(contentsOf: scalars.prefix(left))
            out.append(String(cut) + "…")
            break
        }
        return out
    }

    /// Registers `name` for this process (the launcher). Refused when a sandbox of that name
    /// runs; an entry whose launcher is gone is collected first.
    public static func register(name: String, profile: String, command: [String], stopSignal: Int32? = nil) throws(SystemError) -> SandboxEntry {
        if case .failure(let r) = FieldRules.sandboxName(name) { throw SystemError("--name: \(r.message)", errno: Errno(EINVAL)) }
        guard let me = CgroupLeafName.forCurrentProcess(sequence: 0) else { throw SystemError("read /proc/self/stat", errno: .current) }
        let entry = SandboxEntry(name: name, launcherPID: me.launcherPID, launcherStartTime: me.launcherStartTime, owner: getuid(),
                                 profile: profile, command: recordedCommand(command), started: Date().timeIntervalSince1970,
                                 stopSignal: stopSignal)
        let dir = try openDirectory(create: true)
        defer { close(dir.fd) }
        let lock = try FileLock(dir.path + "/.lock")
        defer { lock.unlock() }
        let final = fileName(name), temp = ".\(name).\(me.launcherPID).tmp"
        guard let data = try? JSONEncoder().encode(entry) else { throw SystemError("encode the sandbox entry", errno: nil) }
        // An entry `read` would refuse is never published: it would hide a running sandbox from
        // `ps` and `stop` and free its name for another `run --name`.
        guard data.count <= entryLimit else {
            throw SystemError("record the sandbox entry of \(name)", errno: Errno(EFBIG),
                              hint: "its profile name and command take \(data.count) bytes, more than the \(entryLimit) an entry holds")
        }
        unlinkat(dir.fd, temp, 0)
        let fd = openat(dir.fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("create \(dir.path)/\(temp)", errno: .current) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlinkat(dir.fd, temp, 0) }
        guard written == data.count else { throw SystemError("write \(dir.path)/\(temp)", errno: .current) }
        for _ in 0..<2 {
            if linkat(dir.fd, temp, dir.fd, final, 0) == 0 { return entry }
            guard errno == EEXIST else { throw SystemError("publish \(dir.path)/\(final)", errno: .current) }
            // Taken: by a running sandbox (refused) or by a dead launcher's entry (collected).
            if let other = try? read(in: dir, file: final), other.isAlive {
                throw SystemError("--name \(name): a sandbox of that name runs (launcher \(other.launcherPID))", errno: Errno(EEXIST),
                                  hint: "choose another name, or stop it: bulkhead stop \(name)")
            }
            unlinkat(dir.fd, final, 0)
        }
        throw SystemError("publish \(dir.path)/\(final)", errno: Errno(EEXIST))
    }

    /// Adds the init's pid and start time to this launcher's entry: a new temporary file
    /// renamed over it (atomic), only while the entry is still this launcher's.
    public static func recordInit(_ entry: SandboxEntry, pid: Int32) {
        guard let start = CgroupLeafName.startTime(of: pid), let dir = try? openDirectory(create: false) else { return }
        defer { close(dir.fd) }
        guard let lock = try? FileLock(dir.path + "/.lock") else { return }
        defer { lock.unlock() }
        guard let current = try? read(in: dir, file: fileName(entry.name)), current.launcherPID == entry.launcherPID,
              current.launcherStartTime == entry.launcherStartTime else { return }
        var e = current
        (e.initPID, e.initStartTime) = (pid, start)
        let temp = ".\(e.name).\(e.launcherPID).tmp"
        guard let data = try? JSONEncoder().encode(e) else { return }
        unlinkat(dir.fd, temp, 0)
        let fd = openat(dir.fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written == data.count, renameat(dir.fd, temp, dir.fd, fileName(e.name)) == 0 { return }
        unlinkat(dir.fd, temp, 0)
    }

    /// Removes this launcher's entry (only if it is still this launcher's).
    public static func unregister(_ entry: SandboxEntry) {
        guard let dir = try? openDirectory(create: false) else { return }
        defer { close(dir.fd) }
        guard let lock = try? FileLock(dir.path + "/.lock") else { return }
        defer { lock.unlock() }
        if let e = try? read(in: dir, file: fileName(entry.name)), e.launcherPID == entry.launcherPID,
           e.launcherStartTime == entry.launcherStartTime {
            unlinkat(dir.fd, fileName(entry.name), 0)
        }
    }

    /// One entry through the checks; its content never appears in an error.
    static func read(in dir: (fd: Int32, path: String), file: String) throws(SystemError) -> SandboxEntry {
        let c = try TrustedFile.read(in: dir.fd, directory: dir.path, name: file, what: "sandbox entry", limit: entryLimit)
        guard c.mode & 0o077 == 0, let e = try? JSONDecoder().decode(SandboxEntry.self, from: Data(c.bytes)),
              fileName(e.name) == file, FieldRules.sandboxName(e.name).isSuccess else {
            throw SystemError("sandbox entry \(dir.path)/\(file) is not a valid entry", errno: Errno(EINVAL),
                              hint: "remove it; bulkhead writes its entries mode 0600")
        }
        return e
    }

    /// The running named sandboxes, and the problems met (entries refused by the checks, as
    /// messages without their content). Entries whose launcher is gone are removed.
    public static func list() throws(SystemError) -> (entries: [SandboxEntry], refused: [String]) {
        // A missing or unsafe XDG_RUNTIME_DIR is an error, never an empty list.
        _ = try directory()
        let dir: (fd: Int32, path: String)
        do { dir = try openDirectory(create: false) } catch {
            if error.errno == Errno(ENOENT) { return ([], []) }
            throw error
        }
        defer { close(dir.fd) }
        let lock = try FileLock(dir.path + "/.lock")
        defer { lock.unlock() }
        var entries: [SandboxEntry] = [], refused: [String] = []
        for file in TrustedFile.list(dir.fd) where !file.hasPrefix(".") {
            do throws(SystemError) {
                let e = try read(in: dir, file: file)
                if e.isAlive { entries.append(e) } else { unlinkat(dir.fd, file, 0) }
            } catch { refused.append(error.description) }
        }
        return (entries.sorted { $0.name < $1.name }, refused)
    }

    /// Entries of launchers that are gone, removed (`bulkhead gc`).
    static func collectStale() -> [String] {
        guard let dir = try? openDirectory(create: false) else { return [] }
        defer { close(dir.fd) }
        guard let lock = try? FileLock(dir.path + "/.lock") else { return [] }
        defer { lock.unlock() }
        var removed: [String] = []
        for file in TrustedFile.list(dir.fd) where !file.hasPrefix(".") {
            if let e = try? read(in: dir, file: file), !e.isAlive {
                unlinkat(dir.fd, file, 0)
                removed.append("\(dir.path)/\(file)")
            }
        }
        return removed
    }

    /// Stops the named sandbox: SIGTERM to its launcher through a pidfd opened and checked
    /// against the entry's pid and start time (the launcher forwards it to the workload), SIGKILL
    /// after `grace` seconds and the leftovers collected; waits for the entry to go.
    public static func stop(name: String, grace: Double) throws(SystemError) -> SandboxEntry {
        if case .failure(let r) = FieldRules.sandboxName(name) { throw SystemError("stop: \(r.message)", errno: Errno(EINVAL)) }
        let found = try list()
        guard let entry = found.entries.first(where: { $0.name == name }) else {
            throw SystemError("stop \(name): no sandbox of that name in \(getuid() == 0 ? "root's" : "your") list", errno: Errno(ESRCH),
                              hint: whereListsLive())
        }
        guard getuid() == 0 || getuid() == entry.owner else {
            throw SystemError("stop \(name)", errno: Errno(EPERM), hint: "only root or uid \(entry.owner), who started it, may stop it")
        }
        guard let launcher = ProcessHandle(pid: entry.launcherPID, startTime: entry.launcherStartTime) else {
            _ = collectStale()
            throw SystemError("stop \(name)", errno: Errno(ESRCH), hint: "its launcher is gone; the entry was collected")
        }
        defer { launcher.close() }
        // The init, checked now too (pid and start time), for the SIGKILL at the end of the grace period.
        let initHandle = entry.initPID.flatMap { pid in entry.initStartTime.flatMap { ProcessHandle(pid: pid, startTime: $0) } }
        defer { initHandle?.close() }
        // A signal the kernel refuses (an entry naming a process this caller may not signal)
        // is an error now, not a wait and a "stopped" for a sandbox that still runs.
        // The run's --stop-signal (the launcher passes it on, as it does SIGTERM), else SIGTERM;
        // an entry naming any other signal is refused, not obeyed.
        let first = entry.stopSignal ?? SIGTERM
        guard FieldRules.stopSignals.contains(where: { $0.number == first }) else {
            throw SystemError("stop \(name): its entry names signal \(first)", errno: Errno(EINVAL),
                              hint: "an entry's stop signal is one of \(FieldRules.stopSignals.map(\.name).joined(separator: ", ")); remove the entry")
        }
        let sent = launcher.signal(first)
        if sent != 0 && sent != ESRCH {
            throw SystemError("stop \(name): signal launcher \(entry.launcherPID)", errno: Errno(sent),
                              hint: "it runs as another user: stop it as that user or as root")
        }
        if !launcher.waitForExit(seconds: grace) {
            // The init first: its pid namespace ends with it, and the launcher reaps it and
            // removes the entry; the launcher itself only if it does not follow.
            initHandle?.signal(SIGKILL)
            if !launcher.waitForExit(seconds: 5) {
                launcher.signal(SIGKILL)
                _ = launcher.waitForExit(seconds: 60)
                _ = try? Maintenance.collectGarbage()
            }
        }
        // The launcher removes its entry on its way out; a killed one leaves it to collect.
        _ = collectStale()
        return entry
    }
}

extension SandboxEntry {
    /// Whether the launcher may run (pid and start time, `OwnerLiveness`).
    public var isAlive: Bool { OwnerLiveness.mayBeAlive(pid: launcherPID, startTime: launcherStartTime) }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}
