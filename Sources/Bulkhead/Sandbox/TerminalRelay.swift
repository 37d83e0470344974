import BulkheadSystem
import CShims
import Glibc

/// `--tty`: a pty that bulkhead owns. The workload gets the slave as its controlling terminal
/// and stdio; the launcher copies bytes between its own stdin/stdout and the master, keeps the
/// caller's terminal in raw mode meanwhile, and passes window-size changes on. The caller's
/// terminal itself never reaches the sandbox (TIOCSTI/TIOCLINUX have nothing to inject into).
final class TerminalRelay: @unchecked Sendable {
    let master: Int32
    /// The slave, inherited by the sandbox; the launcher closes its copy once the child exists.
    private(set) var slave: Int32
    private var saved: termios?
    private var stdinOpen = true
    private(set) var masterOpen = true

    init() throws(SystemError) {
        var m: Int32 = -1, s: Int32 = -1
        let rc = bh_open_pty(&m, &s)
        guard rc == 0 else { throw SystemError("open a pty for --tty", errno: Errno(rc)) }
        master = m
        slave = s
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        restoreTerminal()
        if slave >= 0 { close(slave) }
        close(master)
    }

    /// After clone3: the sandbox holds the slave now.
    func childStarted() {
        if slave >= 0 { close(slave); slave = -1 }
        resize()
        if isatty(0) == 1 {
            var t = termios()
            if tcgetattr(0, &t) == 0 {
                saved = t
                cfmakeraw(&t)
                _ = tcsetattr(0, TCSANOW, &t)
            }
        }
    }

    /// Copies the caller's window size to the pty (the kernel then sends SIGWINCH to the
    /// workload's foreground process group).
    func resize() {
        var ws = winsize()
        for fd in [Int32(0), 1, 2] where ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0 {
            _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
            return
        }
    }

    var pollFDs: [pollfd] {
        [pollfd(fd: masterOpen ? master : -1, events: Int16(POLLIN), revents: 0),
         pollfd(fd: stdinOpen ? 0 : -1, events: Int16(POLLIN), revents: 0)]
    }

    /// Handles the revents of `pollFDs`, in the same order.
    func handle(_ fds: ArraySlice<pollfd>) {
        let m = fds[fds.startIndex], i = fds[fds.startIndex + 1]
        if m.revents != 0 { pump(from: master, to: 1, open: &masterOpen) }
        if i.revents != 0 { pump(from: 0, to: master, open: &stdinOpen) }
    }

    /// What the workload wrote and the launcher has not copied yet.
    func drain() { while masterOpen && pump(from: master, to: 1, open: &masterOpen) {} }

    func restoreTerminal() {
        if var t = saved { _ = tcsetattr(0, TCSANOW, &t); saved = nil }
    }

    /// One read and its write; false when nothing was read.
    @discardableResult
    private func pump(from: Int32, to: Int32, open: inout Bool) -> Bool {
        var buf = [UInt8](repeating: 0, count: 16384)
        let n = buf.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return false }
        if n <= 0 { open = false; return false } // EOF, or EIO once every slave is closed
        var off = 0
        while off < n {
            let w = buf.withUnsafeBytes { write(to, $0.baseAddress! + off, n - off) }
            if w < 0 { if errno == EINTR || errno == EAGAIN { continue }; break }
            off += w
        }
        return true
    }
}
