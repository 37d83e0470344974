import Foundation
import Testing

/// docs/kubernetes.md stays true: every YAML manifest in it is valid against the official
/// Kubernetes schemas (`kubernetes-validate` from PyPI, strict: an unknown field is an
/// error), a broken copy is refused (so the check can fail), the containerd snippet is
/// loaded by a real containerd started here (its CRI plugin loads; `config dump` shows the
/// runtime with its BinaryName), the CRI-O snippet reads as TOML with the same binary, and
/// the RuntimeClass handler names the runtime both snippets define.
///
/// The containerd check starts a containerd (cgroups, shims): run it ONLY as
/// `flock /tmp/bh-podtests.lock swift test --skip-build --no-parallel --filter KubernetesDocTests`.
@Suite(.enabled(if: Gate.inCI || KubernetesDoc.validatorAvailable,
                "needs kubernetes-validate (pip install kubernetes-validate; scripts/install-deps.sh installs it; under CI=true this suite runs and fails instead)"),
       .serialized)
struct KubernetesDocTests {
    static let doc = KubernetesDoc.load()

    @Test func everyManifestIsValid() throws {
        let manifests = Self.doc.blocks(lang: "yaml")
        #expect(manifests.count >= 3, "the RuntimeClass, the scheduled RuntimeClass and the Pod")
        for m in manifests {
            let r = try KubernetesDoc.validate(m)
            #expect(r.status == 0, "docs/kubernetes.md manifest refused by the Kubernetes schemas:\n\(r.output)\n\(m)")
        }
        let kinds = manifests.joined(separator: "\n")
        #expect(kinds.contains("kind: RuntimeClass") && kinds.contains("kind: Pod") && kinds.contains("runtimeClassName: bulkhead"))
    }

    /// The control: broken copies of the doc's own manifests are refused.
    @Test func brokenManifestsAreRefused() throws {
        let runtimeClass = try #require(Self.doc.blocks(lang: "yaml").first { $0.contains("kind: RuntimeClass") })
        let pod = try #require(Self.doc.blocks(lang: "yaml").first { $0.contains("kind: Pod") })
        for (broken, why) in [(runtimeClass.replacingOccurrences(of: "\nhandler:", with: "\nhandlr:"), "'handler' is a required property"),
                              (pod.replacingOccurrences(of: "runtimeClassName: bulkhead", with: "runtimeClassName: 5"), "runtimeClassName"),
                              (pod.replacingOccurrences(of: "  runtimeClassName:", with: "  runtimeClass:"), "runtimeClass")] {
            #expect(broken != runtimeClass && broken != pod)
            let r = try KubernetesDoc.validate(broken)
            #expect(r.status != 0 && r.output.contains(why), "a broken manifest passed: \(r.output)\n\(broken)")
        }
    }

    /// The handler of the RuntimeClass is the runtime both node snippets define, with the same
    /// binary and state directory; the CRI-O snippet reads as TOML.
    @Test func snippetsAgree() throws {
        let containerd = try #require(Self.doc.blocks(lang: "toml").first { $0.contains("io.containerd.grpc.v1.cri") })
        let crio = try #require(Self.doc.blocks(lang: "toml").first { $0.contains("crio.runtime.runtimes") })
        let script = """
        import sys, tomllib, json
        c = tomllib.loads(sys.argv[1]); o = tomllib.loads(sys.argv[2])
        r = c["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
        print(json.dumps({"containerd": sorted(r), "binary": r["bulkhead"]["options"]["BinaryName"], "root": r["bulkhead"]["options"]["Root"],
          "shim": r["bulkhead"]["runtime_type"], "crio": sorted(o["crio"]["runtime"]["runtimes"]),
          "crioBinary": o["crio"]["runtime"]["runtimes"]["bulkhead"]["runtime_path"], "crioRoot": o["crio"]["runtime"]["runtimes"]["bulkhead"]["runtime_root"]}, sort_keys=True))
        """
        let r = try KubernetesClient.run(["-c", script, containerd, crio], input: "")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output == #"{"binary": "/usr/local/bin/bulkhead-runc", "containerd": ["bulkhead", "runc"], "crio": ["bulkhead"], "crioBinary": "/usr/local/bin/bulkhead-runc", "crioRoot": "/run/bulkhead-oci", "root": "/run/bulkhead-oci", "shim": "io.containerd.runc.v2"}"# + "\n", "\(r.output)")
        let handlers = Self.doc.blocks(lang: "yaml").filter { $0.contains("kind: RuntimeClass") }
        #expect(!handlers.isEmpty && handlers.allSatisfy { $0.contains("\nhandler: bulkhead\n") })
    }

