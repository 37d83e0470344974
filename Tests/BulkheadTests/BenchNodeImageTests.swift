import BulkheadConfig
import BulkheadModel
import Foundation
import Glibc
import Testing

/// The bench's node image (scripts/node-image.sh, deploy/node/Containerfile) built offline from
/// scratch and run under podman (runc) on this machine as a DaemonSet would run it on a node:
/// twice, as two nodes, each writing `bench --json`; the two reports merged with `bench merge`
/// and the merged report decoded as the typed `BenchMergedReport`.
///
/// podman keeps everything in this test's own directory (--root, --runroot, vfs storage, no
/// systemd), pulls nothing and runs with `--network none` (the pods' node bridge is made in a
/// network namespace of podman's container). The image holds this build's debug binary with the
/// shared libraries ldd lists for it (as the release build of docs/bench-on-nodes.md gets its
/// own: a release build takes minutes), and no experiment programs: the two cells run are the
/// cheapest, shell-only ones.
///
/// Runs `bulkhead bench` (global state): only under `flock /tmp/bh-podtests.lock`.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct BenchNodeImageTests {
    static let cells = ["processes/container", "identity/pod"]

    /// Runs a command, its output captured in files (never a pipe that could fill).
    static func shell(_ args: [String], timeout: Double = 300) throws -> (status: Int32, out: String, err: String) {
        let dir = NSTemporaryDirectory() + "bh-node-cmd-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        try p.run()
        let end = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < end { usleep(50_000) }
        if p.isRunning {
            p.terminate()
            Issue.record("\(args.prefix(8)) did not finish within \(timeout) s")
        }
        p.waitUntilExit()
        let read = { (n: String) in (try? String(contentsOfFile: dir + "/" + n, encoding: .utf8)) ?? "" }
        return (p.terminationStatus, read("out"), read("err"))
    }

    /// The hard limit of `resource`, at most `cap`: podman (rootful) sets RLIMIT_NOFILE and
    /// RLIMIT_NPROC on every container, and this host's root lacks CAP_SYS_RESOURCE to raise
    /// them; the values are given so that the runtime only lowers them.
    /// `resource`: Linux's number (RLIMIT_NPROC 6, RLIMIT_NOFILE 7; Glibc imports no NPROC).
    static func ulimit(_ resource: Int32, cap: UInt) -> String {
        var r = rlimit()
        getrlimit(__rlimit_resource_t(resource), &r)
        let v = min(UInt(r.rlim_max), cap)
        return "\(v):\(v)"
    }

    /// A file that is not a bulkhead (here busybox) is refused before anything is built. (A
    /// static bulkhead is fine: it runs /usr/sbin/nft and loads no library at run time.)
    @Test("node-image.sh refuses a --binary that is not a bulkhead, before building anything")
    func notABulkheadRefused() throws {
        let r = try Self.shell([Bulkhead.packageRoot + "/scripts/node-image.sh", "--binary", "/bin/busybox", "--no-programs"], timeout: 60)
        #expect(r.status == 1, "\(r.out) \(r.err)")
        #expect(r.err.contains("/bin/busybox is not a bulkhead"), "\(r.err)")
    }

    @Test("The node image runs the bench under podman as two nodes; bench merge gives one matrix of both")
    func imageRunsAndMerges() throws {
        let fm = FileManager.default
        let podmanPath = ["/usr/bin/podman", "/usr/local/bin/podman"].first { fm.isExecutableFile(atPath: $0) }
        try #require(podmanPath != nil, "podman is not installed (scripts/install-deps.sh installs it)")
        let dir = NSTemporaryDirectory() + "bh-node-image-\(token())"
        try fm.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        let podman = [podmanPath!, "--root", dir + "/storage", "--runroot", dir + "/run", "--storage-driver", "vfs",
                      "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", dir + "/tmp"]
        let tag = "localhost/bulkhead-node:test-\(token())"
        defer {
            _ = try? Self.shell(podman + ["rmi", "-f", tag], timeout: 60)
            // vfs layers may hold read-only directories: make them removable first.
            _ = try? Self.shell(["chmod", "-R", "u+rwX", dir], timeout: 60)
            try? fm.removeItem(atPath: dir)
        }

        let build = try Self.shell([Bulkhead.packageRoot + "/scripts/node-image.sh", "--binary", Bulkhead.fullBinary, "--tag", tag,
                                    "--no-programs", "--"] + Array(podman.dropFirst()))
        try #require(build.status == 0, "node-image.sh: \(build.err.suffix(2000))")
        #expect(build.out.split(separator: "\n").last.map(String.init) == tag)
        let inspect = try Self.shell(podman + ["image", "inspect", "--format", "{{len .RootFS.Layers}} {{.Config.Entrypoint}}", tag], timeout: 60)
        #expect(inspect.out.hasPrefix("1 [/usr/local/bin/bulkhead]"), "FROM scratch: one layer, bulkhead as the entry point: \(inspect.out)")

        // Two nodes: node-a by its host name (the default), node-b by --node-name.
        for (node, extra) in [("node-a", [String]()), ("node-b", ["--node-name", "node-b"])] {
            let run = try Self.shell(podman + ["run", "--rm", "--runtime", "runc", "--network", "none", "--privileged",
                                               "--ulimit", "nofile=" + Self.ulimit(7, cap: 1 << 20),
                                               "--ulimit", "nproc=" + Self.ulimit(6, cap: 16384),
                                               "--hostname", node, "-v", dir + "/out:/out", tag,
                                               "bench", "--only"] + Self.cells + ["--rounds", "1", "--duration", "0.5",
                                               "--json", "/out/\(node).json"] + extra)
            #expect(run.status == 0, "bench in the image on \(node): \(run.out.suffix(1500)) \(run.err.suffix(1500))")
            let report = try #require(try ReportFile.decode(BenchMatrixReport.self, at: dir + "/out/\(node).json"), "no report from \(node)")
            #expect(report.host.node == node)
            #expect(report.results.map(\.cell.description).sorted() == Self.cells.sorted())
            for r in report.results { #expect(r.confirmsClaim, "\(node) \(r.cell): \(r.verdict.kind.rawValue): \(r.verdict.reason) \(r.evidence)") }
        }

        let html = dir + "/out/merged.html", json = dir + "/out/merged.json"
        let merge = try Bulkhead.run(["bench", "merge", dir + "/out/node-a.json", dir + "/out/node-b.json", "--json", json, "--html", html])
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.stdout.contains("No cell differs between the nodes"), "\(merge.stdout)")
        let merged = try #require(try ReportFile.decode(BenchMergedReport.self, at: json), "merge wrote no JSON")
        #expect(merged.nodes.map(\.name) == ["node-a", "node-b"])
        #expect(merged.cells.map(\.description) == Self.cells.compactMap(BenchCellID.init(parsing:)).sorted().map(\.description))
        #expect(merged.nodes.allSatisfy { $0.report.host.kernel == merged.nodes[0].report.host.kernel }, "one machine, one kernel")
        #expect(!merged.differingHostFacts.contains(.kernel) && !merged.differences.contains { $0.kind == .verdict },
                "the same machine twice: no verdict differs: \(merged.differences)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<th class=\"node\" colspan=\"2\">node-a</th><th class=\"node\" colspan=\"2\">node-b</th>"))

        // The same node twice is refused, naming the file.
        let twice = try Bulkhead.run(["bench", "merge", dir + "/out/node-a.json", dir + "/out/node-a.json"])
        #expect(twice.status == 2 && twice.stderr.contains("node-a.json: host.node: the same node as"), "\(twice.stderr)")
    }
}

