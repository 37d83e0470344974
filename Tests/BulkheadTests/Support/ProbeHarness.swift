import Foundation
import Glibc
import Testing

/// One `PROBE <row>.<name> <result> <errno-name> <detail>` line of `bh-probe`.
struct ProbeLine: CustomStringConvertible {
    var row: Int
    var name: String
    var result: String
    var errno: String
    var detail: String
    var description: String { "\(row).\(name) \(result) \(errno) \(detail)" }
}

/// Runs `bh-probe` (Tests/Probes, built next to `bulkhead`) inside a sandbox and parses its lines.
enum Probe {
    static let binary: String = URL(fileURLWithPath: Bulkhead.binary).deletingLastPathComponent()
        .appendingPathComponent("bh-probe").path

    struct Run {
        var lines: [String: ProbeLine]
        var raw: Bulkhead.Result
        /// The line of probe `name`, or a placeholder that fails every expectation on it.
        subscript(_ name: String) -> ProbeLine {
            lines[name] ?? ProbeLine(row: 0, name: name, result: "MISSING", errno: "MISSING", detail: raw.stdout + raw.stderr)
        }
        var complete: Bool { raw.stdout.contains("PROBE-END") }
    }

    static func parse(_ text: String) -> [String: ProbeLine] {
        var out: [String: ProbeLine] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("PROBE ") {
            let f = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 4, let dot = f[1].firstIndex(of: "."), let row = Int(f[1][..<dot]) else { continue }
            let name = String(f[1][f[1].index(after: dot)...])
            out[name] = ProbeLine(row: row, name: name, result: f[2], errno: f[3], detail: f.count > 4 ? f[4] : "")
        }
        return out
    }

    /// Binds the probe's directory at the same path: the build directory may be under /tmp (a
    /// fresh clone there, as CI may make), which every sandbox replaces with its own tmpfs.
    static var bindFlags: [String] {
        let dir = URL(fileURLWithPath: binary).deletingLastPathComponent().path
        return ["--bind", "\(dir):\(dir):ro"]
    }

    /// `bulkhead run FLAGS -- bh-probe ARGS`.
    static func run(_ flags: [String], _ args: [String] = [], report: Bool = false) throws -> Run {
        let r = try Bulkhead.run(["run"] + bindFlags + flags + ["--", binary] + args, report: report, timeout: 120)
        return Run(lines: parse(r.stdout), raw: r)
    }

    /// The host uid that the sandbox's root maps to, from a report's `uidMap` ("0 HOSTID COUNT").
    static let sandboxRootHostUID: uid_t = {
        let r = try? Bulkhead.run(["run", "--", "true"], report: true)
        let map = r?.controls?.uidMap?.split(separator: " ") ?? []
        return map.count == 3 ? uid_t(map[1]) ?? 2_000_000_000 : 2_000_000_000
    }()
}

/// A host directory holding a setuid-root (the sandbox's root) copy of bh-probe, to bind at /srv.
/// The sandbox's uid 1000 runs it: the effective uid must not change (row 22).
struct SetuidHelper {
    let dir: String
    let path: String
    init() throws {
        dir = "/var/tmp/bh-suid-\(token())"
        path = dir + "/bh-probe-suid"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Probe.binary, toPath: path)
        let root = Probe.sandboxRootHostUID
        guard chown(path, root, gid_t(root)) == 0, chmod(path, 0o4755) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
    }
    /// `--bind DIR:/srv:ro` (the destination must exist in the host root; /srv does on Debian).
    var bindFlags: [String] { ["--bind", "\(dir):/srv:ro"] }
    var probeArgs: [String] { ["--suid", "/srv/bh-probe-suid"] }
    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// Listening unix sockets in a host directory under /run, like a container runtime's: one with
/// docker.sock's usual mode (0660, root), one world-connectable (0666), as dbus' system bus is.
final class HostSockets {
    let dir = "/run/bh-probe-\(token())"
    private var fds: [Int32] = []
    var paths: [String] = []
    /// Names the sockets to bh-probe, which connects to each (ENOENT where it is not visible).
    var probeArgs: [String] { paths.flatMap { ["--socket", $0] } }

    init() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, mode) in [("docker.sock", mode_t(0o660)), ("world.sock", mode_t(0o666))] {
            let path = "\(dir)/\(name)"
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { buf in
                for (i, b) in path.utf8.enumerated() where i < buf.count - 1 { buf[i] = b }
            }
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard ok == 0, chmod(path, mode) == 0, listen(fd, 16) == 0 else { throw POSIXError(.EIO) }
            fds.append(fd)
            paths.append(path)
        }
    }

    func remove() {
        for fd in fds { close(fd) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