    /// containerd started with the doc's snippet and its CRI plugin: the plugin loads (a
    /// snippet it could not read would fail the start or the plugin), and `config dump` shows
    /// the runtime and its options; the same config with the snippet broken is refused.
    @Test(.enabled(if: OCIClientGate.enabled, OCIClientGate.reason))
    func containerdLoadsTheSnippet() throws {
        let snippet = try #require(Self.doc.blocks(lang: "toml").first { $0.contains("io.containerd.grpc.v1.cri") })
        try ContainerdClient.with(.runc, configExtra: "\n" + snippet + "\n", cri: true) { c in
            let plugins = try c.ctr(["plugins", "ls"])
            // `ctr plugins ls`: TYPE ID PLATFORMS STATUS.
            var criStatus: String?
            for line in plugins.stdout.split(separator: "\n") {
                let f: [String] = line.split(separator: " ").map(String.init)
                if f.count >= 3 && f[0] == "io.containerd.grpc.v1" && f[1] == "cri" { criStatus = f.last }
            }
            #expect(criStatus == "ok", "the CRI plugin with the doc's runtime: \(plugins)\n\(c.log.suffix(3000))")
            let dump = try OCIShell.run(["containerd", "--config", c.dir + "/config.toml", "config", "dump"])
            #expect(dump.status == 0, "\(dump)")
            let lines = dump.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            if let start = lines.firstIndex(of: #"[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bulkhead]"#) {
                let table = lines[start...].prefix(30)
                for want in [#"runtime_type = "io.containerd.runc.v2""#, #"pod_annotations = ["bulkhead.dev/*"]"#,
                             #"BinaryName = "/usr/local/bin/bulkhead-runc""#, #"Root = "/run/bulkhead-oci""#] {
                    #expect(table.contains(want), "config dump lacks \(want): \(table.joined(separator: "\n"))")
                }
            } else {
                Issue.record("config dump has no bulkhead runtime: \(dump.stdout)")
            }
            let broken = ContainerdClient.config(dir: c.dir, extra: "\n" + snippet.replacingOccurrences(of: "runtimes.bulkhead]\n", with: "runtimes.bulkhead\n"), cri: true)
            try broken.write(toFile: c.dir + "/broken.toml", atomically: false, encoding: .utf8)
            let refused = try OCIShell.run(["containerd", "--config", c.dir + "/broken.toml", "config", "dump"])
            #expect(refused.status != 0 && refused.stderr.contains("failed to load TOML"), "\(refused)")
        }
    }
}

/// docs/kubernetes.md's fenced blocks, and the schema check.
struct KubernetesDoc {
    let text: String

    static func load() -> KubernetesDoc {
        KubernetesDoc(text: (try? String(contentsOfFile: Bulkhead.packageRoot + "/docs/kubernetes.md", encoding: .utf8)) ?? "")
    }

    /// The bodies of the ```LANG blocks, in order.
    func blocks(lang: String) -> [String] {
        var out: [String] = [], current: [String]? = nil
        for line in text.components(separatedBy: "\n") {
            if var c = current {
                if line.hasPrefix("```") { out.append(c.joined(separator: "\n") + "\n"); current = nil } else { c.append(line); current = c }
            } else if line == "```" + lang {
                current = []
            }
        }
        return out
    }

    static let validatorAvailable: Bool = (try? KubernetesClient.run(["-c", "import kubernetes_validate"], input: ""))?.status == 0

    /// `python3 -m kubernetes_validate --strict` on `manifest`: exit 0 when every document is valid.
    static func validate(_ manifest: String) throws -> (status: Int32, output: String) {
        let file = NSTemporaryDirectory() + "bh-k8s-\(token()).yaml"
        try manifest.write(toFile: file, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try KubernetesClient.run(["-m", "kubernetes_validate", "--strict", file], input: "")
    }
}
