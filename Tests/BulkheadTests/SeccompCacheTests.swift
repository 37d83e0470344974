import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The compiled-filter cache saves the parse and compile, and cannot be used to weaken a filter.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SeccompCacheTests {
    func run(_ dir: String) throws -> (cached: Bool?, status: Int32, stdout: String) {
        let r = try Bulkhead.run(["run", "--", "/bin/sh", "-c", "grep Seccomp: /proc/self/status"], report: true,
                                 env: ["BULKHEAD_SECCOMP_CACHE": dir])
        return (r.controls?.seccomp?.cached, r.status, r.stdout)
    }

    @Test("A repeated launch loads the compiled program from the cache")
    func repeatedLaunchHits() throws {
        let dir = NSTemporaryDirectory() + "bh-cache-\(token())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try run(dir).cached == false)
        let second = try run(dir)
        #expect(second.cached == true)
        #expect(second.stdout.contains("2"), "the cached filter is loaded: \(second.stdout)")
    }

    /// A policy read as runc reads it (an unknown name skipped, a contradicting pair resolved, as
    /// in podman's default profile, which every `podman run` sends) is compiled once: the second
    /// run loads it from the cache and warns as the first did, naming the file it read.
    @Test("A policy the loader changed is cached with its warnings")
    func changedPolicyIsCachedWithItsWarnings() throws {
        let dir = NSTemporaryDirectory() + "bh-cache-\(token())"
        let policies = NSTemporaryDirectory() + "bh-policy-\(token())"
        defer { for d in [dir, policies] { try? FileManager.default.removeItem(atPath: d) } }
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        let text = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_call_bh"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}, {"names": ["mkdirat"], "action": "SCMP_ACT_KILL"}]}"#
        func launch(_ file: String) throws -> Bulkhead.Result {
            let path = "\(policies)/\(file)"
            if !FileManager.default.fileExists(atPath: path) { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }
            return try Bulkhead.run(["run", "--seccomp", path, "--", "/bin/sh", "-c", "mkdir /tmp/x; echo $?"], report: true,
                                    env: ["BULKHEAD_SECCOMP_CACHE": dir])
        }
        let first = try launch("a.json")
        let firstChanges = try #require(first.controls?.seccomp?.changes)
        #expect(first.controls?.seccomp?.cached == false)
        #expect(firstChanges.contains { $0.contains("no_such_call_bh") } && firstChanges.allSatisfy { $0.contains("\(policies)/a.json") }, "\(firstChanges)")
        #expect(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "the filter holds: \(first.stdout)")
        // The same text from another file: loaded from the cache, the same warnings, naming b.json.
        let second = try launch("b.json")
        #expect(second.controls?.seccomp?.cached == true)
        #expect(second.controls?.seccomp?.changes == firstChanges.map { $0.replacing("\(policies)/a.json", with: "\(policies)/b.json") })
        #expect(second.stderr.contains("no_such_call_bh"), "the run still warns: \(second.stderr)")
        #expect(second.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "the cached filter holds: \(second.stdout)")
        #expect(second.controls?.seccomp?.bpfInstructions == first.controls?.seccomp?.bpfInstructions)
        // An entry whose notes' length runs past its end, or whose notes are not UTF-8, is
        // recompiled, never sliced out of bounds.
        let entry = try #require(FileIO.listDirectory(dir).first { !$0.hasPrefix(".") })
        for bad in [Array("BHSECCOMP2 SCMP_ACT_ALLOW 2 999999\nabc".utf8), Array("BHSECCOMP2 SCMP_ACT_ALLOW 2 2\n".utf8) + [0xFF, 0xFE] + [UInt8](repeating: 0, count: 8)] {
            try Data(bad).write(to: URL(fileURLWithPath: "\(dir)/\(entry)"))
            chmod("\(dir)/\(entry)", 0o600)
            let r = try launch("a.json")
            #expect(r.controls?.seccomp?.cached == false && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(r.stderr)")
        }
    }

    @Test("Entries anyone else could have written are ignored: mode, owner, symlink, corruption, directory mode")
    func untrustedEntriesAreIgnored() throws {
        let dir = NSTemporaryDirectory() + "bh-cache-\(token())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try run(dir)
        let entry = try #require(FileIO.listDirectory(dir).first { !$0.hasPrefix(".") })
        let path = "\(dir)/\(entry)"

        chmod(path, 0o666)
        #expect(try run(dir).cached == false, "a world-writable entry")
        chmod(path, 0o600)
        #expect(try run(dir).cached == true, "the control: the same entry, private again")

        chown(path, 65534, 65534)
        #expect(try run(dir).cached == false, "an entry owned by another user")
        chown(path, 0, 0)

        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: path)
        try good.write(to: URL(fileURLWithPath: "\(dir)/elsewhere"))
        symlink("\(dir)/elsewhere", path)
        #expect(try run(dir).cached == false, "a symlinked entry")
        try? FileManager.default.removeItem(atPath: path)

        try Data("BHSECCOMP1 SCMP_ACT_ALLOW 0\nxyz".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        let corrupt = try run(dir)
        #expect(corrupt.cached == false && corrupt.status == 0 && corrupt.stdout.contains("2"), "a corrupt entry is recompiled")

        chmod(dir, 0o755)
        #expect(try run(dir).cached == false, "a directory others can read")
    }

    @Test("An entry that is a FIFO is ignored at once: the launch's open does not wait for a writer")
    func fifoEntryDoesNotBlockTheLaunch() throws {
        let dir = NSTemporaryDirectory() + "bh-cache-\(token())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try run(dir)
        let entry = try #require(FileIO.listDirectory(dir).first { !$0.hasPrefix(".") })
        let path = "\(dir)/\(entry)"
        try FileManager.default.removeItem(atPath: path)
        #expect(mkfifo(path, 0o600) == 0)
        // Without O_NONBLOCK the launch's open(2) waits for a writer forever. After 5 s this
        // thread becomes that writer (its non-blocking open succeeds only while a reader waits
        // in open), so a blocked launch ends and the test fails instead of hanging.
        final class Unblocker: @unchecked Sendable {
            let lock = NSLock()
            var done = false, hadToUnblock = false
        }
        let u = Unblocker()
        Thread.detachNewThread {
            for _ in 0..<100 {
                usleep(50_000)
                if u.lock.withLock({ u.done }) { return }
            }
            let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0 { u.lock.withLock { u.hadToUnblock = true }; close(fd) }
        }
        let r = try run(dir)
        u.lock.withLock { u.done = true }
        #expect(!u.lock.withLock { u.hadToUnblock }, "the launch waited in open(2) on the FIFO entry")
        #expect(r.cached == false && r.status == 0 && r.stdout.contains("2"), "the FIFO is not an entry: the filter is compiled")
    }
}
