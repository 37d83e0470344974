import BulkheadModel
import BulkheadSystem
import Glibc

/// `bulkhead run --pool SOCKET -- CMD`: the client of a warm pool. It checks the socket
/// (`PoolSocket.connect`: a socket owned by root or the caller, whose listener runs as its
/// owner), sends the command, the `--env` variables, the working directory and its fds 0-2
/// (and the `--preserve-fd` ones, which must be 3, 4, ... in order: they keep their numbers),
/// forwards the signals `run` forwards, and returns what the pool answers: the exit status,
/// what to print on stderr and the report's JSON, as a cold launch gives them.
public enum PoolClient {
    public struct Outcome: Sendable {
        public var exitCode: Int32
        /// What `run` prints on stderr (empty: nothing).
        public var message: String
        /// The RunReport, as JSON (nil when the pool could not be reached).
        public var reportJSON: String?
    }

    /// `report`: wait for the report after the exit status (else the status is the end: the
    /// pool sends it once the workload was reaped, before its cgroup's statistics and removal).
    public static func run(socket: String, command: [String], environment: [String] = [], workingDirectory: String? = nil,
                           preserveFds: [Int32] = [], report: Bool = true) -> Outcome {
        func failed(_ text: String) -> Outcome { Outcome(exitCode: ExitStatus.launchFailed, message: text, reportJSON: nil) }
        guard preserveFds == Array(3..<(3 + Int32(preserveFds.count))) else {
            return failed("--preserve-fd with --pool: give 3, 4, ... in order (they keep their numbers in the sandbox)")
        }
        let fds: [Int32] = [0, 1, 2] + preserveFds
        let request = PoolRequest(argv: command, environment: environment, workingDirectory: workingDirectory ?? "")
        let bytes: [UInt8]
        do { bytes = try request.encode(fdCount: fds.count) } catch { return failed("cannot start the sandbox: \(error)") }
        // Signals are taken from a signalfd from here on and sent to the pool, which forwards
        // them to the sandbox's init as `run` does.
        let signals = try? SignalFD.blockSupervisorSignals()
        defer { signals?.close() }
        let conn: Int32
        do { conn = try PoolSocket.connect(path: socket) } catch { return failed("cannot start the sandbox: \(error)") }
        defer { close(conn) }
        // A pool that refuses this caller answers and closes before reading: the send may then
        // fail, and the answer is still there to read.
        var sendError: SystemError?
        do { try PoolSocket.send(conn, bytes, fds: fds) } catch { sendError = error }
        var head: [UInt8]?
        var json: [UInt8] = []
        var resetSeen = false
        while true {
            var p = [pollfd(fd: conn, events: Int16(POLLIN), revents: 0), signals?.pollFD ?? pollfd(fd: -1, events: 0, revents: 0)]
            if poll(&p, 2, -1) < 0 { if errno == EINTR { continue }; break }
            if p[1].revents != 0, let signals {
                while let sig = signals.next() {
                    guard sig != SIGCHLD else { continue }
                    var s = sig
                    _ = send(conn, &s, 4, Int32(MSG_NOSIGNAL))
                }
            }
            guard p[0].revents != 0 else { continue }
            let m: (bytes: [UInt8], fds: [Int32])
            do { m = try PoolSocket.receive(conn, nonblocking: true) } catch {
                if error.errno?.rawValue == EAGAIN { continue }
                // A pool that refused this caller before reading the request closes with it
                // unread: the kernel reports ECONNRESET once (unix_release_sock), and the
                // answer queued before the close is still there to read.
                if error.errno?.rawValue == ECONNRESET && head == nil && !resetSeen { resetSeen = true; continue }
                break // the end of the reply (EPIPE) or a broken connection
            }
            for fd in m.fds { close(fd) }
            if head == nil { head = m.bytes } else { json += m.bytes }
            if !report && head != nil { break }
        }
        guard let head, head.count >= 4 else {
            return failed("cannot start the sandbox: " + (sendError.map { "\($0)" } ?? "the pool at \(socket) ended the connection without an answer"))
        }
        let status = head.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        return Outcome(exitCode: status, message: String(decoding: head[4...], as: UTF8.self),
                       reportJSON: json.isEmpty ? nil : String(decoding: json, as: UTF8.self))
    }

    /// `pool status` / `pool stop`: one word, the pool's answer (JSON for status; "stopped"
    /// once a stop has torn everything down).
    public static func control(socket: String, _ word: String) throws(SystemError) -> String {
        let conn = try PoolSocket.connect(path: socket)
        defer { close(conn) }
        try PoolSocket.send(conn, Array(word.utf8))
        var text: [UInt8] = []
        while true {
            guard let m = try? PoolSocket.receive(conn) else { break }
            for fd in m.fds { close(fd) }
            text += m.bytes
        }
        return String(decoding: text, as: UTF8.self)
    }
}
