import Foundation
import Glibc
import Testing

/// containerd 1.6 (Debian's), started by the test as a background process with its own root,
/// state, socket and config, and its runc v2 shim (`containerd-shim-runc-v2`) calling the
/// runtime named by `ctr run --runc-binary PATH` — the shim Kubernetes nodes use (a
/// RuntimeClass handler's `BinaryName`, docs/kubernetes.md). Each test runs with runc and with
/// `bulkhead-runc` (a known issue naming the reason while it is absent; failed under CI=true).
///
/// Uses global state (cgroups, shim processes): run ONLY as
/// `flock /tmp/bh-podtests.lock swift test --skip-build --no-parallel --filter OCIClient`.
@Suite(.enabled(if: OCIClientGate.enabled, OCIClientGate.reason), .serialized)
struct OCIClientContainerdTests {
    static let runtimes = OCIRuntimeUnderTest.allCases

    /// `ctr run --rm` (output, exit status), `run -d`, `task exec` (output, exit status),
    /// `task ps`, `task kill` (SIGTERM reaches the handler: exit 7), `task delete`,
    /// `container delete`.
    /// Needs: create (--bundle, --pid-file, --no-pivot off, the shim as subreaper), start,
    /// state, kill, delete (--force), exec (--process, --detach, --pid-file), ps --format json.
    @Test(arguments: runtimes)
    func runExecKillDelete(_ runtime: OCIRuntimeUnderTest) throws {
        try ContainerdClient.with(runtime) { c in
            let events = try c.events()
            defer { events.stop() }
            let once = try c.run("once", ["--rm"], ["sh", "-c", "echo hello-$((6*7)); exit 3"])
            #expect(once.status == 3 && once.stdout == "hello-42\n", "\(once)")

            let d = try c.run("svc", ["-d"], ["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.2; done"])
            #expect(d.status == 0, "\(d)")
            let running = try c.waitForTask("svc", "RUNNING")
            #expect(running, "ctr task ls never showed svc RUNNING")

            let exec = try c.ctr(["task", "exec", "--exec-id", "e1", "svc", "sh", "-c", "echo exec-$((1+1)); tr '\\0' ' ' < /proc/1/cmdline"])
            #expect(exec.status == 0 && exec.stdout.hasPrefix("exec-2\nsh -c trap"), "\(exec)")
            let failing = try c.ctr(["task", "exec", "--exec-id", "e2", "svc", "sh", "-c", "exit 5"])
            #expect(failing.status == 5, "exec's exit status: \(failing)")

            let ps = try c.ctr(["task", "ps", "svc"])
            #expect(ps.status == 0 && ps.stdout.split(separator: "\n").count >= 2, "the task's processes: \(ps)")

            let kill = try c.ctr(["task", "kill", "svc"])
            #expect(kill.status == 0, "\(kill)")
            let stopped = try c.waitForTask("svc", "STOPPED")
            #expect(stopped, "ctr task ls never showed svc STOPPED")
            #expect(try events.waitFor(#"/tasks/exit {"container_id":"svc","id":"svc","#, then: #""exit_status":7"#), "SIGTERM ran the handler: \(events.text)")
            let del = try c.ctr(["task", "delete", "svc"])
            #expect(del.status == 0, "\(del)")
            let rm = try c.ctr(["container", "delete", "svc"])
            #expect(rm.status == 0, "\(rm)")
            #expect(try c.ctr(["container", "ls", "--quiet"]).stdout.isEmpty)
        }
    }

    /// A task over its `--memory-limit` is killed (137) and containerd reports the OOM
    /// (`/tasks/oom`, which the shim reads from the task's memory cgroup). The limit is read
    /// from the host, in the task's cgroup (the test's parent/ID), before the task is let go.
    /// Needs: linux.resources.memory written to the cgroupsPath, the task in that cgroup,
    /// exec (to let it go).
    @Test(arguments: runtimes)
    func taskKilledByItsMemoryLimit(_ runtime: OCIRuntimeUnderTest) throws {
        try ContainerdClient.with(runtime) { c in
            let events = try c.events()
            defer { events.stop() }
            let r = try c.run("hog", ["-d", "--memory-limit", "33554432"],
                              ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exec tail /dev/zero"])
            #expect(r.status == 0, "\(r)")
            let running = try c.waitForTask("hog", "RUNNING")
            #expect(running)
            let limit = readTrimmed("/sys/fs/cgroup/memory\(c.scratch.cgroupParent)/hog/memory.limit_in_bytes")
                ?? readTrimmed("/sys/fs/cgroup\(c.scratch.cgroupParent)/hog/memory.max")
            #expect(limit == "33554432", "the task's memory cgroup under the test's parent")
            let go = try c.ctr(["task", "exec", "--exec-id", "go", "hog", "touch", "/tmp/go"])
            let exited = try events.waitFor(#"/tasks/exit {"container_id":"hog","id":"hog","#, then: #""exit_status":137"#)
            let oom = try events.waitFor(#"/tasks/oom {"container_id":"hog"}"#)
            let taskDeleted = try c.ctr(["task", "delete", "hog"]).status == 0
            let containerDeleted = try c.ctr(["container", "delete", "hog"]).status == 0
            #expect(go.status == 0, "\(go)")
            #expect(exited, "killed: \(events.text)")
            #expect(oom, "containerd saw the OOM kill: \(events.text)")
            #expect(taskDeleted)
            #expect(containerDeleted)
        }
    }
}

/// `ctr events` in the background, its lines in a file.
final class ContainerdEvents {
    let pid: pid_t
    let file: String
    init(pid: pid_t, file: String) { self.pid = pid; self.file = file }
    var text: String { (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }

    /// Whether a line containing `line` (and `then` after it on the same line) appears
    /// within 10 s.
    func waitFor(_ line: String, then: String = "") throws -> Bool {
        let deadline = monotonicSeconds() + 10
        while monotonicSeconds() < deadline {
            if text.split(separator: "\n").contains(where: { $0.contains(line) && (then.isEmpty || $0.contains(then)) }) { return true }
            usleep(20_000)
        }
        return false
    }

    func stop() {
        kill(pid, SIGTERM)
        var st: Int32 = 0
        _ = waitpid(pid, &st, 0)
    }
}

extension ContainerdClient {
    func events() throws -> ContainerdEvents {
        let file = dir + "/events-\(token()).txt"
        let pid = try OCIShell.spawn(scratch.namespace.enter(command(["events"])), stdout: file, stderr: file)
        // Subscribed once it answers: wait until a no-op shows it is connected.
        usleep(300_000)
        return ContainerdEvents(pid: pid, file: file)
    }

    /// Whether `ctr task ls` shows the task in `status` within 20 s.
    func waitForTask(_ id: String, _ status: String) throws -> Bool {
        let deadline = monotonicSeconds() + 20
        while monotonicSeconds() < deadline {
            let ls = try ctr(["task", "ls"])
            if ls.stdout.split(separator: "\n").contains(where: { $0.hasPrefix(id + " ") && $0.hasSuffix(status) }) { return true }
            usleep(50_000)
        }
        return false
    }
}
