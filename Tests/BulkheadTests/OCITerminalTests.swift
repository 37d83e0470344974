import BulkheadModel
import Foundation
import Glibc
import Testing

/// `bulkhead-runc exec -t` and `run` with process.terminal, in the foreground and without
/// `--console-socket`: the runtime relays the container's pty itself, as runc does (the relay
/// of `bulkhead run --tty`). Driven by tmux where a real terminal is needed: the caller's
/// terminal modes, its window size, typed keys.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCITerminalTests {
    typealias Bundle = OCIRuntimeTests.Bundle
    static func rt(_ args: [String], root: String, binary: String? = nil, prefix: [String] = []) throws -> Bulkhead.Result {
        try OCIRuntimeTests.rt(args, root: root, binary: binary, prefix: prefix)
    }
    let id = "tty-" + token()

    /// A running container (`sleep 1000`, its own user namespace) with the applets the tests use.
    static func running(_ id: String) throws -> Bundle {
        let (b, _) = try OCIExecTests.running(id, userNamespace: true)
        for a in ["tty", "stty", "yes", "ls"] {
            try? FileManager.default.createSymbolicLink(atPath: b.dir + "/rootfs/bin/" + a, withDestinationPath: "busybox")
        }
        return b
    }

    /// A tmux server of the test's own (its socket in `dir`) running `argv` in a 100x30 pane,
    /// through `run.sh`, which records the pane's `stty -g` before and after, the runtime's pid
    /// (`rtpid`) and its exit status (`status`), then keeps the pane open.
    final class Pane {
        let dir: String
        let tmux: [String]
        init(_ argv: [String]) throws {
            dir = NSTemporaryDirectory() + "bh-oci-tmux-\(token())"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            tmux = ["tmux", "-S", dir + "/tmux.sock"]
            let script = """
                D=$1; shift
                stty -g > "$D/before"
                sh -c 'echo $$ > "$0"; exec "$@"' "$D/rtpid" "$@"
                echo $? > "$D/status.tmp"
                stty -g > "$D/after"
                mv "$D/status.tmp" "$D/status"
                exec sleep 600
                """
            try script.write(toFile: dir + "/run.sh", atomically: true, encoding: .utf8)
            let start = try OCIShell.run(tmux + ["new-session", "-d", "-s", "bh", "-x", "100", "-y", "30", "/bin/sh", dir + "/run.sh", dir] + argv,
                                         env: ["TERM": "xterm"])
            try #require(start.status == 0, "\(start)")
        }
        /// `bulkhead-runc exec -t ID COMMAND...` in a pane.
        static func exec(_ b: Bundle, _ id: String, _ command: [String]) throws -> Pane {
            try Pane([OCIRuntimeTests.runtime, "--root", b.stateRoot, "exec", "-t", id] + command)
        }
        deinit {
            _ = try? OCIShell.run(tmux + ["kill-server"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        func screen() throws -> String { try OCIShell.run(tmux + ["capture-pane", "-p", "-t", "bh"]).stdout }
        func file(_ name: String) -> String? {
            (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        /// The pane's terminal modes now, as `stty -g` prints them.
        func modes() throws -> String {
            let tty = try OCIShell.run(tmux + ["display", "-p", "-t", "bh", "#{pane_tty}"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            return try OCIShell.run(["stty", "-F", tty, "-g"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func keys(_ text: String) throws { try OCIShell.run(tmux + ["send-keys", "-t", "bh", text, "Enter"]) }
        /// Polls until `done` holds (30 s at most: a hang guard, not a timing assertion).
        func wait(_ done: () throws -> Bool) rethrows {
            let deadline = monotonicSeconds() + 30
            while try !done() && monotonicSeconds() < deadline { usleep(50_000) }
        }
        /// Waits for the runtime to exit; expects its status `status` and the pane's terminal
        /// modes afterwards to be the ones before.
        func expectEnd(status: String, _ why: Comment, sourceLocation: SourceLocation = #_sourceLocation) {
            wait { file("status") != nil }
            #expect(file("status") == status, why, sourceLocation: sourceLocation)
            #expect(file("after") != nil && file("after") == file("before"), "the caller's terminal modes are restored", sourceLocation: sourceLocation)
        }
        func waitScreen(_ text: String) throws -> String {
            var s = ""
            try wait { s = try screen(); return s.contains(text) }
            return s
        }
    }

    /// `exec -t` from a terminal (a tmux pane): the workload's stdio is /dev/pts/0 of the
    /// container's devpts with the pane's size, a resize reaches it, typed keys arrive (the
    /// shell computes what was typed), its exit status comes back, and the pane's terminal
    /// is in raw mode while the relay runs and exactly as it was afterwards.
    @Test func execTtyRelaysATerminal() throws {
        let b = try Self.running(id)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let pane = try Pane.exec(b, id, ["/bin/sh"])
        var s = try pane.waitScreen("#")
        try #require(s.contains("#"), "the container's shell prompt; screen:\n\(s)")
        let before = try #require(pane.file("before"))
        #expect(try pane.modes() != before, "the caller's terminal is in raw mode while the relay runs")
        try pane.keys("tty; stty size; echo mark-$((6*7))")
        s = try pane.waitScreen("mark-42")
        #expect(s.contains("/dev/pts/0") && s.contains("\n30 100\n") && s.contains("mark-42"), "screen:\n\(s)")
        try OCIShell.run(pane.tmux + ["resize-window", "-t", "bh", "-x", "120", "-y", "40"])
        try pane.keys("stty size; echo mark-$((6*8))")
        s = try pane.waitScreen("mark-48")
        #expect(s.contains("\n40 120\n"), "the new size reached the pty (SIGWINCH relayed); screen:\n\(s)")
        try pane.keys("exit 3")
        pane.expectEnd(status: "3", "the shell's exit status")
    }

    /// SIGTERM to the runtime while it relays: forwarded to the process (which dies of it:
    /// 128+15 comes back), and the caller's terminal is restored on that path too. Red team
    /// (rt-oci-tty): glibc's two reserved realtime signals (32, SIGCANCEL; 33, SIGSETXID), which
    /// sigfillset/sigprocmask leave out, default to terminating the runtime: they too must reach
    /// the process (no `sleep 999` is left) and leave the terminal restored.
    @Test(arguments: [SIGTERM, Int32(32), 33]) func signalToTheRuntimeIsForwardedAndTheTerminalRestored(_ sig: Int32) throws {
        let b = try Self.running(id)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let pane = try Pane.exec(b, id, ["/bin/sh", "-c", "echo ready-$((2*3)); exec sleep 999"])
        let s = try pane.waitScreen("ready-6")
        try #require(s.contains("ready-6"), "screen:\n\(s)")
        let before = try #require(pane.file("before"))
        try pane.wait { try pane.modes() != before }
        #expect(try pane.modes() != before, "raw mode while the relay runs")
        let pid = try #require(pane.file("rtpid").flatMap { Int32($0) })
        #expect(kill(pid, sig) == 0)
        pane.expectEnd(status: "\(128 + sig)", "signal \(sig) reached the process; the terminal is restored after a signal too")
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { p in
            Int32(p) != nil && (try? String(contentsOfFile: "/proc/\(p)/cmdline", encoding: .utf8)) == "sleep\u{0}999\u{0}"
        }
        #expect(left.isEmpty, "the exec'd process got signal \(sig) and is gone: \(left)")
    }

    /// Red team (rt-oci-tty): the foreground runtime blocks every signal (32 and 33 included)
    /// and ignores SIGPIPE; the process it execs starts as any new process, with no signal
    /// blocked or ignored (/proc/self/status of the exec'd process, with and without -t), even
    /// when its caller ignored some (the test runner ignores 32 and 33, which glibc's sigaction
    /// cannot reset).
    @Test(arguments: [true, false]) func execdProcessStartsWithNoSignalBlockedOrIgnored(_ tty: Bool) throws {
        let b = try Self.running(id)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let r = try Self.rt(["exec"] + (tty ? ["-t"] : []) + [id, "/bin/cat", "/proc/self/status"], root: b.stateRoot,
                            binary: "/bin/sh", prefix: ["-c", "printf '' | \"$0\" \"$@\"", OCIRuntimeTests.runtime])
        #expect(r.status == 0, "\(r.stderr)")
        let fields = r.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").filter { $0.hasPrefix("SigBlk:") || $0.hasPrefix("SigIgn:") }
            .map { $0.replacingOccurrences(of: "\t", with: " ") }
        // SigIgn: SIGPIPE (13) and glibc's reserved 32 and 33 are what the runtime or its caller
        // ignore. (Under the test runner SIGQUIT, 3, also shows ignored here, not from a shell:
        // not explained yet, so not asserted; see the red team's report.)
        let ign = fields.count == 2 ? UInt64(fields[1].dropFirst("SigIgn: ".count), radix: 16) : nil
        #expect(fields.first == "SigBlk: 0000000000000000", "\(r.stdout)")
        #expect(ign.map { $0 & (1 << 12 | 1 << 31 | 1 << 32) } == 0, "\(r.stdout)")
    }

    /// A caller without a terminal (pipes): nothing to put in raw mode, bytes are still relayed
    /// both ways; the workload has a terminal of its own devpts and no other descriptor.
    @Test func callerWithoutATerminal() throws {
        let b = try Self.running(id)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let r = try Self.rt(["exec", "-t", id, "/bin/sh", "-c", "read x; echo got:$x; tty; ls -1 /proc/self/fd; exit 4"], root: b.stateRoot,
                            binary: "/bin/sh", prefix: ["-c", "printf 'hello\\n' | \"$0\" \"$@\"", OCIRuntimeTests.runtime])
        #expect(r.status == 4, "\(r.stderr)")
        let lines = r.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        #expect(lines.contains("got:hello") && lines.contains("/dev/pts/0"), "\(r.stdout)")
        // ls's own directory fd (3) aside, only the pty: 0, 1, 2.
        #expect(lines.contains("0") && lines.contains("1") && lines.contains("2") && !lines.contains("4"), "\(lines)")
    }

    /// A workload that closes its terminal (the master then reads EIO) while its caller's
    /// input floods (/dev/zero): the relay stops, does not spin (CPU ticks, not wall-clock),
    /// and the exit status still comes back.
    @Test func workloadClosingItsTerminalDoesNotSpinTheRelay() throws {
        let b = try Self.running(id)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let r = try Self.rt(["exec", "-t", id, "/bin/sh", "-c", "exec 0<&- 1>&- 2>&-; sleep 4; exit 7"], root: b.stateRoot,
                            binary: "/usr/bin/python3", prefix: ["-c", TerminalTests.floodWrapper, OCIRuntimeTests.runtime])
        #expect(r.status == 7, "\(r.stderr.suffix(500))")
        let ticksLine = try #require(r.stderr.split(separator: "\n").last { $0.hasPrefix("LAUNCHER-TICKS ") }, "\(r.stderr.suffix(500))")
        let ticks = try #require(Int(ticksLine.dropFirst("LAUNCHER-TICKS ".count)))
        let hz = sysconf(Int32(_SC_CLK_TCK))
        #expect(ticks < Int(hz) * 3 / 2, "the runtime used \(ticks) CPU ticks (\(hz)/s) over a 4 s workload: it spins")
    }

    /// A process left behind in the container floods the pty before and after the exec'd
    /// process exits: the runtime drains a bounded amount and returns the exit status. (A
    /// drain that reads until EAGAIN usually returns here too, the relay reading faster than
    /// `yes` writes: this shows the status comes back, not that the bound is reached.)
    @Test func floodAfterExitIsBounded() throws {
        let b = try Self.running(id)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let r = try OCIShell.run([OCIRuntimeTests.runtime, "--root", b.stateRoot, "exec", "-t", id, "/bin/sh", "-c", "yes & sleep 1; exit 5"], timeout: 60)
        #expect(r.status == 5, "\(r.stderr.suffix(300))")
        #expect(r.stdout.contains("y\r\ny\r\n"), "the flood was relayed")
    }

    /// `run` in the foreground with process.terminal and no console socket relays the pty;
    /// `run --detach`, `create` and `exec --detach` with a terminal still need a console socket
    /// (runc's rule: no one would relay it).
    @Test func runRelaysAndDetachedTerminalsNeedASocket() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "read x; echo got:$x; tty; exit 6"]) { config in
            var p = config["process"] as! [String: Any]
            p["terminal"] = true
            config["process"] = p
        }
        try FileManager.default.createSymbolicLink(atPath: b.dir + "/rootfs/bin/tty", withDestinationPath: "busybox")
        let r = try Self.rt(["run", "--bundle", b.dir, id], root: b.stateRoot,
                            binary: "/bin/sh", prefix: ["-c", "printf 'hi\\n' | \"$0\" \"$@\"", OCIRuntimeTests.runtime])
        #expect(r.status == 6, "\(r.stderr)")
        let lines = r.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        #expect(lines.contains("got:hi") && lines.contains("/dev/pts/0"), "\(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + id), "run deleted the container")
        let d = try Self.rt(["run", "-d", "--bundle", b.dir, id], root: b.stateRoot)
        #expect(d.status == 1 && d.stderr.contains("console-socket"), "\(d.stderr)")
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + id))
        let other = "x" + id
        let running = try Self.running(other)
        defer { _ = try? Self.rt(["delete", "--force", other], root: running.stateRoot) }
        let e = try Self.rt(["exec", "-t", "-d", other, "/bin/true"], root: running.stateRoot)
        #expect(e.status == 1 && e.stderr.contains("--console-socket"), "\(e.stderr)")
    }
}
