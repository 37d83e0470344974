import Foundation
import Glibc
import Testing

/// /proc/PID/stat's start time (field 22) is shown shifted by the READER's boottime offset
/// (time_namespaces(7)). A launcher in a time namespace of its own (`unshare --time --boottime N
/// bulkhead run …`: a CRIU-restored or LXC container, an admin's shell) named its leaves with
/// its shifted start time, and read every other launcher's shifted too: each side took the
/// other's live sandbox for a dead launcher's and SIGKILLed it, in the same PID namespace or a
/// nested one, until start times were read as the initial time namespace shows them
/// (`HostStartTime`). The two host-direction tests failed so with main's binary; the other
/// direction was shown by hand (it SIGKILLs every live sandbox on the machine).
@Suite("stale collection across time namespaces (real kernel, root)", .serialized,
       .enabled(if: Gate.root, Gate.rootReason))
struct TimeNamespaceCollectionTests {
    /// One day ahead: whole seconds, so a whole number of clock ticks.
    static let timens = ["/usr/bin/unshare", "--time", "--boottime", "86400", "--"]
    static let timensAndPidns = ["/usr/bin/unshare", "--time", "--boottime", "86400", "--pid", "--fork", "--mount-proc", "--"]
    let ns = PIDNamespaceCollectionTests()

    @Test("A host launch leaves alone the live sandbox of a launcher in a time namespace")
    func hostLaunchSparesTimeNamespacedSandbox() throws {
        let (other, sleep) = try ns.background(prefix: Self.timens)
        defer { ns.stop(other, sleep: sleep) }
        let r = try Bulkhead.run(["run", "--", "/bin/true"])
        #expect(r.status == 0, "the host launch: \(r.stderr)")
        #expect(ns.isRunning(sleep), "the host launch's stale collection killed the time-namespaced launcher's live sandbox")
        #expect(other.isRunning, "the time-namespaced launcher ended")
    }

    @Test("A launch in a time namespace leaves alone the live sandbox of a host launcher")
    func timeNamespacedLaunchSparesHostSandbox() throws {
        let (host, sleep) = try ns.background(prefix: [])
        defer { ns.stop(host, sleep: sleep) }
        let r = try Bulkhead.run(["run", "--", "/bin/true"], prefix: Self.timens)
        #expect(r.status == 0, "the time-namespaced launch: \(r.stderr)")
        #expect(ns.isRunning(sleep), "the time-namespaced launch's stale collection killed the host launcher's live sandbox")
        #expect(host.isRunning, "the host launcher ended")
    }

    @Test("`bulkhead gc` on the host leaves alone a live launcher in its own time and PID namespaces")
    func hostGCSparesNestedTimeNamespacedSandbox() throws {
        let (other, sleep) = try ns.background(prefix: Self.timensAndPidns)
        defer { ns.stop(other, sleep: sleep) }
        let r = try Bulkhead.run(["gc"])
        #expect(r.status == 0, "gc: \(r.stderr)")
        #expect(ns.isRunning(sleep), "the host's gc killed the nested time-namespaced launcher's live sandbox")
        #expect(other.isRunning, "the nested launcher ended")
    }
}
