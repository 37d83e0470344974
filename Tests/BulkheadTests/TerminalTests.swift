import Foundation
import Glibc
import Testing

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

    @Test("The terminal step fails closed")
    func attachFailsClosed() throws {
        let plan = try Bulkhead.run(["profile", "show", "container", "--plan"])
        let steps = plan.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        // --tty adds one step right after the fork: it is where close-fds stands without it.
        let close = try #require(steps.firstIndex { $0.contains("close inherited file descriptors") })
        let r = try Bulkhead.run(["run", "--tty", "--inject-fault", String(close), "--", "/bin/echo", "RAN"])
        #expect(r.status == 125, "\(r.stderr)")
        #expect(r.stderr.contains("controlling terminal"), "\(r.stderr)")
        #expect(!r.stdout.contains("RAN"))
    }
}
