import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// What stays after `create` for `bulkhead.dev/seccomp-record` (`OCISeccompRecordAnnotation`):
/// `create` exits once the init waits on the exec fifo, and the eBPF recorder's programs and maps
/// live only as long as the process that holds them. So `create` starts a keeper, a process of
/// its own (a new session, stdio on /dev/null, no descriptor of the caller's), which loads the
/// recorder, follows the init, says it is ready (only then does `create` succeed: no call of the
/// workload is missed, as its first execve comes at `start`), waits for the init to exit
/// (a pidfd), builds the policy as `seccomp record` does (runtime-aware: what runc's and crun's
/// init need after the filter) and writes it, then exits.
///
/// Bounded: it holds the recorder's fixed-size maps and one pidfd, and ends with the container
/// (its own PID namespace is required, so no task outlives the init). `delete` waits for it (up
/// to `deleteWaitSeconds`, time to write) and kills it after that; a failed `create` kills it.
enum OCIRecordKeeper {
    static let command = "__record-keeper"
    static let deleteWaitSeconds = 30.0

    /// The recordings directory: `BULKHEAD_OCI_RECORDINGS` (absolute) or the default.
    static func directory() -> String {
        if let v = getenv(OCISeccompRecordAnnotation.environment), case let s = String(cString: v), s.hasPrefix("/") { return s }
        return OCISeccompRecordAnnotation.defaultDirectory
    }

    /// At create: the annotation's target, checked now so that a bad one fails `create`: the
    /// directory through `TrustedFile.openDirectory` (it and every parent owned by root or the
    /// caller, writable by no one else), and no entry of that name yet.
    static func target(_ value: String, config: OCIConfig) throws(OCIError) -> (directory: String, name: String) {
        let key = OCISeccompRecordAnnotation.key
        let dir = directory()
        let name: String
        do { name = try OCISeccompRecordAnnotation.fileName(value, directory: dir) } catch { throw OCIError("annotation \(key): \(error)") }
        guard geteuid() == 0 else { throw OCIError("annotation \(key): recording needs root (the eBPF recorder needs CAP_BPF and CAP_PERFMON) (EPERM)") }
        guard config.layer.namespaces[.pid] == true, !config.joinPaths.contains(where: { $0.namespace == .pid }) else {
            throw OCIError("annotation \(key): recording needs the container's own PID namespace (linux.namespaces: pid), so that no task outlives the recording (EINVAL)")
        }
        let d: (fd: Int32, path: String)
        do { d = try TrustedFile.openDirectory(dir, what: "recordings directory") } catch {
            throw OCIError("annotation \(key): the recordings directory: \(error); create it root-owned and not writable by others (install -d -m 0755 \(dir)) or name another in \(OCISeccompRecordAnnotation.environment)")
        }
        defer { close(d.fd) }
        var st = stat()
        if fstatat(d.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
            throw OCIError("annotation \(key): \(dir)/\(name) exists already (EEXIST): a recording never replaces a file; remove it or choose another name")
        }
        return (dir, name)
    }

