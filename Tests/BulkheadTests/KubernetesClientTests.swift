import Foundation
import Testing

/// `bulkhead k8s securitycontext` output read by the official Kubernetes Python client
/// (`kubernetes` on PyPI): every field is one the client knows, read back as written, with its
/// type (issue 15: `cpu: 1` unquoted is a YAML number, which the client refuses: "Input should
/// be a valid string"). Runs where `python3 -c 'import kubernetes'` works; the client is not
/// part of the build (`pip install kubernetes`).
@Suite(.enabled(if: Gate.inCI || KubernetesClient.available, "needs the kubernetes Python client: pip install kubernetes (scripts/install-deps.sh installs it; under CI=true this suite runs and fails instead)"))
struct KubernetesClientTests {
    @Test(arguments: ["container", "restricted", "unconfined", "LANDLOCK"])
    func officialClientReadsEveryField(profile: String) throws {
        var args = ["k8s", "securitycontext", "--profile", profile]
        var cleanup: String?
        if profile == "LANDLOCK" {
            // Limits of every kind, Landlock and io: what the embedded profiles do not set.
            let (path, dir) = try RootProfileFile.write("""
            resources:
              limits: {cpu: 2, memory: 1Gi, pids: 64}
              requests: {cpu: 500m, memory: 64Mi}
              io: {weight: 200}
            filesystem:
              landlock: {readOnly: [/usr, /etc], readWrite: [/tmp]}

            """, name: "k8sclient")
            args[3] = path
            cleanup = dir
        }
        defer { if let cleanup { try? FileManager.default.removeItem(atPath: cleanup) } }
        let r = try Bulkhead.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        let check = try KubernetesClient.validate(r.stdout)
        #expect(check.status == 0, "the Kubernetes client refused the output of \(profile): \(check.output)\n\(r.stdout)")
        if profile == "LANDLOCK" {
            #expect(r.stdout.contains("    cpu: \"2\"\n") && r.stdout.contains("# filesystem.landlock (") && r.stdout.contains("# resources.io ("), "\(r.stdout)")
        }
    }

    /// The control: the unquoted quantity the command printed before is refused, so the check
    /// can fail.
    @Test func clientRefusesAnUnquotedQuantity() throws {
        let check = try KubernetesClient.validate("securityContext:\n  runAsUser: 0\nresources:\n  limits:\n    cpu: 1\n")
        #expect(check.status != 0 && check.output.contains("limits.cpu"), "\(check.output)")
    }
}

enum KubernetesClient {
    static let available: Bool = (try? run(["-c", "import kubernetes, yaml"], input: ""))?.status == 0

    /// Reads a container's securityContext and resources (YAML) into the client's V1Container
    /// and back: exit 0 when it reads and serializes back to the same document.
    static let script = """
    import sys, json, yaml
    from kubernetes.client import ApiClient
    given = {"name": "x", "image": "busybox", **yaml.safe_load(sys.stdin.read())}
    api = ApiClient()
    back = api.sanitize_for_serialization(api.deserialize(json.dumps(given), "V1Container", "application/json"))
    if back != given:
        sys.exit("read back differently: " + json.dumps(given, sort_keys=True) + " -> " + json.dumps(back, sort_keys=True))
    """

    static func validate(_ yaml: String) throws -> (status: Int32, output: String) {
        try run(["-c", script], input: yaml)
    }

    static func run(_ args: [String], input: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let stdin = Pipe(), out = Pipe()
        p.standardInput = stdin
        p.standardOutput = out
        p.standardError = out
        try p.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
