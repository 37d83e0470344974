import Bulkhead
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The eBPF recorder of `bulkhead seccomp record` against the ptrace one: the same calls on the
/// same workloads (threads, fork, exec from a thread, an orphan outliving its parent, i386 and
/// x32 calls), a lost task made an error, and the fallback chosen and said.
///
/// Needs root (eBPF) and a C compiler (gcc).
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct FastRecorderTests {
    static let work = SeccompConsumerTests.work

    /// A workload that exercises what a recorder can miss. Each distinctive call is made once:
    /// - i386 getpid (int $0x80) and x32 getpid, from a 64-bit program;
    /// - getcpu from a thread;
    /// - getppid from a forked child; sched_getscheduler from its child, an orphan that makes the
    ///   call after its parent has exited;
    /// - sysinfo after an execve made by a thread that is not the leader (the kernel gives the
    ///   thread the leader's tid: de_thread).
    static let probe: String = {
        let src = work + "/recprobe.c", exe = work + "/recprobe"
        try? """
        #include <pthread.h>
        #include <string.h>
        #include <sys/syscall.h>
        #include <sys/sysinfo.h>
        #include <sys/wait.h>
        #include <unistd.h>
        static void *cpu(void *x) { syscall(SYS_getcpu, 0, 0, 0); return x; }
        static void *reexec(void *x) {
            char *argv[] = {"recprobe", "stage2", 0};
            execv("/proc/self/exe", argv);
            _exit(99);
            return x;
        }
        int main(int argc, char **argv) {
            if (argc > 1 && strcmp(argv[1], "stage2") == 0) { struct sysinfo si; syscall(SYS_sysinfo, &si); return 0; }
            long r;
            __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory"); /* i386 getpid */
            syscall(39 | 0x40000000);                                        /* x32 getpid */
            pthread_t t;
            pthread_create(&t, 0, cpu, 0);
            pthread_join(t, 0);
            pid_t c = fork();
            if (c == 0) {
                syscall(SYS_getppid);
                if (fork() == 0) { usleep(50000); syscall(SYS_sched_getscheduler, 0); _exit(0); }
                _exit(0);
            }
            waitpid(c, 0, 0);
            usleep(300000);
            pthread_create(&t, 0, reexec, 0);
            for (;;) pause();
        }
        """.write(toFile: src, atomically: true, encoding: .utf8)
        _ = try? SeccompConsumerTests.shell("cc -O1 -pthread -o \(exe) \(src)")
        return exe
    }()

    struct Recorded {
        var status: Int32
        var stderr: String
        var recorder: [String: Any]
        var calls: Set<String>
        /// "arch/name" -> firstExecutable.
        var firsts: [String: String]
        var arguments: NSDictionary
    }

    static func record(_ command: [String], recorder: String, extra: [String] = []) throws -> Recorded {
        let report = work + "/fast-\(recorder).report"
        try? FileManager.default.removeItem(atPath: report)
        let r = try Bulkhead.run(["seccomp", "record", "--recorder", recorder, "--report", report, "-o", "/dev/null"] + extra + ["--"] + command)
        guard FileManager.default.fileExists(atPath: report) else {
            return Recorded(status: r.status, stderr: r.stderr, recorder: [:], calls: [], firsts: [:], arguments: [:])
        }
        let rep = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        let calls = try #require(rep["syscalls"] as? [[String: Any]])
        return Recorded(status: r.status, stderr: r.stderr, recorder: rep["recorder"] as? [String: Any] ?? [:],
                        calls: Set(calls.map { "\($0["arch"] ?? "?")/\($0["name"] ?? "?")/\($0["number"] ?? "?")" }),
                        firsts: Dictionary(calls.compactMap { c in (c["firstExecutable"] as? String).map { ("\(c["arch"] ?? "?")/\(c["name"] ?? "?")", $0) } },
                                           uniquingKeysWith: { a, _ in a }),
                        arguments: (rep["arguments"] as? NSDictionary) ?? [:])
    }

    @Test func bothRecordersSeeTheSameCalls() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.probe), "needs a C compiler (gcc)")
        let workloads: [[String]] = [
            [Self.probe],
            // The sleeps take the timing out: the background child has ended before `wait` (no
            // rt_sigsuspend), the thread has ended before the process (its madvise and exit).
            ["sh", "-c", "ls / >/dev/null && cat /etc/hostname && true & sleep 0.3; wait"],
            ["python3", "-c", "import socket, threading, time; t = threading.Thread(target=lambda: socket.socket(socket.AF_UNIX)); t.start(); t.join(); time.sleep(0.3)"],
        ]
        for w in workloads {
            let fast = try Self.record(w, recorder: "ebpf")
            let slow = try Self.record(w, recorder: "ptrace")
            #expect(fast.status == 0, "\(w): \(fast.stderr)")
            #expect(slow.status == 0, "\(w): \(slow.stderr)")
            #expect(fast.recorder["kind"] as? String == "ebpf" && slow.recorder["kind"] as? String == "ptrace")
            #expect(fast.stderr.contains("# recorder: ebpf\n"), "\(fast.stderr)")
            #expect(!fast.calls.isEmpty)
            #expect(fast.calls.symmetricDifference(slow.calls).subtracting(Self.nondeterministic).isEmpty,
                    "\(w): only eBPF \(fast.calls.subtracting(slow.calls).sorted()), only ptrace \(slow.calls.subtracting(fast.calls).sorted())")
            #expect(fast.arguments == slow.arguments, "\(w): \(fast.arguments) vs \(slow.arguments)")
            if w == [Self.probe] {
                for call in ["i386/getpid/20", "x32/getpid/1073741863", "x86_64/getcpu/309", "x86_64/getppid/110",
                             "x86_64/sched_getscheduler/145", "x86_64/sysinfo/99"] {
                    #expect(fast.calls.contains(call), "eBPF missed \(call)")
                    #expect(slow.calls.contains(call), "ptrace missed \(call)")
                }
                // The first executable: the probe's own path under both (the path its execve named
                // for eBPF, /proc/TID/exe for ptrace: the same here, no symlink on the way).
                for call in ["i386/getpid", "x32/getpid", "x86_64/getcpu", "x86_64/sched_getscheduler"] {
                    #expect(fast.firsts[call] == Self.probe, "eBPF: \(call) first by \(fast.firsts[call] ?? "nil")")
                    #expect(slow.firsts[call] == Self.probe, "ptrace: \(call) first by \(slow.firsts[call] ?? "nil")")
                }
                #expect(fast.firsts["x86_64/execve"] == "(bulkhead, before the workload's execve)")
            }
        }
    }

    /// Calls whose presence depends on timing, not on the recorder: a futex wait happens only
    /// when threads meet; wait4 may return at once.
    static let nondeterministic: Set<String> = ["x86_64/futex/202", "x86_64/sched_yield/24"]

    @Test func aTaskThatCannotBeFollowedIsAnError() throws {
        // Room for two tasks: the init and the workload; the shell's child does not fit.
        let store = ProfileStore.standard()
        let request = RunRequest(layers: try store.layers(for: "container"), command: ["sh", "-c", "true & wait"])
        let prepared = try SyscallRecorder.prepare(request, store: store, recorder: .ebpf, taskCapacity: 2)
        let result = SyscallRecorder.run(prepared)
        #expect(result.report.exitCode == 0)
        #expect(result.recording.stats.recorder == "ebpf")
        let error = try #require(result.recorderError, "a lost task must make the recording an error")
        #expect(error.contains("could not follow every task"))

        // The control: with room, the same run is complete.
        let roomy = SyscallRecorder.run(try SyscallRecorder.prepare(request, store: store, recorder: .ebpf))
        #expect(roomy.recorderError == nil)
        #expect(roomy.recording.stats.tasks >= 2)

        // Once the sandbox is gone, no task is followed: every entry went at its task's exit,
        // so a tid the kernel hands out again is never counted for another process.
        let kept = try SyscallRecorder.prepare(RunRequest(layers: try store.layers(for: "container"),
                                                          command: ["sh", "-c", "sleep 0.1 & sleep 0.1 & wait"]),
                                               store: store, recorder: .ebpf)
        let fast = try #require(kept.fastRecorder)
        #expect(Sandbox.run(kept).exitCode == 0)
        #expect(try fast.followedTasks() == 0)
        fast.close()
    }

    @Test func theFallbackIsChosenAndSaid() throws {
        // A profile in the host's PID namespace: a task could outlive the init, which eBPF would
        // stop seeing; ptrace (EXITKILL) is used, and the report and stderr say why.
        let profile = Self.work + "/hostpid-profile.yaml"
        try """
        apiVersion: bulkhead.dev/v1alpha1
        kind: LayerProfile
        metadata:
          name: hostpid
        extends: container
        namespaces:
          pid: false
          user: false
        """.write(toFile: profile, atomically: true, encoding: .utf8)
        let auto = try Self.record(["sh", "-c", "true"], recorder: "auto", extra: ["--profile", profile])
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect(auto.recorder["kind"] as? String == "ptrace")
        let why = try #require(auto.recorder["fallbackReason"] as? String)
        #expect(why.contains("PID namespace"))
        #expect(auto.stderr.contains("# recorder: ptrace (eBPF not used: "), "\(auto.stderr)")
        #expect(auto.calls.contains("x86_64/execve/59"))

        let forced = try Self.record(["sh", "-c", "true"], recorder: "ebpf", extra: ["--profile", profile])
        #expect(forced.status == 125, "\(forced.stderr)")
        #expect(forced.stderr.contains("eBPF recorder"), "\(forced.stderr)")

        // Rootless (the unconfined profile: no limits to need a delegated cgroup): ptrace, said.
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        let rootless = try Bulkhead.run(["seccomp", "record", "--profile", "unconfined", "-o", "/dev/null", "--", "true"], prefix: nobody)
        #expect(rootless.status == 0, "\(rootless.stderr)")
        #expect(rootless.stderr.contains("# recorder: ptrace (eBPF not used: bulkhead runs without root (euid 65534)"), "\(rootless.stderr)")

        // The default profile: eBPF, no reason.
        let normal = try Self.record(["sh", "-c", "true"], recorder: "auto")
        #expect(normal.recorder["kind"] as? String == "ebpf")
        #expect(normal.recorder["fallbackReason"] is NSNull)
    }
}
