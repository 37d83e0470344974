import BulkheadModel
import Foundation
import Glibc
import Testing

/// Runs the built `bulkhead` binary as a separate process, as a user would.
enum Bulkhead {
    /// `.build/<triple>/debug/bulkhead`, next to this test bundle: the launch executable, which
    /// execs `bulkhead-cli` beside it for everything but `run`'s fast path (LaunchExecutableTests),
    /// so the suite goes through both as a user does. BULKHEAD_TEST_BINARY names another build
    /// (main's, to see an attack fail there; a `bulkhead-cli`, to test the full command line
    /// alone; or /bin/false, to find tests that pass with a binary that does nothing).
    static let binary: String = {
        if let other = ProcessInfo.processInfo.environment["BULKHEAD_TEST_BINARY"] { return other }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("bulkhead").path
    }()

    /// The full command line beside `binary` (`bulkhead-cli`), which works alone; `binary` itself
    /// when there is none (a single-binary build given as BULKHEAD_TEST_BINARY).
    static let fullBinary: String = {
        let cli = (binary as NSString).deletingLastPathComponent + "/bulkhead-cli"
        return FileManager.default.isExecutableFile(atPath: cli) ? cli : binary
    }()

    /// A copy of the binary under test at `dir/bulkhead`, with its full command line beside it
    /// (the launch executable runs only with one): another installation, another inode.
    static func copyInstallation(to dir: String) throws {
        try FileManager.default.copyItem(atPath: binary, toPath: dir + "/bulkhead")
        if fullBinary != binary { try FileManager.default.copyItem(atPath: fullBinary, toPath: dir + "/bulkhead-cli") }
    }

    /// The package root (for Profiles/ and test fixtures).
    static let packageRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The `--report` file decoded as the typed `RunReport`, when the run asked for one with
        /// `report: true` (a file that does not decode fails the run: a renamed field is caught).
        var report: RunReport?
        var controls: AppliedControls? { report?.controls }
        /// The `--report` file's bytes.
        var reportData: Data?
    }

    /// Runs `bulkhead ARGS`, capturing output. With `report: true` a `--report FILE` is added
    /// to a run and decoded.
    @discardableResult
    static func run(_ args: [String], report: Bool = false, env: [String: String] = [:], prefix: [String] = [],
                    timeout: Double = 60) throws -> Result {
        try run(args, report: report, env: env, prefix: prefix, timeout: timeout, binary: binary)
    }

    /// The same with another bulkhead binary (StaticBinaryTests' static build).
    @discardableResult
    static func run(_ args: [String], report: Bool = false, env: [String: String] = [:], prefix: [String] = [],
                    timeout: Double = 60, binary: String) throws -> Result {
        var args = args
        var reportPath: String?
        if report, let i = args.firstIndex(of: "run") {
            reportPath = NSTemporaryDirectory() + "bh-report-\(UUID().uuidString).json"
            args.insert(contentsOf: ["--report", reportPath!], at: i + 1)
        }
        let p = Process()
        if prefix.isEmpty {
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: prefix[0])
            p.arguments = Array(prefix.dropFirst()) + [binary] + args
        }
        var environment = ProcessInfo.processInfo.environment
        environment["BULKHEAD_PROFILE_PATH"] = packageRoot + "/Profiles"
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both pipes concurrently with the process, so neither can fill up and block it.
        let outData = LockedData(), errData = LockedData()
        let group = DispatchGroup()
        for (h, d) in [(out.fileHandleForReading, outData), (err.fileHandleForReading, errData)] {
            group.enter()
            DispatchQueue.global().async { d.set(h.readDataToEndOfFile()); group.leave() }
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            Issue.record("bulkhead \(args) did not finish within \(timeout) s")
        }
        p.waitUntilExit()
        var parsed: RunReport?
        var reportData: Data?
        if let reportPath, let data = FileManager.default.contents(atPath: reportPath) {
            reportData = data
            try? FileManager.default.removeItem(atPath: reportPath)
            parsed = try JSONDecoder().decode(RunReport.self, from: data)
        }
        return Result(status: p.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                      stderr: String(decoding: errData.get(), as: UTF8.self), report: parsed, reportData: reportData)
    }

    /// `bulkhead run [flags] -- sh -c SCRIPT`.
    static func sh(_ script: String, _ flags: [String] = [], report: Bool = false, env: [String: String] = [:],
                   prefix: [String] = []) throws -> Result {
        try run(["run"] + flags + ["--", "/bin/sh", "-c", script], report: report, env: env, prefix: prefix)
    }
}

/// A report file a command wrote (`--report FILE`, `bench --json`), decoded as its typed,
/// Codable report: nil when the command wrote none; a file that does not decode fails the
/// test, so a renamed or retyped field is caught instead of reading as absent.
enum ReportFile {
    static func decode<T: Decodable>(_ type: T.Type, at path: String) throws -> T? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try JSONDecoder().decode(T.self, from: data)
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// Gates for tests that need the real kernel. Outside CI a test that cannot run here skips
/// with the reason; with CI=true it runs regardless, so a machine that cannot run it fails
/// instead of passing silently.
enum Gate {
    /// The one reading of `CI` in the test targets: every gate (root, cgroup kernel tests, the
    /// VM lane) asks this.
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let isRoot = geteuid() == 0
    /// Root: mapping a subordinate id range, cgroups, creating users for rootless tests.
    static let root: Bool = {
        // Writing to a sandbox that has exited must give EPIPE, not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        return isRoot || inCI
    }()
    static let rootReason: Comment = "needs root (uid/gid range mapping, cgroups); run the suite as root or with CI=true"
}

/// A fresh unique token for markers.
func token() -> String { "bh\(UInt32.random(in: 0...UInt32.max))" }

/// Parses the hex capability masks of /proc/self/status text.
func statusField(_ status: String, _ name: String) -> String? {
    status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
        .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
}

/// Manifests for `bulkhead pod run`: a Pod's file may not define the Tenant or ResourceQuota it
/// is admitted by, so a test's multi-document YAML is written as two files, the Pods' documents
/// and the rest.
enum PodManifestFiles {
    /// Writes `yaml`'s documents into `dir` (pod.yaml, and namespace.yaml when there are others);
    /// returns the files for the command line, the Pod's first.
    static func write(_ yaml: String, into dir: String) throws -> [String] {
        var pods: [String] = [], rest: [String] = []
        for doc in yaml.components(separatedBy: "\n---\n") where !doc.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if doc.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "kind: Pod" }) { pods.append(doc) } else { rest.append(doc) }
        }
        try pods.joined(separator: "\n---\n").write(toFile: dir + "/pod.yaml", atomically: true, encoding: .utf8)
        guard !rest.isEmpty else { return [dir + "/pod.yaml"] }
        try rest.joined(separator: "\n---\n").write(toFile: dir + "/namespace.yaml", atomically: true, encoding: .utf8)
        return [dir + "/pod.yaml", dir + "/namespace.yaml"]
    }
}

/// A layer profile as root writes one: owned by root, mode 0644, in a fresh root-only directory
/// (the checks `TrustedFile` makes pass), extending `container` with `body`.
enum RootProfileFile {
    static func write(_ body: String, name: String = "attack") throws -> (path: String, dir: String) {
        let dir = NSTemporaryDirectory() + "bh-profile-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let path = dir + "/\(name).yaml"
        let text = "apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nmetadata:\n  name: \(name)\nextends: container\n" + body
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chown(path, 0, 0)
        chmod(path, 0o644)
        return (path, dir)
    }
}
