import BulkheadModel
@testable import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The release build is a static executable (scripts/build-release.sh, `-static-executable`),
/// and the suite otherwise runs the dynamic debug build. A static glibc cannot load a library
/// that needs the shared libc (libnftables crashed in libgmp: every pod with a network exited
/// 139 with the release binary only). This lane runs a static bulkhead through what users do
/// and checks that bulkhead itself opens no shared library, no gconv module, no NSS
/// configuration (a static glibc dlopens libnss_* for getpwnam, getaddrinfo, initgroups).
///
/// The binary: BULKHEAD_STATIC_BINARY, else .build/release/bulkhead, else .build-vm/release/
/// bulkhead (the VM lane's static build, which scripts/test.sh builds first when CI=true or
/// BULKHEAD_VM_LANE=1, so CI pays no extra build). Locally, without one, the suite is skipped
/// with a reason; with CI=true it fails instead.
@Suite("static release binary", .serialized, .enabled(if: Gate.root, Gate.rootReason))
struct StaticBinaryTests {
    static let binary: String? = {
        let env = ProcessInfo.processInfo.environment["BULKHEAD_STATIC_BINARY"]
        let candidates = [env, Bulkhead.packageRoot + "/.build/release/bulkhead", Bulkhead.packageRoot + "/.build-vm/release/bulkhead"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) && isStatic($0) }
    }()

    /// No PT_INTERP program header: the kernel starts it without a dynamic loader.
    static func isStatic(_ path: String) -> Bool {
        guard let d = FileManager.default.contents(atPath: path), d.count > 64, d.starts(with: [0x7f, 0x45, 0x4c, 0x46]), d[4] == 2 else { return false }
        func u(_ o: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(d[o + $1]) << (8 * $1) } }
        let phoff = u(0x20, 8), phentsize = u(0x36, 2), phnum = u(0x38, 2)
        for i in 0..<phnum where phoff + i * phentsize + 4 <= d.count {
            if u(phoff + i * phentsize, 4) == 3 /* PT_INTERP */ { return false }
        }
        return true
    }

    func requireBinary() throws -> String {
        if let b = Self.binary { return b }
        if Gate.inCI {
            Issue.record("no static bulkhead: scripts/test.sh builds .build/release/bulkhead (scripts/build-release.sh); or set BULKHEAD_STATIC_BINARY")
        }
        throw StaticLaneSkip()
    }
    struct StaticLaneSkip: Error {}

    /// What the bulkhead process itself (not a program it executes) opened that belongs to the
    /// dynamic loader's world, from `strace -f` of the command: shared objects, gconv, NSS.
    func loaderOpens(_ binary: String, _ args: [String]) throws -> (status: Int32, opens: [String], out: String) {
        let trace = NSTemporaryDirectory() + "bh-static-\(token()).strace"
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let r = try Bulkhead.run(args, prefix: ["/usr/bin/strace", "-f", "-qq", "-e", "trace=openat,open,execve,execveat,clone,clone3,fork,vfork", "-o", trace],
                                 timeout: 120, binary: binary)
        let text = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        var image: [String: Bool] = [:]   // pid -> still bulkhead's image
        var first: String?
        var opens: Set<String> = []
        var sawBulkheadExec = false
        var sawFullExec = false
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2 else { continue }
            let pid = String(parts[0]), call = parts[1].trimmingCharacters(in: .whitespaces)
            if first == nil { first = pid; image[pid] = true }
            let ours = image[pid] ?? true
            if call.hasPrefix("clone") || call.hasPrefix("fork") || call.hasPrefix("vfork"),
               let eq = call.range(of: "= ", options: .backwards), let child = Int(call[eq.upperBound...].prefix { $0.isNumber }) {
                image[String(child)] = ours
                continue
            }
            if call.hasPrefix("execve"), call.hasSuffix("= 0") {
                // The first successful execve is bulkhead's own, and so is the launch executable's
                // exec of its full command line (an execveat of the checked fd, by the first
                // process, before any clone: LaunchExecutableTests); any later one is a program it runs.
                let fullCommandLine = pid == first && sawBulkheadExec && image[pid] == true && call.hasPrefix("execveat(")
                    && call.contains("AT_EMPTY_PATH") && !sawFullExec
                if fullCommandLine { sawFullExec = true; continue }
                image[pid] = !sawBulkheadExec
                sawBulkheadExec = true
                continue
            }
            guard ours, call.hasPrefix("open"), let q = call.firstIndex(of: "\"") else { continue }
            let rest = call[call.index(after: q)...]
            let path = String(rest.prefix { $0 != "\"" })
            if path.contains(".so") || path.contains("gconv") || path.hasSuffix("nsswitch.conf") || path.contains("/locale") {
                opens.insert(path)
            }
        }
        return (r.status, opens.sorted(), r.stdout + r.stderr)
    }

    @Test("doctor: bulkhead opens no shared library, and nft runs")
    func doctor() throws {
        guard let bin = try? requireBinary() else { return }
        let t = try loaderOpens(bin, ["doctor", "--json"])
        #expect(t.opens.isEmpty, "the static bulkhead opened \(t.opens)")
        let report = try JSONDecoder().decode(HostReport.self, from: Data(try Bulkhead.run(["doctor", "--json"], binary: bin).stdout.utf8))
        #expect(report["nftables"]?.detail == "/usr/sbin/nft runs (nft -f - in a new network namespace)", "\(String(describing: report["nftables"]))")
    }

    @Test("run --user NAME and --group-add NAME: names from the root's files, no NSS")
    func runUserByName() throws {
        guard let bin = try? requireBinary() else { return }
        let t = try loaderOpens(bin, ["run", "--user", "nobody", "--group-add", "nogroup", "--", "/usr/bin/id", "-u"])
        #expect(t.status == 0, "\(t.out)")
        #expect(t.out.hasPrefix("65534"), "\(t.out)")
        #expect(t.opens.isEmpty, "the static bulkhead opened \(t.opens)")
    }

    @Test("seccomp record: no shared library")
    func seccompRecord() throws {
        guard let bin = try? requireBinary() else { return }
        let out = NSTemporaryDirectory() + "bh-static-\(token()).json"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let t = try loaderOpens(bin, ["seccomp", "record", "-o", out, "--", "/bin/true"])
        #expect(t.status == 0, "\(t.out)")
        #expect(t.opens.isEmpty, "the static bulkhead opened \(t.opens)")
    }

    /// The crash this lane was made for: a pod on the node bridge (its nftables policy).
    /// Run it only under the pod lock: `flock /tmp/bh-podtests.lock swift test … --filter StaticBinaryTests`.
    @Test("pod run with networking (Examples/pod-web-sidecar.yaml) completes")
    func podWithNetwork() throws {
        guard let bin = try? requireBinary() else { return }
        let r = try Bulkhead.run(["pod", "run", Bulkhead.packageRoot + "/Examples/pod-web-sidecar.yaml"], timeout: 120, binary: bin)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        #expect(r.stdout.contains("written by the sidecar"), "\(r.stdout)")
    }
}
