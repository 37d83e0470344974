import Foundation
import Glibc
import Testing

/// A launcher in a PID namespace of its own (`unshare -pf --mount-proc bulkhead run …`) makes its
/// leaves beside the host's, in the same cgroup tree. Every launch collects stale leaves by the
/// launcher pid and start time in their names; each side's pids mean nothing in the other's
/// /proc. Before `OwnerLiveness`, each side took the other's live sandbox for a dead launcher's
/// and SIGKILLed it (both tests failed so: the sleep was gone after the other side's launch).
@Suite("stale collection across PID namespaces (real kernel, root)", .serialized,
       .enabled(if: Gate.root, Gate.rootReason))
struct PIDNamespaceCollectionTests {
    static let unshare = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--"]

    /// The pid (host view) of the process whose command line is exactly `argv`, once it runs.
    func waitFor(_ argv: [String], seconds: Double = 20) -> Int32? {
        let wanted = argv.joined(separator: "\0") + "\0"
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(name),
                      let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
                      String(decoding: data, as: UTF8.self) == wanted else { continue }
                return pid
            }
            usleep(20_000)
        }
        return nil
    }

    func isRunning(_ pid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Starts `bulkhead run -- /bin/sleep N` in the background (with `prefix` before it), and
    /// returns it with the sleep's host pid.
    func background(prefix: [String]) throws -> (Process, Int32) {
        let sleep = ["/bin/sleep", "60.\(UInt16.random(in: 1000...9999))"]
        let p = Process()
        let argv = prefix + [Bulkhead.binary, "run", "--"] + sleep
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        guard let pid = waitFor(sleep) else {
            p.terminate(); p.waitUntilExit()
            throw TestFailure("the background sandbox's sleep never ran")
        }
        return (p, pid)
    }

    struct TestFailure: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

    func stop(_ p: Process, sleep: Int32) {
        kill(sleep, SIGTERM)
        let deadline = Date().addingTimeInterval(15)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
    }

    @Test("A host launch leaves alone the live sandbox of a launcher in a child PID namespace")
    func hostLaunchSparesNestedSandbox() throws {
        let (nested, sleep) = try background(prefix: Self.unshare)
        defer { stop(nested, sleep: sleep) }
        let r = try Bulkhead.run(["run", "--", "/bin/true"])
        #expect(r.status == 0, "the host launch: \(r.stderr)")
        #expect(isRunning(sleep), "the host launch's stale collection killed the nested launcher's live sandbox")
        #expect(nested.isRunning, "the nested launcher ended")
    }

    @Test("A launch in a child PID namespace leaves alone the live sandbox of a host launcher")
    func nestedLaunchSparesHostSandbox() throws {
        let (host, sleep) = try background(prefix: [])
        defer { stop(host, sleep: sleep) }
        let r = try Bulkhead.run(["run", "--", "/bin/true"], prefix: Self.unshare)
        #expect(r.status == 0, "the nested launch: \(r.stderr)")
        #expect(isRunning(sleep), "the nested launch's stale collection killed the host launcher's live sandbox")
        #expect(host.isRunning, "the host launcher ended")
    }
}
