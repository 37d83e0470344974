import Foundation
import Glibc
import Testing

/// `OwnerLiveness` keeps a record whose launcher it cannot find in the caller's /proc if some
/// process in a child PID namespace has the record's start time and, as its innermost pid, the
/// record's pid. Any local user can make processes with chosen pids in a PID namespace of their
/// own (user namespace, ns_last_pid or clone3 set_tid), so one forked in the same clock tick as a
/// root launcher, with the launcher's pid in its own namespace, kept that launcher's leftovers
/// from every collection for as long as the user liked (the leaf below failed so: left by gc).
@Suite("red team: another user's process does not pass for a dead root launcher (real kernel, root)", .serialized,
       .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamOwnerLivenessTests {
    let ns = PIDNamespaceCollectionTests()

    /// The unified hierarchy's mount point (hybrid hosts mount it at /sys/fs/cgroup/unified).
    var unifiedRoot: String {
        FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.controllers") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup"
    }

    @Test("A leaf named after another user's process in its own PID namespace is collected by gc")
    func otherUsersNestedProcessDoesNotPinALeaf() throws {
        let sleep = ["/bin/sleep", "60.\(UInt16.random(in: 1000...9999))"]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                       "/usr/bin/unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--"] + sleep
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }
        let pid = try #require(ns.waitFor(sleep), "nobody's sleep never ran (unprivileged user namespaces off?)")
        defer { kill(pid, SIGKILL) }
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let nspid = try #require(status.split(separator: "\n").first { $0.hasPrefix("NSpid:") })
        let inner = try #require(nspid.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.flatMap { Int32($0) })
        let close = try #require(stat.lastIndex(of: ")"))
        let start = try #require(UInt64(stat[stat.index(after: close)...].split(separator: " ")[19]))
        // What a root launcher (pid `inner` in its namespace, started in the same tick) that
        // died left: its leaf, in a tenant directory of bulkhead's tree.
        let tenant = unifiedRoot + "/bulkhead/rt-owner-liveness-\(getpid())"
        let leaf = tenant + "/c-\(inner)-\(start)-0"
        try FileManager.default.createDirectory(atPath: leaf, withIntermediateDirectories: true)
        defer { rmdir(leaf); rmdir(tenant) }
        let r = try Bulkhead.run(["gc"])
        #expect(r.status == 0, "gc: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: leaf), "gc kept a dead launcher's leaf because nobody's process had its pid and start time")
    }
}
