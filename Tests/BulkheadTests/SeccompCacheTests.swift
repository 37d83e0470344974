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
}
