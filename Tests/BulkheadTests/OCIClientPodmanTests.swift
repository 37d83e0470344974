import Foundation
import Glibc
import Testing

/// podman (Debian's, 4.3 with conmon and CNI) driving an OCI runtime through `--runtime PATH`,
/// each test once with runc (the reference: these tests are proven on it) and once with
/// bulkhead's `bulkhead-runc` (issue 13 §1; a known issue naming the reason while the binary is
/// absent, failed under CI=true). Everything is asserted from inside the container, on the
/// real kernel (/proc/self/status, the cgroup files), or from podman's own report.
///
/// What each test needs from the runtime is in its comment ("Needs"); every test needs
/// create (--bundle, --pid-file, conmon's --console-socket when there is a terminal), start,
/// state, kill and delete, the OCI config's process, root, mounts, namespaces (the network one
/// by path) and cgroupsPath under cgroupfs.
///
/// Uses global state (cgroups, conmon processes, the CNI bridge in its own namespace): run ONLY
/// as `flock /tmp/bh-podtests.lock swift test --skip-build --no-parallel --filter OCIClient`.
@Suite(.enabled(if: OCIClientGate.enabled, OCIClientGate.reason), .serialized)
struct OCIClientPodmanTests {
    static let runtimes = OCIRuntimeUnderTest.allCases

