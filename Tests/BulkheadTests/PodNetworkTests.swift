@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The layers above the container, across launchers: pods on bulkhead's node bridge reach
/// each other by pod IP as network policy allows, bandwidth annotations shape a pod's veth,
/// tenants bound their pods with a cgroup and hold their own secrets, and nothing is left
/// behind by `pod stop` or by a killed launcher after `gc`.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct PodNetworkTests {
    static let nodeNamespace = "/run/bulkhead/netns/node"
    static let nodePods = "/run/bulkhead/node/pods"

    /// A pod manifest with one container per (name, argv).
    static func pod(_ name: String, namespace: String = "default", labels: [String: String] = [:], annotations: [String: String] = [:],
                    containers: [(String, [String])], extraSpec: String = "", containerExtra: String = "") -> String {
        func map(_ d: [String: String]) -> String {
            "{" + d.sorted { $0.key < $1.key }.map { "\(PodTests.jsonString($0.key)): \(PodTests.jsonString($0.value))" }.joined(separator: ", ") + "}"
        }
        var y = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: \(name)
              namespace: \(namespace)
              labels: \(map(labels))
              annotations: \(map(annotations))
            spec:
              restartPolicy: Never
            \(extraSpec)
              containers:

            """
        for (c, argv) in containers {
            y += "  - name: \(c)\n    image: busybox\n    command: [\(argv.map(PodTests.jsonString).joined(separator: ", "))]\n\(containerExtra)"
        }
        return y
    }

    /// A TCP server on :8080 (and :8081), answering every connection with "hello".
    static let server = ["python3", "-c", """
        import socket, threading
        def serve(port):
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port)); s.listen(16)
            while True:
                c, _ = s.accept(); c.sendall(b"hello"); c.close()
        threading.Thread(target=serve, args=(8081,), daemon=True).start()
        serve(8080)
        """]

    /// A client pod's command: connect to ip:port; exit 0 answered, 3 timed out (dropped), 4 refused.
    static func connect(_ ip: String, _ port: Int) -> [String] {
        ["python3", "-c", """
        import socket, sys
        s = socket.socket(); s.settimeout(1.5)
        try:
            s.connect(("\(ip)", \(port))); sys.exit(0 if s.recv(5) == b"hello" else 5)
        except socket.timeout: sys.exit(3)
        except ConnectionRefusedError: sys.exit(4)
        """]
    }

    /// Runs a pod to completion: its status, report and output.
    static func runPod(_ yaml: String, extraFiles: [String] = []) throws -> (status: Int32, report: PodReport?, stdout: String, stderr: String) {
        let dir = NSTemporaryDirectory() + "bh-podnet-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var files = try PodManifestFiles.write(yaml, into: dir)
        for (i, f) in extraFiles.enumerated() {
            try f.write(toFile: dir + "/extra\(i).yaml", atomically: true, encoding: .utf8)
            files.append(dir + "/extra\(i).yaml")
        }
        let r = try Bulkhead.run(["pod", "run"] + files + ["--report", dir + "/report.json"])
        return (r.status, try ReportFile.decode(PodReport.self, at: dir + "/report.json"), r.stdout, r.stderr)
    }

    /// Waits until `bulkhead pod ls` shows the pod; returns its IP.
    static func waitForPod(_ name: String, namespace: String = "default", _ background: BackgroundRunPod) throws -> String {
        for _ in 0..<200 {
            let ls = try Bulkhead.run(["pod", "ls", "--json"])
            #expect(ls.status == 0, "pod ls: \(ls.stderr)")
            let pods = try JSONDecoder().decode([PodInfo].self, from: Data(ls.stdout.utf8))
            if let p = pods.first(where: { $0.pod == name && $0.namespace == namespace }), let ip = p.ip {
                return ip
            }
            if !background.run.process.isRunning { break }
            usleep(50_000)
        }
        let r = try background.finish()
        Issue.record("pod \(namespace)/\(name) never appeared: \(r.stderr)")
        throw Errno(ETIMEDOUT)
    }

    static func stop(_ name: String, namespace: String = "default", _ background: BackgroundRunPod) throws -> Bulkhead.Result {
        _ = try Bulkhead.run(["pod", "stop", name, "-n", namespace, "--grace", "5"])
        return try background.finish()
    }

    static func applyPolicy(_ yaml: String) throws {
        let path = NSTemporaryDirectory() + "bh-policy-\(token()).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let r = try Bulkhead.run(["policy", "apply", path])
        #expect(r.status == 0, "policy apply: \(r.stderr)")
    }

    /// bulkhead's base directory in every hierarchy this process (and so a launcher it
    /// starts) belongs to, from /proc/self/cgroup.
    static var bulkheadBases: [String] {
        var out: [String] = []
        for line in (FileIO.read("/proc/self/cgroup") ?? "").split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let path = f[2] == "/" ? "" : String(f[2])
            let mounts = f[1].isEmpty ? ["unified", ""] : [String(f[1])] + f[1].split(separator: ",").map(String.init)
            if let m = mounts.map({ "/sys/fs/cgroup" + ($0.isEmpty ? "" : "/" + $0) }).first(where: { FileIO.exists($0 + "/cgroup.procs") }) {
                out.append(m + path + "/bulkhead")
            }
        }
        return out
    }

    /// Every cgroup directory under bulkhead's bases whose name contains `part`: tenants and the
    /// pods inside them.
    static func cgroupDirectories(containing part: String) -> [String] {
        var out: [String] = []
        for base in bulkheadBases {
            for tenant in FileIO.listDirectory(base) where FileIO.exists(base + "/" + tenant + "/cgroup.procs") {
                if tenant.contains(part) { out.append(base + "/" + tenant) }
                for sub in FileIO.listDirectory(base + "/" + tenant) where sub.contains(part) { out.append(base + "/" + tenant + "/" + sub) }
            }
        }
        return out
    }

    @Test("Pods reach each other by pod IP; a default-deny policy drops it, an allow rule restores exactly the allowed port")
    func podToPodAndPolicy() throws {
        let t = token()
        let srv = BackgroundRunPod(yaml: Self.pod("srv-\(t)", labels: ["app": "srv-\(t)"], containers: [("s", Self.server)]))
        var stopped = false
        defer { if !stopped { _ = try? Self.stop("srv-\(t)", srv) } }
        let ip = try Self.waitForPod("srv-\(t)", srv)
        #expect(ip.hasPrefix("10.244."))
        let client = { (port: Int) throws -> Int32 in
            let r = try Self.runPod(Self.pod("cli-\(t)", labels: ["app": "cli-\(t)"], containers: [("c", Self.connect(ip, port))]))
            if r.status != 0 && r.status != 3 && r.status != 4 { Issue.record("client: \(r.status) \(r.stderr)") }
            return r.status
        }
        // The node: a namespace of bulkhead's own, holding the bridge; the host's links are untouched.
        #expect(FileIO.exists(Self.nodeNamespace))
        #expect(!(FileIO.read("/proc/net/dev") ?? "").contains("bh0"), "the bridge must not be in the host's namespace")
        #expect(try client(8080) == 0, "pod to pod by IP, no policy")
        #expect(try client(8082) == 4, "a closed port is refused (answered), not dropped")

        defer {
            _ = try? Bulkhead.run(["policy", "delete", "deny-\(t)", "allow-\(t)"])
        }
        try Self.applyPolicy("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-\(t)}
            spec:
              podSelector: {matchLabels: {app: srv-\(t)}}
              policyTypes: [Ingress]
            """)
        #expect(try client(8080) == 3, "default deny: the SYN is dropped on the bridge")
        try Self.applyPolicy("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: allow-\(t)}
            spec:
              podSelector: {matchLabels: {app: srv-\(t)}}
              ingress:
              - from: [{podSelector: {matchLabels: {app: cli-\(t)}}}]
                ports: [{protocol: TCP, port: 8080}]
            """)
        #expect(try client(8080) == 0, "the allow rule restores client -> server:8080")
        #expect(try client(8081) == 3, "a port the policy does not name stays dropped")
        let show = try Bulkhead.run(["policy", "show"])
        #expect(show.stdout.contains("table bridge bulkhead") && show.stdout.contains("jump ingress_policy"), "\(show.stdout)")
        // Another tenant's pod with the right label is not the policy's peer (podSelector is namespace-local).
        let tenant = """
            apiVersion: bulkhead.dev/v1alpha1
            kind: Tenant
            metadata: {name: other-\(t)}
            spec: {hostIDRange: "2110000000:65536", allowedProfiles: [container], secretsDirectory: /var/lib/bulkhead/secrets/other-\(t)}
            """
        let foreign = try Self.runPod(Self.pod("cli-\(t)", namespace: "other-\(t)", labels: ["app": "cli-\(t)"], containers: [("c", Self.connect(ip, 8080))]),
                                      extraFiles: [tenant])
        #expect(foreign.status == 3, "a pod of another namespace got through: \(foreign.status) \(foreign.stderr)")
        let foreignMap = try #require(foreign.report?.uidMap, "no pod report: \(foreign.stderr)")
        #expect(foreignMap == "0 2110000000 65536", "the other tenant's own host ids")
        let own = try Self.runPod(Self.pod("ids-\(t)", containers: [("c", ["true"])]))
        let ownMap = try #require(own.report?.uidMap, "no pod report: \(own.stderr)")
        #expect(foreignMap != ownMap)

        // pod stop: the containers get SIGTERM, and the node goes with the last pod.
        let r = try Self.stop("srv-\(t)", srv)
        stopped = true
        #expect(r.status == 143, "the server ends by the forwarded SIGTERM: \(r.status) \(r.stderr)")
        #expect(!FileIO.exists(Self.nodeNamespace), "the node namespace outlived its last pod")
        #expect(FileIO.listDirectory(Self.nodePods).isEmpty)
        #expect(!(FileIO.read("/proc/self/mountinfo") ?? "").contains("/run/bulkhead/netns/node"))
        #expect(Self.cgroupDirectories(containing: "srv-\(t)").isEmpty, "\(Self.cgroupDirectories(containing: "srv-\(t)"))")
        #expect(Self.cgroupDirectories(containing: "other-\(t)").isEmpty, "\(Self.cgroupDirectories(containing: "other-\(t)"))")
    }

    @Test("kubernetes.io/egress-bandwidth and ingress-bandwidth shape the pod's veth: iperf3 between pods stays near the limit, and far above it without")
    func bandwidthAnnotations() throws {
        let t = token()
        let srv = BackgroundRunPod(yaml: Self.pod("ipsrv-\(t)", annotations: ["kubernetes.io/ingress-bandwidth": "8M"],
                                                  containers: [("s", ["iperf3", "-s"])]))
        defer { _ = try? Self.stop("ipsrv-\(t)", srv) }
        let ip = try Self.waitForPod("ipsrv-\(t)", srv)
        usleep(300_000)  // iperf3 -s listening
        func measure(_ annotations: [String: String], reverse: Bool = false) throws -> Double {
            let script = "iperf3 -c \(ip) -t 2 -J \(reverse ? "-R" : "") | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"end\"][\"sum_received\"][\"bits_per_second\"])'"
            let r = try Self.runPod(Self.pod("ipcli-\(t)", annotations: annotations, containers: [("c", ["sh", "-c", script])]))
            guard r.status == 0, let bps = Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                Issue.record("iperf3 client: \(r.status) \(r.stdout) \(r.stderr)")
                return 0
            }
            return bps
        }
        // Client -> server with -R: the server sends, so the server's ingress limit does not apply.
        let unshaped = try measure([:], reverse: true)
        let egress = try measure(["kubernetes.io/egress-bandwidth": "8M"])
        let ingress = try measure([:])
        print("pod network: unshaped \(Int(unshaped / 1e6)) Mbit/s; egress 8M: \(String(format: "%.2f", egress / 1e6)) Mbit/s; server ingress 8M: \(String(format: "%.2f", ingress / 1e6)) Mbit/s")
        // 8 Mbit/s on the wire carries about 7.6 Mbit/s of TCP payload.
        #expect(egress > 5.5e6 && egress < 9.0e6, "egress-shaped throughput \(egress / 1e6) Mbit/s is not near 8")
        #expect(ingress > 5.5e6 && ingress < 9.0e6, "ingress-shaped throughput \(ingress / 1e6) Mbit/s is not near 8")
        #expect(unshaped > 5 * 8e6, "unshaped \(unshaped / 1e6) Mbit/s is not clearly above the limit")
    }

    static func tenant(_ name: String, range: String, secrets: String) -> String {
        """
        apiVersion: bulkhead.dev/v1alpha1
        kind: Tenant
        metadata: {name: \(name), labels: {team: \(name)}}
        spec: {hostIDRange: "\(range)", allowedProfiles: [container], secretsDirectory: \(secrets)}
        """
    }

    @Test("A tenant's cgroup carries its quota and bounds its pods together: a second pod's forks fail at the tenant's pids ceiling")
    func tenantQuota() throws {
        let t = token()
        let tenantName = "tq-\(t)"
        let manifests = [Self.tenant(tenantName, range: "2120000000:65536", secrets: "/var/lib/bulkhead/secrets/\(tenantName)"), """
            apiVersion: v1
            kind: ResourceQuota
            metadata: {name: q, namespace: \(tenantName)}
            spec: {hard: {limits.memory: 512Mi, limits.cpu: "2", bulkhead.dev/pids: "40"}}
            """]
        let limits = "    resources: {limits: {memory: 128Mi, cpu: 500m}}\n"
        // Pod A holds 25 processes.
        let holderYAML = Self.pod("hold-\(t)", namespace: tenantName, containers: [("h", ["sh", "-c", "for i in $(seq 25); do sleep 60 & done; wait"])],
                                  containerExtra: limits)
        let dir = NSTemporaryDirectory() + "bh-tq-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (i, m) in manifests.enumerated() { try m.write(toFile: "\(dir)/m\(i).yaml", atomically: true, encoding: .utf8) }
        try holderYAML.write(toFile: dir + "/hold.yaml", atomically: true, encoding: .utf8)
        let hold = try BackgroundRun(["pod", "run", dir + "/hold.yaml", dir + "/m0.yaml", dir + "/m1.yaml"])
        defer {
            _ = try? Bulkhead.run(["pod", "stop", "hold-\(t)", "-n", tenantName, "--grace", "2"])
            _ = try? hold.finish()
        }
        var tenantDirs: [String] = []
        for _ in 0..<100 {
            tenantDirs = Self.cgroupDirectories(containing: tenantName).filter { $0.hasSuffix("/" + tenantName) }
            let pids = tenantDirs.first { FileIO.exists($0 + "/pids.max") }.flatMap { FileIO.read($0 + "/pids.current") }
            if let n = Int((pids ?? "").trimmingCharacters(in: .whitespacesAndNewlines)), n >= 26 { break }
            usleep(50_000)
        }
        // The tenant's cgroup holds the quota (v1 drivers on this host, v2 in the VM lane): the
        // directory with the pids controller's files, whichever hierarchy carries it.
        let pidsDir = try #require(tenantDirs.first { FileIO.exists($0 + "/pids.max") }, "\(tenantDirs)")
        #expect(FileIO.read(pidsDir + "/pids.max")?.trimmingCharacters(in: .whitespacesAndNewlines) == "40")
        let mem = try #require(tenantDirs.first { FileIO.exists($0 + "/memory.limit_in_bytes") || FileIO.exists($0 + "/memory.max") }, "\(tenantDirs)")
        let memLimit = FileIO.read(mem + "/memory.limit_in_bytes") ?? FileIO.read(mem + "/memory.max")
        #expect(memLimit?.trimmingCharacters(in: .whitespacesAndNewlines) == String(512 << 20))

        // Pod B forks 25 children: the tenant's ceiling of 40 stops it, though its own pod
        // limit (1024 per container) would not.
        let forker = ["python3", "-c", """
            import os, sys, time
            n = 0
            for i in range(25):
                try:
                    pid = os.fork()
                except BlockingIOError:
                    print("forked", n, "EAGAIN"); sys.exit(7)
                if pid == 0:
                    time.sleep(2); os._exit(0)
                n += 1
            print("forked", n); sys.exit(0)
            """]
        let b = try Self.runPod(Self.pod("fork-\(t)", namespace: tenantName, containers: [("f", forker)], containerExtra: limits), extraFiles: manifests)
        #expect(b.status == 7, "the second pod forked past the tenant's ceiling: \(b.status) \(b.stdout) \(b.stderr)")
        let tenantLimits = try #require(b.report?.tenantLimits, "the tenant's limits are reported: \(b.stderr)")
        #expect(tenantLimits.enforced.contains { $0.limit.rawValue == "pids.max" }, "\(tenantLimits)")

        // Admission charges the running pod's limits: a pod asking more than is left is refused.
        let big = try Self.runPod(Self.pod("big-\(t)", namespace: tenantName, containers: [("b", ["true"])],
                                           containerExtra: "    resources: {limits: {memory: 400Mi, cpu: 500m}}\n"), extraFiles: manifests)
        #expect(big.status == 125 && big.stderr.contains("limits.memory would be 528Mi, over the hard limit 512Mi"), "\(big.stderr)")

        // Alone, the same forking pod gets all 25.
        _ = try Bulkhead.run(["pod", "stop", "hold-\(t)", "-n", tenantName, "--grace", "2"])
        _ = try hold.finish()
        let alone = try Self.runPod(Self.pod("fork-\(t)", namespace: tenantName, containers: [("f", forker)], containerExtra: limits), extraFiles: manifests)
        #expect(alone.status == 0, "alone: \(alone.stdout) \(alone.stderr)")
        #expect(Self.cgroupDirectories(containing: tenantName).isEmpty, "the tenant's cgroup outlived its pods: \(Self.cgroupDirectories(containing: tenantName))")
    }

    @Test("A tenant's secret is mounted read-only into its pods that ask for it; another tenant cannot name it, and a pod without the volume does not see it")
    func tenantSecrets() throws {
        let t = token()
        // Each tenant's secrets are its own directory under the node's secrets root.
        let dirA = PodLoader.secretsRoot + "/sa-\(t)", dirB = PodLoader.secretsRoot + "/sb-\(t)"
        defer { for d in [dirA, dirB] { try? FileManager.default.removeItem(atPath: d) } }
        try FileManager.default.createDirectory(atPath: dirA + "/db", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dirB, withIntermediateDirectories: true)
        try "s3cret-\(t)".write(toFile: dirA + "/db/password", atomically: true, encoding: .utf8)
        chmod(dirA + "/db/password", 0o600)
        let tenantA = Self.tenant("sa-\(t)", range: "2130000000:65536", secrets: dirA)
        let tenantB = Self.tenant("sb-\(t)", range: "2130065536:65536", secrets: dirB)
        let volume = "  volumes:\n  - name: db\n    secret: {secretName: db}\n"
        let mount = "    volumeMounts: [{name: db, mountPath: /mnt}]\n"
        let reader = ["sh", "-c", "cat /mnt/password; echo; stat -c '%a %u' /mnt/password; touch /mnt/x 2>/dev/null && echo writable || echo read-only"]
        let a = try Self.runPod(Self.pod("sec-\(t)", namespace: "sa-\(t)", containers: [("r", reader)], extraSpec: volume, containerExtra: mount),
                                extraFiles: [tenantA])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == "s3cret-\(t)\n400 0\nread-only\n", "\(a.stdout)")
        // Tenant B names the same secret: it resolves in B's own directory, where there is none.
        let b = try Self.runPod(Self.pod("sec-\(t)", namespace: "sb-\(t)", containers: [("r", reader)], extraSpec: volume, containerExtra: mount),
                                extraFiles: [tenantB])
        #expect(b.status == 125 && b.stderr.contains("secret volume db: secret directory \(dirB)/db") && b.stderr.contains("ENOENT"), "\(b.stderr)")
        // A pod of tenant A without the volume sees no secret anywhere. It looks for this run's
        // secret itself (its token): any file of the host's that merely names the word, such as
        // a copy of this test's source under /var/tmp, is not the secret.
        let c = try Self.runPod(Self.pod("nosec-\(t)", namespace: "sa-\(t)", containers: [("r", ["sh", "-c", "! grep -rqsF 's3cret-\(t)' /etc /run /var/tmp /var/lib/bulkhead"])]),
                                extraFiles: [tenantA])
        #expect(c.status == 0, "a pod without the secret volume found it: \(c.stdout) \(c.stderr)")
        #expect(Self.cgroupDirectories(containing: "sa-\(t)").isEmpty, "a tenant's cgroup outlived its last pod: \(Self.cgroupDirectories(containing: "sa-\(t)"))")
    }

    @Test("bulkhead.dev/network: none keeps the pod on loopback: no eth0, no node entry; bandwidth then is an error")
    func networkNone() throws {
        let r = try Self.runPod(Self.pod("lo-\(token())", annotations: ["bulkhead.dev/network": "none"],
                                         containers: [("c", ["sh", "-c", "cat /proc/net/dev; test -z \"$BULKHEAD_POD_IP\""])]))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("lo:") && !r.stdout.contains("eth0"), "\(r.stdout)")
        let report = try #require(r.report, "no pod report: \(r.stderr)")
        #expect(report.network == nil, "a pod without a network has no address: \(String(describing: report.network))")
        #expect(report.phase == "Succeeded")
        let bad = try Self.runPod(Self.pod("lo-\(token())", annotations: ["bulkhead.dev/network": "none", "kubernetes.io/egress-bandwidth": "1M"],
                                           containers: [("c", ["true"])]))
        #expect(bad.status == 125 && bad.stderr.contains("has no veth to shape"), "\(bad.stderr)")
    }

    @Test("A pod's user namespace is owned by its tenant's host uid: a pod that uses up its inotify budget leaves host root's, and other tenants', untouched")
    func inotifyBudgetIsTheTenants() throws {
        let t = token()
        let hog = ["python3", "-c", """
            import ctypes, errno, time
            libc = ctypes.CDLL(None, use_errno=True); n = 0
            while n < 100000 and libc.inotify_init() >= 0: n += 1
            open("/mnt/done", "w").write("%d %s" % (n, errno.errorcode.get(ctypes.get_errno(), "?")))
            time.sleep(3)
            """]
        let tenant = Self.tenant("in-\(t)", range: "2150000000:65536", secrets: "/var/lib/bulkhead/secrets/in-\(t)")
        let dir = NSTemporaryDirectory() + "bh-in-\(t)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tenant.write(toFile: dir + "/t.yaml", atomically: true, encoding: .utf8)
        try Self.pod("hog-\(t)", namespace: "in-\(t)", containers: [("h", hog)],
                     extraSpec: "  volumes: [{name: out, emptyDir: {sizeLimit: 1Mi}}]\n", containerExtra: "    volumeMounts: [{name: out, mountPath: /mnt}]\n")
            .write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        let bg = try BackgroundRun(["pod", "run", dir + "/p.yaml", dir + "/t.yaml"])
        defer { _ = try? bg.finish() }
        var done: String?
        for _ in 0..<200 {
            let vols = FileIO.listDirectory("/run/bulkhead/pods").filter { $0.contains("hog-\(t)") }
            if let v = vols.first, let text = FileIO.read("/run/bulkhead/pods/\(v)/volumes/out/done") { done = text; break }
            usleep(25_000)
        }
        let found = try #require(done, "the hog never reported")
        #expect(found.hasSuffix(" EMFILE"), "the hog ran its own budget out: \(found)")
        // Meanwhile host root, and another tenant's pod, still get instances.
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        #expect(fd >= 0, "host root's inotify budget was taken: \(Errno.current)")
        if fd >= 0 { close(fd) }
        let other = try Self.runPod(Self.pod("ok-\(t)", containers: [("c", ["python3", "-c", "import ctypes, sys; sys.exit(0 if ctypes.CDLL(None).inotify_init() >= 0 else 1)"])]))
        #expect(other.status == 0, "another tenant's pod: \(other.stderr)")
    }

    @Test("Pods started at the same moment by separate launchers get distinct addresses, and reach each other")
    func concurrentLaunchers() throws {
        let t = token()
        let names = (0..<3).map { "c\($0)-\(t)" }
        let pods = names.map { BackgroundRunPod(yaml: Self.pod($0, containers: [("s", Self.server)])) }
        defer { for (n, p) in zip(names, pods) { _ = try? Self.stop(n, p) } }
        let ips = try zip(names, pods).map { try Self.waitForPod($0, $1) }
        #expect(Set(ips).count == 3, "\(ips)")
        #expect(FileIO.listDirectory(Self.nodePods).count == 3)
        usleep(500_000)
        // Each pod reaches the next by address.
        for ip in ips {
            let r = try Self.runPod(Self.pod("probe-\(t)", containers: [("c", Self.connect(ip, 8080))]))
            #expect(r.status == 0, "\(ip): \(r.status) \(r.stderr)")
        }
    }

    @Test("A killed launcher's pod: gc removes its node entry, veth, node namespace, cgroups and pod directory")
    func killedLauncherThenGC() throws {
        let t = token()
        let bg = BackgroundRunPod(yaml: Self.pod("kill-\(t)", annotations: ["bulkhead.dev/pod-limits": "memory=64Mi"],
                                                 containers: [("s", ["sleep", "60"])]))
        _ = try Self.waitForPod("kill-\(t)", bg)
        let entries = FileIO.listDirectory(Self.nodePods)
        #expect(entries.count == 1)
        kill(bg.run.process.processIdentifier, SIGKILL)
        _ = try bg.finish()
        // The containers and the holder die with their launcher (PDEATHSIG); what they made stays.
        #expect(FileIO.exists(Self.nodeNamespace), "expected the killed launcher's node to be left for gc")
        let gc = try Bulkhead.run(["gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(!FileIO.exists(Self.nodeNamespace), "gc left the node namespace: \(gc.stdout)")
        #expect(FileIO.listDirectory(Self.nodePods).isEmpty)
        #expect(!FileIO.listDirectory("/run/bulkhead/pods").contains { $0.contains("kill-\(t)") })
        #expect(Self.cgroupDirectories(containing: "kill-\(t)").isEmpty, "\(Self.cgroupDirectories(containing: "kill-\(t)"))")
        #expect(!(FileIO.read("/proc/self/mountinfo") ?? "").contains("kill-\(t)"))
    }
}

/// The node stores applied policies as Kubernetes JSON; reading them back must give the same policy.
@Suite struct StoredPolicyTests {
    @Test func roundTrip() throws {
        let yaml = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: team-a, labels: {x: y}}
            spec:
              podSelector:
                matchLabels: {app: db}
                matchExpressions: [{key: tier, operator: In, values: [a, b]}, {key: legacy, operator: DoesNotExist}]
              policyTypes: [Ingress, Egress]
              ingress:
              - from: [{podSelector: {matchLabels: {app: web}}}, {namespaceSelector: {matchLabels: {team: blue}}, podSelector: {}}]
                ports: [{protocol: TCP, port: 5432}, {protocol: UDP, port: 6000, endPort: 6010}]
              - {}
              egress:
              - to: [{namespaceSelector: {}}]
            """
        let p = try NetworkPolicyParser.parse(yaml, file: "p.yaml")
        let json = String(decoding: try JSONEncoder.sorted.encode(StoredPolicy(p)), as: UTF8.self)
        var back = try NetworkPolicyParser.parse(json, file: "p.json")
        back.metadata.annotations = p.metadata.annotations
        #expect(back == p, "\(json)")
    }
}
