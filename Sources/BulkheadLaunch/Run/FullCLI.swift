import BulkheadModel
import BulkheadSystem
import Glibc

/// The launch executable's way to the full command line: `bulkhead` (Sources/bulkhead-launch)
/// runs `run`'s fast path itself and execs `bulkhead-cli` for everything else, with the same
/// argv and environment, so every command, error and help text keeps its one definition there.
///
/// The exec is a trust boundary (root executes a file), so the program is found only next to the
/// running binary (the directory of /proc/self/exe, never $PATH or argv[0]) and opened through
/// `TrustedFile.openProgram`: every directory from `/` down owned by root or the caller and not
/// writable by group or others, the directory holding it not writable by group or others even
/// when sticky, the program itself a regular file (not a symbolic link) owned by root (or, run by
/// an ordinary user, by that user's euid), not writable by group or others, executable. The fd
/// checked is the fd executed (`fexecve` of an `O_PATH` fd: `execveat(fd, "", AT_EMPTY_PATH)`),
/// so a rename after the check runs nothing else. Any refusal ends with status 125, naming the
/// file, the check and the fix.
///
/// No loop: the full command line never execs the launch executable, and `loopMarker` in the
/// exec'd environment (removed by the full command line as it starts, so no workload sees it)
/// makes a launch executable that finds it refuse: `bulkhead-cli` was then a launch executable
/// itself (a copy, or a wrapper that runs one), or the caller set the variable. Its value is the
/// pid that exec'd (an exec keeps the pid), so the refusal can say which of the two it was.
package enum FullCLI {
    /// The full command line's file name, next to the launch executable.
    package static let name = "bulkhead-cli"

    /// Set in the environment of the exec'd full command line (to the exec'ing pid); its presence
    /// at the launch executable's start means that the exec led back to a launch executable, or
    /// that the caller set it (`refuseLoop` tells the two apart by the pid).
    package static let loopMarker = "BULKHEAD_LAUNCH_EXEC"

    /// Where the full command line is: `bulkhead-cli` in the directory of the running binary.
    package static func path() -> Result<String, SystemError> {
        guard let exe = FileIO.readLink("/proc/self/exe") else {
            return .failure(SystemError("readlink /proc/self/exe (to find \(name) next to this binary)", errno: .current))
        }
        guard let slash = exe.lastIndex(of: "/") else {
            return .failure(SystemError("this binary's path, \(exe), names no directory to find \(name) in", errno: nil))
        }
        return .success(String(exe[..<slash]) + "/" + name)
    }

    /// The full command line, opened and checked (an `O_PATH`, close-on-exec fd).
    package static func open() -> Result<Int32, SystemError> {
        let path: String
        switch Self.path() {
        case .success(let p): path = p
        case .failure(let e): return .failure(e)
        }
        let caller = geteuid()
        do {
            return .success(try TrustedFile.openProgram(path, what: "the full command line", alsoOwnedBy: caller == 0 ? nil : caller,
                                                        privateDirectory: true, hint: fix(path)))
        } catch {
            return .failure(error)
        }
    }

    static func fix(_ path: String) -> String {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        return "bulkhead execs \(path) for every command but `run`'s fast path: install the full command line there as root "
            + "(install -m 0755 -o root -g root .build/release/\(name) \(dir)/), in a directory only root can write"
    }

    /// Execs the full command line with `arguments` (argv, argv[0] included) and this process's
    /// environment plus `loopMarker`. Returns only on failure: the error, printed, and 125.
    package static func exec(_ arguments: [String]) -> Int32 {
        let e = execOrError(arguments)
        warn(message(e))
        return ExitStatus.launchFailed
    }

    /// What a failed exec prints (`exec`), and a refused launch's report says (`LaunchMain`).
    package static func message(_ e: SystemError) -> String { "cannot run the full command line: \(e)" }

    /// `exec` without the printing: returns only on failure, with the error. The launch
    /// executable's cache miss uses it to end as every refused launch ends, its `--report` included.
    package static func execOrError(_ arguments: [String]) -> SystemError {
        let fd: Int32
        switch open() {
        case .success(let f): fd = f
        case .failure(let e): return e
        }
        defer { close(fd) }
        var environment: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if !s.hasPrefix(loopMarker + "=") { environment.append(s) }
            p += 1
        }
        environment.append(loopMarker + "=\(getpid())")
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        _ = fexecve(fd, argv, envp)
        let e = Errno.current
        for a in argv { free(a) }
        for v in envp { free(v) }
        // The file was opened and checked, so ENOENT names something the kernel looked up for it:
        // a `#!` interpreter cannot open the close-on-exec fd it is handed (/dev/fd/N), or the
        // interpreter or ELF loader it names is absent.
        if e == Errno(ENOENT) {
            return SystemError("execveat \(Self.describe()) (the fd opened and checked): it is a `#!` script, which cannot be run from the "
                               + "checked fd, or it names an interpreter or loader that is absent; \(fix(Self.describe()))", errno: e)
        }
        return SystemError("execveat \(Self.describe()) (the fd opened and checked)", errno: e)
    }

    static func describe() -> String {
        if case .success(let p) = path() { return p }
        return name
    }

    /// At the launch executable's start: set when the exec of `bulkhead-cli` led back to a
    /// launch executable (it is one, or runs one). Then nothing may be exec'd again.
    package static var reachedAgain: Bool { getenv(loopMarker) != nil }

    /// The refusal `reachedAgain` leads to (status 125): a loop when the marker names this very
    /// process (the launch executable exec'd `bulkhead-cli`, which exec'd a launch executable
    /// again), else the caller's environment (or a `bulkhead-cli` that starts a launch executable
    /// in a new process, which cannot be told apart from it).
    package static func refuseLoop() -> Int32 {
        let value = getenv(loopMarker).map { String(cString: $0) } ?? ""
        if value == String(getpid()) {
            warn("cannot run the full command line: \(describe()) started the launch executable again (it is a launch executable "
                 + "itself, or execs one), so the two would exec each other without end — \(fix(describe()))")
        } else {
            warn("cannot run: \(loopMarker) is set in the environment bulkhead was started with (bulkhead sets it only for the full "
                 + "command line it execs, which removes it); unset it (env -u \(loopMarker)), or, if \(describe()) starts a launch "
                 + "executable itself, \(fix(describe()))")
        }
        return ExitStatus.launchFailed
    }

    /// The full command line's first act: the marker is its caller's business, never a
    /// workload's (a sandbox started from here must not see it).
    package static func clearLoopMarker() { unsetenv(loopMarker) }
}