    /// `podman run --rm`: output, exit status, the container removed.
    /// Needs: create/start/state/delete; the exit status reaches conmon.
    @Test(arguments: runtimes)
    func runRm(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let r = try p.sh("echo hello-$((6*7)); exit 3")
            #expect(r.status == 3, "\(r)")
            #expect(r.stdout == "hello-42\n", "\(r)")
            #expect(try p.podman(["ps", "--all", "--quiet"]).stdout.isEmpty)
        }
    }

    /// `run -d`, `exec`, `logs`, `top`, `stop` (SIGTERM; then SIGKILL after the timeout for a
    /// PID 1 without a handler, which SIGTERM does not end), `rm`.
    /// Needs: exec (--process, --detach, --pid-file, exit status), kill by signal name/number
    /// (TERM, then KILL), state "stopped" after the exit, delete; logs come from conmon, top
    /// reads /proc of the container's PID from `state`.
    @Test(arguments: runtimes)
    func detachedExecLogsTopStopRm(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let polite = try p.podman(["run", "-d", "--name", "polite", "--network", "none", p.image,
                                       "sh", "-c", "trap 'echo got-TERM; exit 0' TERM; echo started; while :; do sleep 0.2; done"])
            #expect(polite.status == 0, "\(polite)")
            let stubborn = try p.podman(["run", "-d", "--name", "stubborn", "--network", "none", p.image, "sleep", "1000"])
            #expect(stubborn.status == 0, "\(stubborn)")
            var logs = ""
            let deadline = monotonicSeconds() + 20
            while !logs.contains("started") && monotonicSeconds() < deadline { logs = try p.podman(["logs", "polite"]).output; usleep(50_000) }
            #expect(logs.contains("started"), "podman logs: \(logs)")

            let exec = try p.podman(["exec", "polite", "sh", "-c", "echo exec-$((1+1)); tr '\\0' ' ' < /proc/1/cmdline"])
            #expect(exec.status == 0 && exec.stdout.hasPrefix("exec-2\nsh -c trap"), "\(exec)")
            let failing = try p.podman(["exec", "polite", "sh", "-c", "exit 5"])
            #expect(failing.status == 5, "exec's exit status: \(failing)")

            let top = try p.podman(["top", "polite", "pid", "args"])
            #expect(top.status == 0 && top.stdout.contains("sh -c trap"), "\(top)")

            let stop = try p.podman(["stop", "--time", "20", "polite"])
            #expect(stop.status == 0, "\(stop)")
            #expect(try p.inspect("polite", "{{.State.ExitCode}}") == "0", "the TERM handler ran and exited 0")
            #expect(try p.podman(["logs", "polite"]).output.contains("got-TERM"))

            let kill = try p.podman(["stop", "--time", "1", "stubborn"])
            #expect(kill.status == 0, "\(kill)")
            #expect(kill.stderr.contains("resorting to SIGKILL"), "podman says it sent SIGKILL after the timeout: \(kill)")
            #expect(try p.inspect("stubborn", "{{.State.ExitCode}}") == "137", "killed by SIGKILL")

            let rm = try p.podman(["rm", "polite", "stubborn"])
            #expect(rm.status == 0, "\(rm)")
            #expect(try p.podman(["ps", "--all", "--quiet"]).stdout.isEmpty)
        }
    }

    /// `--memory 32m`: the limit is in the container's memory cgroup, a workload above it is
    /// killed by the kernel's OOM killer (137, and oom_kill counted in the container's own
    /// memory.oom_control), and a PID 1 killed so ends the container with 137.
    /// `podman inspect` should say OOMKilled: here it says false even with runc (podman 4.3 and
    /// conmon 2.1.6 on this cgroup v1 hybrid host write no "oom" file), so that one check is a
    /// known issue, which still passes the day it starts to work.
    /// Needs: linux.resources.memory (limit, swap) written to the cgroupsPath before the
    /// workload runs, the container in that cgroup (where conmon watches for the OOM kill).
    @Test(arguments: runtimes)
    func memoryLimitOOMKilled(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let flags = ["--network", "none", "--memory", "32m", "--memory-swap", "32m"]
            let child = try p.sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes; tail /dev/zero; echo tail=$?; grep oom_kill /sys/fs/cgroup/memory/memory.oom_control",
                                 ["--rm"] + flags)
            #expect(child.status == 0 && child.stdout == "33554432\ntail=137\noom_kill_disable 0\noom_kill 1\n", "\(child)")
            let pid1 = try p.sh("exec tail /dev/zero", ["--name", "hog"] + flags)
            #expect(pid1.status == 137, "\(pid1)")
            let oomKilled = try p.inspect("hog", "{{.State.OOMKilled}}")
            withKnownIssue("podman 4.3 + conmon 2.1.6 on this cgroup v1 hybrid host report OOMKilled=false, with runc too", isIntermittent: true) {
                #expect(oomKilled == "true")
            }
        }
    }

    /// `--cpus 0.05` and `--pids-limit 16`, read from the container's own cgroup files and
    /// enforced: a busy loop is throttled (nr_throttled, within 10 s; 5% of a CPU so that it
    /// is throttled even on this loaded machine, where an unthrottled loop may get less than
    /// half a CPU), forks past 16 pids are refused.
    /// Needs: linux.resources.cpu (quota, period) and pids.limit written to the cgroupsPath.
    @Test(arguments: runtimes)
    func cpusAndPidsLimitEnforced(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            // busybox sh exits when it cannot fork: the forks past the limit are made in a
            // subshell, and the count is read with builtins (read, kill) before anything forks.
            let script = """
            cd /sys/fs/cgroup
            echo quota=$(cat cpu/cpu.cfs_quota_us) period=$(cat cpu/cpu.cfs_period_us) pids=$(cat pids/pids.max)
            sh -c 'while :; do :; done' &
            for i in $(seq 100); do grep -q 'nr_throttled [1-9]' cpu/cpu.stat && break; sleep 0.1; done
            kill -9 -1; wait
            grep nr_throttled cpu/cpu.stat
            (for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24; do sleep 30 & done) 2>/tmp/err
            read c < pids/pids.current; kill -9 -1; wait
            echo current=$c refused=$(grep -c "can't fork" /tmp/err)
            """
            let r = try p.sh(script, ["--rm", "--network", "none", "--cpus", "0.05", "--pids-limit", "16"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.hasPrefix("quota=5000 period=100000 pids=16\n"), "\(r)")
            let throttled = r.stdout.split(separator: "\n").first { $0.hasPrefix("nr_throttled") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            #expect(throttled > 0, "a busy loop at 0.05 CPU is throttled: \(r)")
            let current = r.stdout.split(separator: "\n").first { $0.hasPrefix("current=") }
            let fields = current.map { $0.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" } } ?? []
            #expect(fields.count == 2 && (Int(fields[0]) ?? 99) <= 16 && (Int(fields[1]) ?? 0) > 0, "forks past 16 pids refused: \(r)")
        }
    }

    /// `--network none` (only lo) and the default CNI bridge with `-p`: a server in the
    /// container answers on the test namespace's loopback through podman's port forwarding.
    /// Needs: linux.namespaces network with a path (podman makes the namespace and hands it
    /// over; the CNI plugins configure it), or a new one for none.
    @Test(arguments: runtimes)
    func networkNoneAndBridgePublish(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let none = try p.sh("ls /sys/class/net")
            #expect(none.status == 0 && none.stdout == "lo\n", "\(none)")
            let port = Int.random(in: 20_000...40_000)
            let web = try p.podman(["run", "-d", "--name", "web", "-p", "127.0.0.1:\(port):80", p.image, "httpd", "-f", "-p", "80", "-h", "/www"])
            #expect(web.status == 0, "\(web)")
            let nets = try p.podman(["exec", "web", "ls", "/sys/class/net"])
            // A network namespace podman made (owned by the host's user namespace): the container
            // mounts that namespace's own sysfs, as runc does, so exec lists the bridge's eth0.
            #expect(nets.stdout.contains("eth0"), "the bridge network gives the container an eth0: \(nets)")
            var got = OCIShell.Result(status: -1, stdout: "", stderr: "")
            let deadline = monotonicSeconds() + 20
            while got.status != 0 && monotonicSeconds() < deadline {
                got = try OCIShell.run(p.scratch.namespace.enter(HTTPGet.argv("http://127.0.0.1:\(port)/")), timeout: 10)
                if got.status != 0 { usleep(100_000) }
            }
            #expect(got.status == 0 && got.stdout == "hello-from-the-container\n", "127.0.0.1:\(port) in the test's namespace: \(got)")
            let host = try OCIShell.run(HTTPGet.argv("http://127.0.0.1:\(port)/"), timeout: 10)
            #expect(host.status != 0, "the port is published in the test's namespace only, not on the host's loopback: \(host)")
        }
    }

    /// `podman pause`/`unpause`: the runtime's pause and resume, read from the kernel (the
    /// container's freezer cgroup says FROZEN, then THAWED) and from podman (paused, running);
    /// `rm --force` of a paused container leaves nothing.
    /// Needs: pause/resume through the freezer, state "paused", kill/delete of a paused container.
    @Test(arguments: runtimes)
    func pauseUnpause(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let r = try p.podman(["run", "-d", "--name", "still", "--network", "none", p.image, "sleep", "1000"])
            #expect(r.status == 0, "\(r)")
            let pid = try p.inspect("still", "{{.State.Pid}}")
            let line = ((try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? "").split(separator: "\n")
                .first { $0.split(separator: ":").dropFirst().first == "freezer" }
            let freezer = try #require(line.map { "/sys/fs/cgroup/freezer" + $0.split(separator: ":", maxSplits: 2)[2] + "/freezer.state" }, "the container's freezer cgroup")
            #expect(freezer.contains(p.scratch.cgroupParent), "\(freezer)")
            let pause = try p.podman(["pause", "still"])
            #expect(pause.status == 0, "\(pause)")
            #expect(readTrimmed(freezer) == "FROZEN")
            #expect(try p.inspect("still", "{{.State.Status}}") == "paused")
            let unpause = try p.podman(["unpause", "still"])
            #expect(unpause.status == 0, "\(unpause)")
            #expect(readTrimmed(freezer) == "THAWED")
            #expect(try p.inspect("still", "{{.State.Status}}") == "running")
            #expect(try p.podman(["pause", "still"]).status == 0)
            let rm = try p.podman(["rm", "--force", "--time", "0", "still"])
            #expect(rm.status == 0, "\(rm)")
            #expect(try p.podman(["ps", "--all", "--quiet"]).stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: freezer), "the freezer cgroup is removed")
        }
    }

    /// `--read-only`, `--user`, `--cap-drop`/`--cap-add`, asserted on the kernel from inside.
    /// Needs: root.readonly, process.user (uid, gid, additionalGids), the five capability sets.
    @Test(arguments: runtimes)
    func readOnlyUserCapabilities(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let ro = try p.sh("touch /x 2>&1; awk '$2 == \"/\" {print $4}' /proc/mounts", ["--rm", "--network", "none", "--read-only"])
            #expect(ro.stdout.contains("Read-only file system") && ro.stdout.split(separator: "\n").last?.hasPrefix("ro,") == true, "\(ro)")
            let rw = try p.sh("touch /x && echo wrote")
            #expect(rw.stdout == "wrote\n", "the control: without --read-only / is writable: \(rw)")

            let user = try p.sh("id -u; id -g; grep -E '^(Uid|Gid):' /proc/self/status", ["--rm", "--network", "none", "--user", "65534:65534"])
            #expect(user.stdout == "65534\n65534\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\n", "\(user)")

            let only = try p.sh("grep -E '^Cap(Prm|Eff|Bnd):' /proc/self/status", ["--rm", "--network", "none", "--cap-drop", "all", "--cap-add", "NET_RAW"])
            #expect(only.stdout == "CapPrm:\t0000000000002000\nCapEff:\t0000000000002000\nCapBnd:\t0000000000002000\n", "NET_RAW (bit 13) only: \(only)")
            let noChown = try p.sh("grep CapEff /proc/self/status; touch /tmp/f; chown 65534 /tmp/f 2>&1; echo rc=$?", ["--rm", "--network", "none", "--cap-drop", "CHOWN"])
            let eff = statusField(noChown.stdout, "CapEff").flatMap { UInt64($0, radix: 16) } ?? 1
            #expect(eff & 1 == 0 && eff & (1 << 5) != 0, "CHOWN (bit 0) dropped, KILL (bit 5) kept: \(noChown)")
            #expect(noChown.stdout.contains("Operation not permitted") && noChown.stdout.hasSuffix("rc=1\n"), "\(noChown)")
        }
    }

    /// `--security-opt seccomp=FILE` (a profile of the test's own), podman's default profile
    /// (its swapoff rule), `seccomp=unconfined` as the control, and `no-new-privileges`.
    /// Needs: linux.seccomp (the engine's profile, Docker's format translated by podman, with
    /// errnoRet and argument conditions), process.noNewPrivileges.
    @Test(arguments: runtimes)
    func seccompAndNoNewPrivileges(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let profile = p.dir + "/deny-mkdir.json"
            try #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#
                .write(toFile: profile, atomically: false, encoding: .utf8)
            let own = try p.sh("grep '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>&1; echo rc=$?", ["--rm", "--network", "none", "--security-opt", "seccomp=\(profile)"])
            #expect(own.stdout.hasPrefix("Seccomp:\t2\n") && own.stdout.contains("Operation not permitted") && own.stdout.hasSuffix("rc=1\n"), "\(own)")

            // podman's default profile refuses swapoff even with CAP_SYS_ADMIN (EPERM), where
            // the kernel alone answers ENOENT for a missing file: the control is unconfined.
            let byDefault = try p.sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/d && echo made; swapoff /nonexistent 2>&1",
                                     ["--rm", "--network", "none", "--cap-add", "SYS_ADMIN"])
            #expect(byDefault.stdout == "NoNewPrivs:\t0\nSeccomp:\t2\nmade\nswapoff: /nonexistent: Operation not permitted\n", "\(byDefault)")
            let unconfined = try p.sh("grep '^Seccomp:' /proc/self/status; swapoff /nonexistent 2>&1",
                                      ["--rm", "--network", "none", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined"])
            #expect(unconfined.stdout == "Seccomp:\t0\nswapoff: /nonexistent: No such file or directory\n", "the control: without a filter the kernel answers: \(unconfined)")

            let nnp = try p.sh("grep '^NoNewPrivs:' /proc/self/status", ["--rm", "--network", "none", "--security-opt", "no-new-privileges"])
            #expect(nnp.stdout == "NoNewPrivs:\t1\n", "\(nnp)")
        }
    }

    /// `podman run -it` driven through tmux: a terminal inside (/dev/pts), its size from the
    /// pane, typed input and the exit status.
    /// Needs: process.terminal with the pty's master sent over conmon's --console-socket,
    /// consoleSize, the devpts mount.
    @Test(arguments: runtimes)
    func interactiveTerminal(_ runtime: OCIRuntimeUnderTest) throws {
        try PodmanClient.with(runtime) { p in
            let sock = p.dir + "/tmux.sock"
            let tmux = ["tmux", "-S", sock]
            defer { _ = try? OCIShell.run(tmux + ["kill-server"]) }
            let cmd = p.scratch.namespace.enter(p.command(["run", "-it", "--rm", "--name", "tty", "--network", "none", p.image, "sh"]))
            let start = try OCIShell.run(tmux + ["new-session", "-d", "-s", "bh", "-x", "100", "-y", "30"] + cmd, env: ["TERM": "xterm"])
            try #require(start.status == 0, "\(start)")
            func screen() throws -> String { try OCIShell.run(tmux + ["capture-pane", "-p", "-t", "bh"]).stdout }
            func waitFor(_ text: String) throws -> String {
                var s = ""
                let deadline = monotonicSeconds() + 30
                while monotonicSeconds() < deadline {
                    s = try screen()
                    if s.contains(text) { break }
                    usleep(50_000)
                }
                return s
            }
            #expect(try waitFor("#").contains("#"), "the shell's prompt")
            try OCIShell.run(tmux + ["send-keys", "-t", "bh", "tty; stty size; echo mark-$((6*7))", "Enter"])
            let s = try waitFor("mark-42")
            #expect(s.contains("/dev/pts/0") && s.contains("\n30 100\n") && s.contains("mark-42"), "screen:\n\(s)")
            try OCIShell.run(tmux + ["send-keys", "-t", "bh", "exit", "Enter"])
            let deadline = monotonicSeconds() + 30
            while try OCIShell.run(tmux + ["has-session", "-t", "bh"]).status == 0 && monotonicSeconds() < deadline { usleep(50_000) }
            #expect(try OCIShell.run(tmux + ["has-session", "-t", "bh"]).status != 0, "the session ends with the shell")
            #expect(try p.podman(["ps", "--all", "--quiet"]).stdout.isEmpty)
        }
    }
}

/// An HTTP GET with Python's standard library (the host's busybox-static wget crashes on this
/// Debian build): prints the body, exits non-zero on any error.
enum HTTPGet {
    static func argv(_ url: String) -> [String] {
        ["python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())", url]
    }
}
