import Foundation
import Glibc
import Testing

/// A recording made with the default options runs under the runtimes a pod uses: runc 1.1 and
/// crun 1.8 (their init makes calls after loading the filter; ContainerRuntime.callsAfterFilter)
/// and bulkhead. `--runtime none` leaves those calls out, and runc then cannot start the
/// container: the default is what makes the difference.
///
/// Root, runc, crun, busybox-static (SeccompConsumerTests' rootfs). crun refuses this host's
/// hybrid cgroups; it runs in a private mount namespace with a tmpfs over /sys/fs/cgroup and
/// --cgroup-manager=disabled. With CI=true nothing skips.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SeccompRuntimeTests {
    static let command = ["sh", "-c", "echo replayed; cat /etc/hostname"]

    func record(_ extra: [String]) throws -> String {
        let policy = SeccompConsumerTests.work + "/runtime-\(UInt32.random(in: 0...UInt32.max)).json"
        let r = try Bulkhead.run(["seccomp", "record", "--profile", SeccompConsumerTests.profile, "-o", policy] + extra + ["--"] + Self.command)
        #expect(r.status == 0, "\(r.stderr)")
        return policy
    }

    @Test func defaultRecordingRunsUnderRuncCrunAndBulkhead() throws {
        let policy = try record([])
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        for (name, r) in [("runc", try SeccompConsumerTests.runc(Self.command, seccomp: text)),
                          ("crun", try SeccompConsumerTests.runc(Self.command, seccomp: text, crun: true))] {
            #expect(r.status == 0, "\(name): \(r)")
            #expect(r.stdout == "replayed\nsandbox\n", "\(name): \(r)")
        }
        let b = try Bulkhead.run(["run", "--profile", SeccompConsumerTests.profile, "--seccomp", policy, "--"] + Self.command)
        #expect(b.status == 0 && b.stdout == "replayed\nsandbox\n", "\(b)")
        // The filter is real under each: a call the recording never made is refused.
        let probe = ["sh", "-c", "echo replayed; unshare -U true"]
        for crun in [false, true] {
            let r = try SeccompConsumerTests.runc(probe, seccomp: text, crun: crun)
            #expect(r.status != 0 && r.stderr.contains("Operation not permitted"), "crun \(crun): \(r)")
        }
    }

    @Test func bareRecordingDoesNotStartUnderRunc() throws {
        let policy = try record(["--runtime", "none"])
        let r = try SeccompConsumerTests.runc(Self.command, seccomp: try String(contentsOfFile: policy, encoding: .utf8))
        #expect(r.status != 0, "runc started a container whose init's own calls the policy refuses: \(r)")
        #expect(!r.stdout.contains("replayed"))
        // bulkhead needs none of them: its filter is the last step before execve.
        let b = try Bulkhead.run(["run", "--profile", SeccompConsumerTests.profile, "--seccomp", policy, "--"] + Self.command)
        #expect(b.status == 0 && b.stdout == "replayed\nsandbox\n", "\(b)")
        let bad = try Bulkhead.run(["seccomp", "record", "--runtime", "docker", "--", "true"])
        #expect(bad.status != 0 && bad.stderr.contains("expected none or a comma-separated list of runc, crun"), "\(bad.stderr)")
    }
}
