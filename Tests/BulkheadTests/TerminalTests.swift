import Foundation
import Glibc
import Testing
import BulkheadModel

/// `--tty`: the workload's terminal is a pty that bulkhead owns, never the caller's.
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct TerminalTests {
    static let inspect = """
        import os, fcntl, termios
        print("isatty", os.isatty(0), os.isatty(1))
        print("leader", os.getsid(0) == os.getpid())
        print("ctty", int(open("/proc/self/stat").read().split(")")[1].split()[4]) != 0)
        try:
            fcntl.ioctl(0, termios.TIOCSTI, b"x"); print("TIOCSTI ok")
        except OSError as e: print("TIOCSTI", e.errno)
        """

    @Test("--tty: the workload leads its own session on bulkhead's pty; TIOCSTI is still refused")
    func ownPty() throws {
        let r = try Bulkhead.run(["run", "--tty", "--", "python3", "-c", Self.inspect])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("isatty True True"), "\(r.stdout)")
        #expect(r.stdout.contains("leader True"))
        #expect(r.stdout.contains("ctty True"), "the pty is the controlling terminal: \(r.stdout)")
        #expect(r.stdout.contains("TIOCSTI 1"), "EPERM from the filter: \(r.stdout)")
        // The control: without --tty the workload has no terminal at all (new session, no ctty).
        let c = try Bulkhead.run(["run", "--", "python3", "-c", Self.inspect])
        #expect(c.stdout.contains("isatty False False") && c.stdout.contains("ctty False"), "\(c.stdout)")
    }

    @Test("--tty relays the caller's input to the workload and its output back")
    func relay() throws {
        let r = try Bulkhead.run(["run", "--tty", "--", "/bin/sh", "-c", "read x; echo \"got:$x\""],
                                 prefix: ["/bin/sh", "-c", "echo hello | \"$0\" \"$@\""])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("got:hello"), "\(r.stdout)")
    }

    /// Runs `bulkhead ARGS` with stdin = /dev/zero under a python wrapper that reaps it with
    /// wait4 and prints its CPU time in clock ticks ("LAUNCHER-TICKS N") on stderr.
    static let floodWrapper = """
        import os, sys
        pid = os.fork()
        if pid == 0:
            fd = os.open("/dev/zero", os.O_RDONLY)
            os.dup2(fd, 0)
            os.execv(sys.argv[1], sys.argv[1:])
        _, st, ru = os.wait4(pid, 0)
        ticks = int((ru.ru_utime + ru.ru_stime) * os.sysconf("SC_CLK_TCK"))
        sys.stderr.write("LAUNCHER-TICKS %d\\n" % ticks)
        sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
        """

    @Test("--tty under input pressure (stdin = /dev/zero): the deadline wins, the relay does not spin, output arrives intact")
    func floodedInputKeepsTheDeadline() throws {
        let reportPath = NSTemporaryDirectory() + "bh-tty-flood-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        let lines = 2000
        let script = "i=1; while [ $i -le \(lines) ]; do echo line-$i; i=$((i+1)); done; echo END-OF-OUTPUT; sleep 8"
        let r = try Bulkhead.run(["run", "--tty", "--timeout", "2s", "--report", reportPath, "--", "/bin/sh", "-c", script],
                                 prefix: ["/usr/bin/python3", "-c", Self.floodWrapper])
        #expect(r.status == ExitStatus.timeout, "the workload outlived --timeout: status \(r.status), \(r.stderr.suffix(500))")
        let data = try #require(FileManager.default.contents(atPath: reportPath), "no report: \(r.stderr.suffix(500))")
        let report = try JSONDecoder().decode(RunReport.self, from: data)
        #expect(report.reason == .timeout, "\(report.reason)")
        #expect(report.exitCode == ExitStatus.timeout)
        // CPU ticks, not wall-clock: a relay spinning on EAGAIN burns a core until the workload
        // ends (about 8 s of CPU); one that waits in poll(2) uses a small fraction of a second.
        let ticksLine = try #require(r.stderr.split(separator: "\n").last { $0.hasPrefix("LAUNCHER-TICKS ") }, "\(r.stderr.suffix(500))")
        let ticks = try #require(Int(ticksLine.dropFirst("LAUNCHER-TICKS ".count)))
        let hz = sysconf(Int32(_SC_CLK_TCK))
        #expect(ticks < Int(hz) * 3 / 2, "the launcher used \(ticks) CPU ticks (\(hz)/s) relaying a flood: it spins")
        // The workload's output arrives whole and in order, whatever the pty echoes of the NULs.
        let clean = r.stdout.replacingOccurrences(of: "^@", with: "").replacingOccurrences(of: "\r", with: "")
        let got = clean.components(separatedBy: "line-").dropFirst().map { String($0.prefix { $0.isNumber }) + ($0.dropFirst($0.prefix { $0.isNumber }.count).hasPrefix("\n") ? "" : "?") }
        #expect(got == (1...lines).map(String.init), "lines lost or garbled: \(got.count) of \(lines)")
        #expect(clean.contains("END-OF-OUTPUT"))
    }

    /// Runs `bulkhead ARGS` with stdin = /dev/zero and stdout = a pipe nobody reads; prints
    /// "LAUNCHER-STUCK" and exits 99 when the launcher has not ended after 30 s (a hang guard,
    /// not a timing assertion: a launcher that honours --timeout 2s ends long before).
    static let stuckReaderWrapper = """
        import os, sys, signal
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            fd = os.open("/dev/zero", os.O_RDONLY)
            os.dup2(fd, 0)
            os.execv(sys.argv[1], sys.argv[1:])
        os.close(w)
        """ + watchdog(seconds: 30)

    /// The end of a wrapper that forked the launcher as `pid`: if the launcher has not ended
    /// after `seconds`, it is killed and "LAUNCHER-STUCK" printed (exit 99); else its status.
    static func watchdog(seconds: Int) -> String {
        """

        def stuck(*_):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.stderr.write("LAUNCHER-STUCK\\n")
            os._exit(99)
        signal.signal(signal.SIGALRM, stuck)
        # The test runner's threads block most signals, and exec keeps the mask.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
        signal.alarm(\(seconds))
        _, st = os.waitpid(pid, 0)
        sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
        """
    }

    @Test("--tty with a stdout nobody reads: the relay never blocks the supervisor, the deadline still ends the run")
    func stuckStdoutKeepsTheDeadline() throws {
        let reportPath = NSTemporaryDirectory() + "bh-tty-stuck-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        let r = try Bulkhead.run(["run", "--tty", "--timeout", "2s", "--report", reportPath, "--", "yes"],
                                 prefix: ["/usr/bin/python3", "-c", Self.stuckReaderWrapper])
        #expect(!r.stderr.contains("LAUNCHER-STUCK"), "the launcher hung writing to its stdout: \(r.stderr.suffix(300))")
        #expect(r.status == ExitStatus.timeout, "status \(r.status): \(r.stderr.suffix(300))")
        let data = try #require(FileManager.default.contents(atPath: reportPath), "no report")
        #expect(try JSONDecoder().decode(RunReport.self, from: data).reason == .timeout)
    }

    @Test("The terminal steps fail closed")
    func attachFailsClosed() throws {
        let plan = try Bulkhead.run(["profile", "show", "container", "--plan"])
        let steps = plan.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        // --tty adds a step right after the filesystem (where sethostname stands without it) and
        // one right after the fork (where close-fds stands without it, one later).
        let open = try #require(steps.firstIndex { $0.contains("sethostname") })
        let close = try #require(steps.firstIndex { $0.contains("close inherited file descriptors") })
        for (index, named) in [(open, "open the sandbox's pty"), (close + 1, "controlling terminal")] {
            let r = try Bulkhead.run(["run", "--tty", "--inject-fault", String(index), "--", "/bin/echo", "RAN"])
            #expect(r.status == 125, "\(r.stderr)")
            #expect(r.stderr.contains(named), "\(r.stderr)")
            #expect(!r.stdout.contains("RAN"))
        }
    }

    @Test("--tty: the workload's terminal is /dev/pts/0 of its own devpts, TERM is the caller's (xterm if unusable), a set TERM wins")
    func ownDevptsAndTerm() throws {
        let script = "tty; echo TERM=$TERM; ls /dev/pts; readlink /dev/ptmx; stat -c owner:%u:%g /dev/pts/0"
        let r = try Bulkhead.run(["run", "--tty", "--", "/bin/sh", "-c", script], env: ["TERM": "screen-256color"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        #expect(lines.contains("/dev/pts/0"), "tty names the sandbox's own pty: \(lines)")
        #expect(lines.contains("TERM=screen-256color"), "\(lines)")
        #expect(lines.contains { $0.split(separator: " ").filter { !$0.isEmpty }.sorted() == ["0", "ptmx"] } || (lines.contains("0") && lines.contains("ptmx")),
                "/dev/pts holds the workload's pty and ptmx: \(lines)")
        #expect(lines.contains("pts/ptmx") && lines.contains("owner:0:0"), "\(lines)")
        // A workload with ids of its own owns its pty, as after a login.
        let (profile, dir) = try RootProfileFile.write("securityContext:\n  runAsUser: 1000\n  runAsGroup: 1000\n", name: "ttyuser")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let user = try Bulkhead.run(["run", "--tty", "--profile", profile, "--", "/bin/sh", "-c", "tty; stat -c owner:%u:%g /dev/pts/0"])
        #expect(user.status == 0 && user.stdout.contains("/dev/pts/0") && user.stdout.contains("owner:1000:1000"), "\(user.stdout) \(user.stderr)")
        // A TERM that is no terminal name (a hostile caller's) becomes xterm; a flag's TERM wins.
        let odd = try Bulkhead.run(["run", "--tty", "--", "/bin/sh", "-c", "echo TERM=$TERM"], env: ["TERM": "x;rm -rf /"])
        #expect(odd.stdout.contains("TERM=xterm\r") || odd.stdout.contains("TERM=xterm\n"), "\(odd.stdout)")
        let set = try Bulkhead.run(["run", "--tty", "--env", "TERM=dumb", "--", "/bin/sh", "-c", "echo TERM=$TERM"], env: ["TERM": "vt220"])
        #expect(set.stdout.contains("TERM=dumb"), "\(set.stdout)")
        // Without --tty no TERM is added.
        let none = try Bulkhead.run(["run", "--", "/bin/sh", "-c", "echo TERM=${TERM-unset}"], env: ["TERM": "vt220"])
        #expect(none.stdout == "TERM=unset\n", "\(none.stdout)")
    }
}
