import BulkheadSystem
import Glibc

/// `--tty`: a pty that bulkhead owns. The sandbox's init opens it in the sandbox's own devpts
/// (`PlanStep.openTerminal`: the workload's terminal is /dev/pts/N there, so `tty` names it),
/// sends the master here over a channel and makes the slave the workload's controlling terminal
/// and stdio; the launcher copies bytes between its own stdin/stdout and the master, keeps the
/// caller's terminal in raw mode meanwhile, and passes window-size changes on. The caller's
/// terminal itself never reaches the sandbox (TIOCSTI/TIOCLINUX have nothing to inject into).
/// The same relay serves `bulkhead-runc run` and `exec` in the foreground without
/// `--console-socket` (`OCIRuntime.foreground`), as runc relays its terminal itself.
package final class TerminalRelay: @unchecked Sendable {
    /// The pty master, once the init has sent it (-1 before).
    package private(set) var master: Int32 = -1
    /// The launcher's end of the channel the master comes over; -1 once it came (or never will).
    private var channel: Int32
    /// The sandbox's end of the channel, inherited by the init (the plan's `terminalFD`); the
    /// launcher closes its copy once the child exists.
    package private(set) var slave: Int32
    private var saved: termios?
    /// Where the workload's output goes: the caller's stdout, or, when that is a terminal, a
    /// non-blocking description of the same terminal of our own. A terminal polls writable
    /// while it has any room, and a blocking write(2) then waits until all of it is taken: a
    /// terminal that stops reading would hold the supervisor, and the deadline with it. (A
    /// pipe polls writable only with PIPE_BUF free, which a stdoutChunk write never exceeds.)
    /// Our own description, so the caller's stays as it was.
    private let output: Int32
    private var stdinOpen = true
    package private(set) var masterOpen = true

    package init() throws(SystemError) {
        (channel, slave) = try PseudoTerminal.channel()
        let tty = isatty(1) == 1 ? open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) : -1
        output = tty >= 0 ? tty : 1
    }

    deinit {
        restoreTerminal()
        if slave >= 0 { close(slave) }
        if channel >= 0 { close(channel) }
        if output != 1 { close(output) }
        if master >= 0 { close(master) }
    }

    /// Takes the master from the channel if it has come; on a closed channel or anything but
    /// one pty master, the relay has no terminal (the workload's output then has nowhere to go,
    /// and its run ends as it ends).
    private func receiveMaster() {
        guard master < 0, channel >= 0 else { return }
        do {
            guard let m = try PseudoTerminal.receiveMaster(channel) else { return }
            master = m
            _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
            resize()
        } catch {
            masterOpen = false
        }
        close(channel)
        channel = -1
    }

    /// True once `create` handed the sandbox's end to a container's init (`sandboxEnd`).
    package private(set) var handedOut = false

    /// OCI `create` (for a foreground `run`): a close-on-exec duplicate of the sandbox's end,
    /// for the plan's terminal step, which `create` closes once the init holds it; this relay
    /// keeps its own until `childStarted`.
    package func sandboxEnd() throws(SystemError) -> Int32 {
        let fd = fcntl(slave, F_DUPFD_CLOEXEC, 3)
        guard fd >= 0 else { throw SystemError("duplicate the terminal channel for the container's init", errno: .current) }
        handedOut = true
        return fd
    }

    /// After clone3: the sandbox holds its end of the channel now.
    package func childStarted() {
        if slave >= 0 { close(slave); slave = -1 }
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
    package func resize() {
        guard master >= 0 else { return }
        var ws = winsize()
        for fd in [Int32(0), 1, 2] where ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0 {
            _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
            return
        }
    }

    /// Bytes in flight each way. Bounded: while a buffer is full the relay stops reading its
    /// source, so input pressure (stdin = /dev/zero) never grows memory and never makes the
    /// relay spin; it waits in the supervisor's poll(2) like everything else.
    package static let bufferCapacity = 64 << 10
    /// At most this much is written to the caller's stdout per POLLOUT: stdout may be a
    /// blocking pipe, and a pipe that polls writable takes PIPE_BUF bytes without blocking.
    package static let stdoutChunk = 4096
    private var toMaster = ByteQueue(capacity: bufferCapacity)
    private var toStdout = ByteQueue(capacity: bufferCapacity)
    private var stdoutOpen = true

    /// The relay's pollfds (master, stdin, stdout): each asks only for what the relay can act
    /// on now, so a ready fd always leads to progress and poll never returns for nothing.
    /// The master is read only while the stdout buffer has room and written (POLLOUT) only
    /// while input is pending; stdin is read only while the input buffer has room.
    package var pollFDs: [pollfd] {
        // Until the master has come, the first pollfd waits for it on the channel.
        if master < 0 {
            return [pollfd(fd: channel, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: stdinOpen && masterOpen && toMaster.hasRoom ? 0 : -1, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: -1, events: 0, revents: 0)]
        }
        var m: Int16 = 0
        if masterOpen && toStdout.hasRoom {
            m = Int16(POLLIN)
            if !toMaster.isEmpty { m |= Int16(POLLOUT) }
        }
        return [pollfd(fd: m != 0 ? master : -1, events: m, revents: 0),
                pollfd(fd: stdinOpen && masterOpen && toMaster.hasRoom ? 0 : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stdoutOpen && !toStdout.isEmpty ? output : -1, events: Int16(POLLOUT), revents: 0)]
    }

    /// Handles the revents of `pollFDs`, in the same order: at most one read and one write
    /// per fd, never a retry loop, so the supervisor is back at its deadline check at once.
    package func handle(_ fds: ArraySlice<pollfd>) {
        let m = fds[fds.startIndex], i = fds[fds.startIndex + 1], o = fds[fds.startIndex + 2]
        if master < 0 {
            if m.fd >= 0 && m.revents != 0 { receiveMaster() }
            if i.fd >= 0 && i.revents != 0 { readStdin() }
            return
        }
        if m.fd >= 0 && m.revents & Int16(POLLOUT | POLLERR | POLLHUP) != 0 && !toMaster.isEmpty { writeMaster() }
        if m.fd >= 0 && m.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { readMaster() }
        if i.fd >= 0 && i.revents != 0 { readStdin() }
        if o.fd >= 0 && o.revents != 0 { writeStdout(upTo: Self.stdoutChunk) }
    }

    /// After the sandbox ended: what the workload wrote and the launcher has not copied yet,
    /// until EAGAIN or EIO. At most `drainLimit` bytes: a process left behind that still holds
    /// the pty (no PID namespace of its own; an `exec`'d process's child, which lives on in the
    /// container) and floods it must not keep the launcher here for ever. The kernel holds far
    /// less for a pty (64 KiB of tty buffer and 4 KiB of line discipline).
    package func drain() {
        // The init sent the master before it forked the workload: if the workload ran, it is here.
        receiveMaster()
        guard master >= 0 else { return }
        flush()
        let start = masterBytes
        while masterOpen && masterBytes - start < Self.drainLimit && readMaster() { flush() }
        flush()
    }

    package static let drainLimit = 1 << 20
    /// Bytes read from the master so far.
    private var masterBytes = 0

    /// Empties the stdout buffer; a reader that takes nothing for a second loses the rest
    /// rather than holding the launcher.
    private func flush() {
        while stdoutOpen && !toStdout.isEmpty {
            var p = pollfd(fd: output, events: Int16(POLLOUT), revents: 0)
            guard poll(&p, 1, 1000) > 0 else { stdoutOpen = false; toStdout.removeAll(); return }
            writeStdout(upTo: Self.stdoutChunk)
        }
    }

    package func restoreTerminal() {
        if var t = saved { _ = tcsetattr(0, TCSANOW, &t); saved = nil }
    }

    /// One read of the master into the stdout buffer; false when nothing was read.
    @discardableResult
    private func readMaster() -> Bool {
        let n = toStdout.fill { read(master, $0, $1) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return false }
        if n <= 0 { masterOpen = false; toMaster.removeAll(); return false } // EIO once every slave is closed
        masterBytes += n
        return true
    }

    private func readStdin() {
        let n = toMaster.fill { read(0, $0, $1) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        if n <= 0 { stdinOpen = false }
    }

    /// One write of pending input to the (non-blocking) master.
    private func writeMaster() {
        let w = toMaster.drain(upTo: toMaster.count) { write(master, $0, $1) }
        if w < 0 && errno != EAGAIN && errno != EINTR { masterOpen = false; toMaster.removeAll() }
    }

    private func writeStdout(upTo limit: Int) {
        let w = toStdout.drain(upTo: limit) { write(output, $0, $1) }
        if w < 0 && errno != EAGAIN && errno != EINTR { stdoutOpen = false; toStdout.removeAll() }
    }
}

/// A bounded byte FIFO for the relay.
package struct ByteQueue {
    private var bytes: [UInt8]
    private var head = 0
    private var tail = 0
    package init(capacity: Int) { bytes = [UInt8](repeating: 0, count: capacity) }

    package var count: Int { tail - head }
    package var isEmpty: Bool { head == tail }
    package var hasRoom: Bool { count < bytes.count }
    package mutating func removeAll() { head = 0; tail = 0 }

    /// Reads once into the free space; returns what `read` returned.
    package mutating func fill(_ read: (UnsafeMutableRawPointer, Int) -> Int) -> Int {
        if head > 0 && tail == bytes.count {
            bytes.withUnsafeMutableBytes { b in
                if tail > head { b.baseAddress!.copyMemory(from: b.baseAddress! + head, byteCount: tail - head) }
            }
            tail -= head; head = 0
        }
        if head == tail { head = 0; tail = 0 }
        let room = bytes.count - tail
        guard room > 0 else { return 0 }
        let t = tail
        let n = bytes.withUnsafeMutableBytes { read($0.baseAddress! + t, room) }
        if n > 0 { tail += n }
        return n
    }

    /// Writes once from the front, at most `limit` bytes; returns what `write` returned.
    package mutating func drain(upTo limit: Int, _ write: (UnsafeRawPointer, Int) -> Int) -> Int {
        let len = min(limit, count)
        guard len > 0 else { return 0 }
        let h = head
        let n = bytes.withUnsafeBytes { write($0.baseAddress! + h, len) }
        if n > 0 { head += n; if head == tail { head = 0; tail = 0 } }
        return n
    }
}