    /// Starts the keeper for the init `pid` and waits until it follows it (or failed).
    static func start(root: String, log: String?, id: String, pid: Int32, startTime: UInt64, target: (directory: String, name: String)) throws(OCIError) -> (pid: Int32, startTime: UInt64) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw OCIError(SystemError("start the recorder: pipe", errno: .current)) }
        defer { close(fds[0]) }
        // Nothing of the caller's (preserved fds, the console socket, conmon's pipes) reaches the
        // keeper: every descriptor above 2 is close-on-exec (the init, made already, has its own
        // table); the answer pipe is dup2'ed to 3, which clears the flag on that copy only.
        SpawnDefaults.closeOnExecAbove2()
        var args = ["bulkhead-runc", "--root", root]
        if let log { args += ["--log", log] }
        args += [command, id, String(pid), String(startTime), target.directory, target.name]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDWR, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_RDWR, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 3)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        let signals = SpawnDefaults.resetSignals(&attr)
        // POSIX_SPAWN_SETSID (0x80, glibc 2.26; not imported into Swift): a session of its own.
        posix_spawnattr_setflags(&attr, Int16(0x80) | signals)
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var child: pid_t = 0
        // This process runs from its sealed copy (SealedSelf): /proc/self/exe is that copy.
        let rc = posix_spawn(&child, "/proc/self/exe", &actions, &attr, &cargs, environ)
        close(fds[1])
        guard rc == 0 else { throw OCIError(SystemError("start the recorder (annotation \(OCISeccompRecordAnnotation.key))", errno: Errno(rc))) }
        // Its answer: "R" (following), or "E" and why. Bounded: the recorder's load and calibration.
        var answer = [UInt8]()
        var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        let deadline = Monotonic.now() + 60
        while Monotonic.now() < deadline {
            let ready = poll(&p, 1, 1000)
            if ready < 0 { if errno == EINTR { continue }; break }
            if ready == 0 { continue }
            var buf = [UInt8](repeating: 0, count: 1024)
            let n = read(fds[0], &buf, buf.count)
            if n > 0 { answer += buf[..<n]; continue }
            if n == 0 { break }
            if errno != EINTR && errno != EAGAIN { break }
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard text.hasPrefix("R"), let start = OCIRuntime.processStart(child)?.start else {
            Glibc.kill(child, SIGKILL)
            var status: Int32 = 0
            waitpid(child, &status, 0)
            let why = text.hasPrefix("E") ? String(text.dropFirst()) : "it ended or did not answer within 60 s"
            throw OCIError("annotation \(OCISeccompRecordAnnotation.key): start the eBPF recorder: \(why)")
        }
        return (child, start)
    }

    /// The keeper: `__record-keeper ID PID START DIR NAME` (fd 3: the answer pipe). Returns its
    /// exit status; a failure after the answer is written to the log (`--log`), if any.
    static func main(_ args: [String], log: (String) -> Void) -> Int32 {
        func answer(_ s: String) { var t = s; t.withUTF8 { _ = write(3, $0.baseAddress, $0.count) } }
        guard args.count == 5, let pid = Int32(args[1]), let start = UInt64(args[2]) else {
            answer("Einternal: bad arguments"); return 2
        }
        let (id, dir, name) = (args[0], args[3], args[4])
        let table: SyscallRecorderTable, recorder: FastSyscallRecorder
        do throws(SystemError) {
            table = try SyscallRecorderTable()
            recorder = try FastSyscallRecorder(table: table)
            try recorder.follow(pid)
        } catch {
            answer("E\(error)"); return 1
        }
        guard let handle = ProcessHandle(pid: pid, startTime: start) else { answer("Ethe container's init is gone (ESRCH)"); return 1 }
        answer("R")
        close(3)
        while !handle.waitForExit(seconds: 3600) {}
        handle.close()
        let lost: Bool
        do { lost = try recorder.read(into: table) } catch { log("record \(id): \(error)"); return 1 }
        recorder.close()
        guard !lost else {
            log("record \(id): the eBPF recorder could not follow every task (its task map was full): the recording is incomplete; no profile written to \(dir)/\(name)")
            return 1
        }
        let recording = table.recording(command: [id], profile: "oci")
        let built = RecordedPolicy.build([recording], native: SyscallRecorder.nativeArchitecture, argumentRules: true, runtimes: ContainerRuntime.defaults)
        let text: String
        do { text = try built.policy.export(.kubernetes, options: SeccompExportOptions()) } catch {
            log("record \(id): \(error)"); return 1
        }
        do { try writeNew(dir: dir, name: name, Array(text.utf8)) } catch { log("record \(id): \(error)"); return 1 }
        return 0
    }

    /// Writes `bytes` as DIR/NAME, a file that did not exist: the directory checked again
    /// (`TrustedFile.openDirectory`), a temporary file made O_CREAT|O_EXCL|O_NOFOLLOW in it
    /// (mode 0644), synced, then linked to NAME (linkat never replaces an entry: EEXIST) and
    /// the temporary name removed. A symlink planted at NAME is never followed or replaced.
    static func writeNew(dir: String, name: String, _ bytes: [UInt8]) throws(OCIError) {
        let d: (fd: Int32, path: String)
        do { d = try TrustedFile.openDirectory(dir, what: "recordings directory") } catch { throw OCIError("write the recorded profile: \(error)") }
        defer { close(d.fd) }
        let tmp = ".\(name).\(getpid()).tmp"
        let fd = openat(d.fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OCIError(SystemError("write the recorded profile: create \(dir)/\(tmp)", errno: .current)) }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = Errno.current
                close(fd); unlinkat(d.fd, tmp, 0)
                throw OCIError(SystemError("write the recorded profile: write \(dir)/\(tmp)", errno: e))
            }
            off += n
        }
        fsync(fd)
        close(fd)
        defer { unlinkat(d.fd, tmp, 0) }
        guard linkat(d.fd, tmp, d.fd, name, 0) == 0 else {
            throw OCIError(SystemError("write the recorded profile: link \(dir)/\(name) (it is never replaced)", errno: .current))
        }
        fsync(d.fd)
    }
}