/// `kubernetes-validate` (PyPI): the official Kubernetes OpenAPI schemas.
enum KubernetesValidate {
    static let available: Bool = (try? run("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"))?.status == 0

    /// `python3 -m kubernetes_validate --strict` on `yaml`: its status and output.
    static func run(_ yaml: String) throws -> (status: Int32, output: String) {
        let path = NSTemporaryDirectory() + "bh-manifest-\(token()).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try BenchNodeImageTests.shell(["python3", "-m", "kubernetes_validate", "--strict", path], timeout: 120)
        return (r.status, r.out + r.err)
    }
}

/// The DaemonSet of docs/bench-on-nodes.md validated against the official Kubernetes schemas
/// with `kubernetes-validate --strict` (it refuses a field the schema does not have), and the
/// privileges the page states are the manifest's. Runs where `python3 -m kubernetes_validate`
/// works; under CI=true it runs and fails instead.
@Suite(.enabled(if: Gate.inCI || KubernetesValidate.available,
                "needs kubernetes-validate: pip install kubernetes-validate (under CI=true this suite runs and fails instead)"))
struct BenchNodeManifestTests {
    static func manifest() throws -> String {
        let doc = DocCommands.parse(root: Bulkhead.packageRoot, path: "docs/bench-on-nodes.md")
        return try #require(doc.files.first { $0.name == "bench-daemonset.yaml" }?.text, "docs/bench-on-nodes.md shows no bench-daemonset.yaml")
    }

    @Test("The DaemonSet of docs/bench-on-nodes.md is valid against the Kubernetes schemas, strictly")
    func daemonSetValidates() throws {
        let r = try KubernetesValidate.run(try Self.manifest())
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("daemonset/bulkhead-bench") && r.output.contains("namespace/bulkhead-bench"), "\(r.output)")
    }

    @Test("The control: a field the schema does not have is refused, so the check can fail")
    func unknownFieldRefused() throws {
        let yaml = try Self.manifest()
        #expect(yaml.contains("      hostPID: false\n"))
        let r = try KubernetesValidate.run(yaml.replacingOccurrences(of: "      hostPID: false\n", with: "      hostPIDs: false\n"))
        #expect(r.status != 0 && r.output.contains("'hostPIDs' was unexpected"), "\(r.output)")
    }

    @Test("The manifest asks for what the page states: privileged, no host namespaces, one hostPath, the node's name")
    func statedPrivileges() throws {
        let yaml = try Self.manifest()
        for line in ["privileged: true", "hostPID: false", "hostIPC: false", "hostNetwork: false", "automountServiceAccountToken: false",
                     "hostPath: {path: /var/lib/bulkhead-bench, type: DirectoryOrCreate}", "fieldRef: {fieldPath: spec.nodeName}",
                     "bulkhead bench --node-name \"$NODE_NAME\" --json \"/out/.$NODE_NAME.json\"",
                     "echo $$ > /sys/fs/cgroup/launcher/cgroup.procs"] {
            #expect(yaml.contains(line), "\(line)")
        }
        #expect(yaml.components(separatedBy: "hostPath:").count == 2, "one hostPath volume")
        #expect(!yaml.contains("hostUsers") && !yaml.contains("capabilities:"), "no user namespace, no capability list beside privileged")
    }
}
