import Testing
@testable import BulkheadSystem
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The gate of the kernel tests: they need root and writable memory, cpu and pids
/// hierarchies. Off such a host they skip with that reason, except with CI=true, where
/// they run and fail: a green CI run means the kernel behaviour was really checked.
enum CgroupKernelGate {
    static let skipReason: String? = {
        if geteuid() != 0 { return "requires root: the test creates cgroups under /sys/fs/cgroup" }
        guard let host = try? CgroupHost.detect() else { return "no cgroup file system is mounted" }
        for c in ["memory", "cpu", "pids"] {
            let v2 = host.unifiedTarget.map { $0.controllers.contains(c) && $0.writable } ?? false
            let v1 = host.v1Target(for: c)?.writable ?? false
            if !v2 && !v1 { return "no writable cgroup hierarchy carries the \(c) controller" }
        }
        return nil
    }()

    static var enabled: Bool { skipReason == nil || Gate.inCI }

    /// Fails the test (under CI=true) when the host cannot run it.
    static func require() throws {
        try #require(skipReason == nil, "cannot run kernel test: \(skipReason ?? "")")
    }
}

/// A child process that waits for one line on stdin before it does its work, so that the
/// test can move it into the cgroup first (as the launcher does before execve).
final class GatedChild {
    let pid: pid_t
    private var releaseFD: Int32
    private(set) var reaped = false

    init(_ argv: [String]) throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, nil, &cargs, environ)
        close(fds[0])
        if rc != 0 { close(fds[1]) }
        try #require(rc == 0, "posix_spawn \(argv[0]): errno \(rc)")
        pid = child
        releaseFD = fds[1]
    }

    /// `sh -c 'read _; <script>'`.
    convenience init(shell script: String) throws {
        try self.init(["/bin/sh", "-c", "read _; " + script])
    }

    func release() {
        guard releaseFD >= 0 else { return }
        _ = "go\n".withCString { Glibc.write(releaseFD, $0, 3) }
        close(releaseFD)
        releaseFD = -1
    }

    /// waitpid with a deadline; on timeout the child is killed. Returns the raw status.
    func wait(timeoutSeconds: Double) -> Int32? {
        guard !reaped else { return nil }
        let deadline = monotonicSeconds() + timeoutSeconds
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { reaped = true; return status }
            if r < 0 { reaped = true; return nil }
            if monotonicSeconds() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                reaped = true
                return nil
            }
            usleep(5_000)
        }
    }

    deinit {
        if releaseFD >= 0 { close(releaseFD) }
        if !reaped {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Decoders of a wait status (the macros are not imported into Swift).
func exitCode(_ status: Int32) -> Int32? { (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil }
func termSignal(_ status: Int32) -> Int32? {
    let sig = status & 0x7f
    return sig != 0 && sig != 0x7f ? sig : nil
}

/// A test's cgroup path under bulkhead: bhtest-<pid>/<pod>/c-<pid>-<start>-<n>, so that
/// concurrent runs never collide and the leaf is recognisably owned by this process.
func testPath(pod: String, sequence: UInt64) throws -> [String] {
    let leaf = try #require(CgroupLeafName.forCurrentProcess(sequence: sequence))
    return ["bhtest-\(getpid())", pod, leaf.description]
}

/// Asserts that nothing of the test's tree is left in any hierarchy.
func expectNothingLeft(_ host: CgroupHost, sourceLocation: SourceLocation = #_sourceLocation) {
    for t in host.targets {
        let dir = t.baseDirectory + "/bhtest-\(getpid())"
        #expect(access(dir, F_OK) != 0, "left behind: \(dir)", sourceLocation: sourceLocation)
    }
}

func readTrimmed(_ path: String) -> String? {
    guard case .success(let s) = CgroupFS.read(path) else { return nil }
    return s.split(separator: "\n").first.map(String.init) ?? ""
}

/// A test's own cgroup directory `name` beside bulkhead's base, in the v1 pids hierarchy (the
/// cgroup2 one when there is none). `host` has it as its only target's base directory.
func scratchCgroupBase(_ name: String) throws -> (host: CgroupHost, base: String) {
    var host = try CgroupHost.detect()
    var target = try #require(host.v1Target(for: "pids") ?? host.unifiedTarget, "no pids hierarchy")
    let base = String(target.baseDirectory.dropLast(("/" + CgroupHost.subtreeName).count)) + "/" + name
    try #require(mkdir(base, 0o755) == 0, "mkdir \(base): errno \(errno)")
    target.baseDirectory = base
    target.writable = true
    host.targets = [target]
    return (host, base)
}

/// Kills whatever is left in the cgroup tree `dir` and removes it depth first (a test's cleanup,
/// on every path); expects it gone.
func removeCgroupTree(_ dir: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard access(dir, F_OK) == 0 else { return }
    _ = SandboxCgroup.killLoop(directories: [dir], signalFirst: true)
    _ = SandboxCgroup.removeTree(dir)
    #expect(access(dir, F_OK) != 0, "left behind: \(dir)", sourceLocation: sourceLocation)
}

/// A launcher that is gone: a child's pid and real start time, read while it ran, then the
/// child reaped. `sequence` as given.
func goneLauncher(sequence: UInt64 = 0) throws -> CgroupLeafName {
    let gone = try GatedChild(shell: "exit 0")
    let start = try #require(CgroupLeafName.startTime(of: gone.pid))
    gone.release()
    _ = gone.wait(timeoutSeconds: 5)
    return CgroupLeafName(launcherPID: gone.pid, launcherStartTime: start, sequence: sequence)
}
