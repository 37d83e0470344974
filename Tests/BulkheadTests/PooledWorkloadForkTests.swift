import BulkheadSystem
import CShimsTesting
import Foundation
import Glibc
import Testing

/// A pooled launch's workload is started as glibc's posix_spawn starts a program: sharing its
/// init's memory until its execve (CLONE_VM | CLONE_VFORK, CShims/spawn.c `start_workload`),
/// so the init's copy of the pool's address space is not copied again only to be torn down by
/// the execve; never sharing the init's fd table; after the execve sharing nothing. Seen from
/// the host: ptrace of the waiting init (how its child is born, compared with kcmp while both
/// are stopped) and kcmp of the running workload.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct PooledWorkloadForkTests {
    /// The pool's one waiting init (a pool of one, ready), or nil after 10 s.
    static func waitingInit(of pool: WarmPoolTests.Pool) throws -> Int32? {
        for _ in 0..<1000 {
            if try WarmPoolTests.Pool.status(pool.socket)?.ready == 1 {
                let inits = WarmPoolTests.inits(of: pool)
                if inits.count == 1 { return inits.first }
            }
            usleep(10_000)
        }
        return nil
    }

    static func client(_ socket: String, _ command: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        p.arguments = ["run", "--pool", socket, "--"] + command
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func shared(_ a: Int32, _ b: Int32) throws -> (files: Bool, vm: Bool) {
        var files: Int32 = -1, vm: Int32 = -1
        let rc = bh_testing_shared_with(a, b, &files, &vm)
        try #require(rc == 0, "kcmp(\(a), \(b)): errno \(rc)")
        return (files == 1, vm == 1)
    }

    @Test("A pooled workload is born sharing its init's memory (vfork-style), never its fd table; the launch then runs as before")
    func bornSharingMemoryOnly() throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        defer { pool.stop() }
        let initPID = try #require(try Self.waitingInit(of: pool), "no waiting init")
        // Attached on this thread before the request exists; the birth is awaited on it too.
        try #require(bh_testing_watch_births(initPID) == 0, "ptrace the waiting init")
        let p = try Self.client(pool.socket, ["/bin/true"])
        var birth = bh_testing_birth()
        let rc = bh_testing_await_birth(initPID, 20_000, &birth)
        p.waitUntilExit()
        try #require(rc == 0, "the init's workload was not seen born: errno \(rc)")
        #expect(birth.event == 2, "the init started its workload with ptrace event \(birth.event) (1 fork, 2 vfork, 3 clone), not vfork-style")
        #expect(birth.shares_vm == 1, "the workload (\(birth.child)) was born with a copy of its init's address space, not sharing it")
        #expect(birth.shares_files == 0, "the workload (\(birth.child)) was born sharing its init's fd table")
        #expect(p.terminationStatus == 0, "the traced launch's status")
        // The pool serves the next client as before.
        let next = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", "exit 3"], timeout: 50)
        #expect(next.status == 3, "\(next.stderr)")
    }

    @Test("After its execve a pooled workload shares neither fd table nor memory with its init, the pool or the client")
    func sharesNothingAfterExecve() throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        defer { pool.stop() }
        let initPID = try #require(try Self.waitingInit(of: pool), "no waiting init")
        let p = try Self.client(pool.socket, ["/bin/sleep", "30"])
        defer { p.terminate(); p.waitUntilExit() }
        var workload: Int32?
        for _ in 0..<2000 where workload == nil {
            workload = (FileIO.read("/proc/\(initPID)/task/\(initPID)/children") ?? "").split(separator: " ").compactMap { Int32($0) }
                .first { FileIO.read("/proc/\($0)/cmdline")?.hasPrefix("/bin/sleep") == true }
            if workload == nil { usleep(10_000) }
        }
        let w = try #require(workload, "no pooled workload showed up")
        // The probe can say "shared": a process with itself.
        let same = try Self.shared(initPID, initPID)
        #expect(same.files && same.vm, "kcmp of the init with itself: \(same)")
        for other in [initPID, pool.pid, p.processIdentifier] {
            let s = try Self.shared(other, w)
            #expect(!s.files && !s.vm, "the workload (\(w)) shares with \(other) after its execve: \(s)")
        }
    }

    @Test("A pooled workload's failures before and at execve are reported as before, and the pool serves on")
    func failuresAsBefore() throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        defer { pool.stop() }
        let missing = "/no-such-dir-\(token())"
        let cold = try Bulkhead.run(["run", "--workdir", missing, "--", "/bin/true"])
        let warm = try Bulkhead.run(["run", "--pool", pool.socket, "--workdir", missing, "--", "/bin/true"], timeout: 50)
        #expect(warm.status == cold.status && warm.status != 0, "pooled \(warm.status): \(warm.stderr)\ncold \(cold.status): \(cold.stderr)")
        let notExecutable = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/etc/hostname"], timeout: 50)
        #expect(notExecutable.status == 126, "\(notExecutable.stderr)")
        let ok = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", "exit 4"], timeout: 50)
        #expect(ok.status == 4, "\(ok.stderr)")
    }
}
