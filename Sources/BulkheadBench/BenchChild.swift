import BulkheadSystem
import Glibc

/// A host process the bench starts (the shell that joins an experiment's cgroups and execs
/// bulkhead, or the VM lane's script) and waits for itself: `posix_spawn`, then `waitpid` on
/// that pid alone. Whether it still runs and how it ended come from the kernel, never from
/// Foundation's `Process`, whose notice of a child's exit goes through CFSocket's socket thread:
/// on a machine without a loopback (the lane's VM booted with `lo` down) that thread's wakeup
/// sockets (UDP on 127.0.0.1) cannot be made, it never sees a socket added while it waits, and
/// `isRunning` stayed true for a child that had exited: the bench polled it forever. An
/// unreaped child stays a zombie and keeps its pid, so `waitpid` cannot miss its exit and a
/// signal by pid cannot reach another process.
final class BenchChild {
    let pid: pid_t
    let arguments: [String]
    /// Exit status, or the signal's number when a signal ended it (as `Process` reported it);
    /// nil while it runs.
    private(set) var status: Int32?

    /// Starts `path` with `arguments` (argv[1...]) and `environment`, stdin /dev/null,
    /// stdout to `stdout` and stderr to `stderr` (existing files, written from offset 0), in a
    /// process group of its own. No descriptor of the bench's above 2 reaches it.
    init(path: String, arguments: [String], environment: [String: String], stdout: String, stderr: String) throws {
        // Nothing of the bench's (the report, the scratch files, Foundation's sockets) reaches
        // the child.
        SpawnDefaults.closeOnExecAbove2()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY, 0)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        let signals = SpawnDefaults.resetSignals(&attr)
        // A process group of its own (pgid 0: its pid), as Foundation's Process made it.
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP) | signals)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for a in argv { free(a) }; for e in envp { free(e) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw BenchError("start \(path): posix_spawn: \(Errno(rc))") }
        pid = child
        self.arguments = arguments
    }

    /// Whether it still runs: reaps it (once) when it has ended.
    var isRunning: Bool {
        if status != nil { return false }
        var st: Int32 = 0
        let r = waitpid(pid, &st, WNOHANG)
        if r == pid { status = Self.decode(st); return false }
        if r < 0 && errno != EINTR { status = -1; return false }  // ECHILD: reaped by no one else; nothing to wait for
        return true
    }

    /// Sends `signal` while it has not been reaped (its pid is still its own).
    func signal(_ signal: Int32) {
        if status == nil { _ = kill(pid, signal) }
    }

    private static func decode(_ st: Int32) -> Int32 {
        let sig = st & 0x7f
        return sig == 0 ? (st >> 8) & 0xff : sig
    }
}
