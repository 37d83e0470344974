@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 12, attacked again after the fix: pods (admission, ids, volumes, the node network),
/// numbers and the --tty relay. Each test is an attack that went through on 2ecd866.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamPodTests {
    /// A tenant of `range`, at the default level, on no node network of its own choosing.
    static func tenant(_ name: String, range: String) -> String {
        """
        apiVersion: bulkhead.dev/v1alpha1
        kind: Tenant
        metadata: {name: \(name), labels: {team: \(name)}}
        spec: {hostIDRange: "\(range)", allowedProfiles: [container], secretsDirectory: /var/lib/bulkhead/secrets/\(name)}
        ---

        """
    }

    /// A one-container pod off the node network (loopback only: no bridge, no address).
    static func pod(_ name: String, namespace: String, _ script: String) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
          namespace: \(namespace)
          annotations: {bulkhead.dev/network: none}
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: x
            command: [sh, -c, \(PodTests.jsonString(script))]

        """
    }

    // MARK: ids: a tenant's range against the pods that run

    @Test("A tenant's range cannot map the owner of a running pod's user namespace (another tenant's range, given in another invocation)")
    func tenantRangeMapsARunningPodsOwner() throws {
        // Tenant A runs a pod on range START:65536. Tenant B's author picks START-1:65536, in
        // another invocation: B's ids would be A's host ids (and, before the owner band, B's
        // uid 1 was host uid START, the owner of A's user namespace). The tenants were checked
        // against each other only when given in one invocation (Tenant.validate), and against
        // the built-in ranges, never against the pods that run.
        let start = UInt32(3_700_000_000) + UInt32.random(in: 0..<1000) * 131_072
        let t = token()
        let (na, nb) = ("rta-\(t)", "rtb-\(t)")
        let a = BackgroundRunPod(yaml: Self.tenant(na, range: "\(start):65536") + Self.pod("a", namespace: na, "sleep 30"))
        var finished = false
        defer { if !finished { _ = try? PodNetworkTests.stop("a", namespace: na, a) } }
        var target: Int32?
        for _ in 0..<200 where target == nil {
            // The workload (dumpable, unlike the container's init), in a namespace A's range owns.
            target = FileIO.listDirectory("/proc").compactMap { Int32($0) }.first { pid in
                FileIO.read("/proc/\(pid)/comm") == "sleep\n" && TrustIdentityTests.ownerUID(pid) == IDRange(hostStart: start, count: 65536).ownerHostID
            }
            if target == nil { usleep(50_000) }
        }
        let victim = try #require(target, "pod a of tenant \(na) never ran")

        let dir = NSTemporaryDirectory() + "bh-redpod-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try PodManifestFiles.write(Self.tenant(nb, range: "\(start - 1):65536")
                                               + Self.pod("b", namespace: nb, "cat /proc/self/uid_map"), into: dir)
        let r = try Bulkhead.run(["pod", "run"] + files)
        let maps = r.stdout.split(separator: "\n").compactMap { line -> (UInt64, UInt64)? in
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            return f.count == 3 ? (f[1], f[2]) : nil
        }
        let owner = UInt64(IDRange(hostStart: start, count: 65536).ownerHostID)
        let mapsOwner = maps.contains { line in [UInt64(start), owner].contains { $0 >= line.0 && $0 < line.0 + line.1 } }
        #expect(r.status != 0 && !mapsOwner,
                "tenant \(nb)'s pod ran with host uid \(start), the owner of tenant \(na)'s running pod's user namespace: \(r.stdout) \(r.stderr.suffix(300))")
        #expect(r.status == 0 || r.stderr.contains("hostIDRange") || r.stderr.contains("\(start)"), "\(r.stderr.suffix(300))")
        // What that uid can do to tenant A (a host process under B's mapped root).
        if r.status == 0 && mapsOwner {
            let e = try TrustIdentityTests.asHostUID(UInt64(start), ["/usr/bin/nsenter", "--user=/proc/\(victim)/ns/user", "--preserve-credentials", "--", "/bin/true"])
            #expect(e.status != 0, "host uid \(start), tenant \(nb)'s root, entered tenant \(na)'s user namespace")
        }
        _ = try PodNetworkTests.stop("a", namespace: na, a)
        finished = true
    }

    // MARK: the node network

    @Test("An ingress-isolated pod (deny all) receives no broadcast: UDP to 10.244.255.255 or 255.255.255.255 from another pod is dropped like unicast")
    func broadcastReachesAnIngressIsolatedPod() throws {
        // The forward chain sends a frame to ingress_policy when its IPv4 destination is an
        // isolated pod's address; a broadcast's destination is the broadcast address, so the
        // bridge floods it to every port, the isolated pod's included, unfiltered.
        let t = token()
        let ns = "rbc-\(t)"
        let range = "\(UInt32(3_850_000_000) + UInt32.random(in: 0..<300) * 131_072):65536"
        try PodNetworkTests.applyPolicy("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-\(t), namespace: \(ns)}
            spec:
              podSelector: {matchLabels: {app: victim}}
              policyTypes: [Ingress]

            """)
        defer { _ = try? Bulkhead.run(["policy", "delete", "deny-\(t)", "-n", ns]) }
        let listener = """
            import socket, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 9999)); s.settimeout(0.5)
            end = time.monotonic() + 8
            while time.monotonic() < end:
                try:
                    d, a = s.recvfrom(100); print("GOT", d.decode(), flush=True)
                except socket.timeout: pass
            print("LISTENED", flush=True)
            """
        let victim = BackgroundRunPod(yaml: Self.tenant(ns, range: range)
                                      + PodNetworkTests.pod("victim", namespace: ns, labels: ["app": "victim"],
                                                            containers: [("c", ["python3", "-c", listener])]))
        var finished = false
        defer { if !finished { _ = try? PodNetworkTests.stop("victim", namespace: ns, victim) } }
        let ip = try PodNetworkTests.waitForPod("victim", namespace: ns, victim)

        let sender = """
            import socket, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            time.sleep(1)
            for _ in range(5):
                for m, to in (("unicast", "\(ip)"), ("broadcast", "10.244.255.255"), ("limited", "255.255.255.255")):
                    s.sendto(m.encode(), (to, 9999))
                time.sleep(0.3)
            print("SENT", flush=True)
            """
        let dir = NSTemporaryDirectory() + "bh-redpod-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try PodManifestFiles.write(Self.tenant(ns, range: range)
                                               + PodNetworkTests.pod("sender", namespace: ns, labels: ["app": "sender"],
                                                                     containers: [("c", ["python3", "-c", sender])]), into: dir)
        let s = try Bulkhead.run(["pod", "run"] + files)
        #expect(s.status == 0 && s.stdout.contains("SENT"), "the sender did not run: \(s.stderr.suffix(300))")
        let v = try victim.finish()
        finished = true
        #expect(v.stdout.contains("LISTENED"), "the victim did not run: \(v.stderr.suffix(300))")
        #expect(!v.stdout.contains("GOT unicast"), "the policy is not in force: \(v.stdout)")
        #expect(!v.stdout.contains("GOT broadcast") && !v.stdout.contains("GOT limited"),
                "broadcast datagrams reached the ingress-isolated pod: \(v.stdout)")
    }

    // MARK: the --tty relay

    /// Runs `bulkhead ARGS` with stdin = /dev/null and stdout = a pty slave whose master
    /// nobody reads (a terminal that stopped reading: a stalled ssh session, a paused
    /// emulator); prints "LAUNCHER-STUCK" and exits 99 when the launcher has not ended after
    /// 15 s (a hang guard, not a timing assertion: a launcher that honours --timeout 2s ends
    /// long before).
    static let stuckTerminalWrapper = """
        import os, sys, signal, pty, tty
        m, s = pty.openpty()
        tty.setraw(s)
        pid = os.fork()
        if pid == 0:
            os.dup2(s, 1)
            fd = os.open("/dev/null", os.O_RDONLY)
            os.dup2(fd, 0)
            os.close(m)
            os.execv(sys.argv[1], sys.argv[1:])
        os.close(s)
        """ + TerminalTests.watchdog(seconds: 15)

    @Test("--tty with a terminal as stdout that stops reading: the relay never blocks in write(2), the deadline still ends the run")
    func stuckTerminalKeepsTheDeadline() throws {
        // A terminal polls writable while its buffer has any room, and a blocking write(2) of
        // 4 KiB then waits for all of it: the supervisor sleeps in n_tty_write and the
        // workload outlives --timeout for as long as the terminal does not read.
        let reportPath = NSTemporaryDirectory() + "bh-tty-pty-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        // Whether the relay is caught in a write depends on how much room the terminal has left
        // when it polls writable (none: no POLLOUT, no write): up to three tries.
        var r = try Bulkhead.run(["run", "--tty", "--timeout", "2s", "--report", reportPath, "--", "yes"],
                                 prefix: ["/usr/bin/python3", "-c", Self.stuckTerminalWrapper])
        for _ in 0..<2 where !r.stderr.contains("LAUNCHER-STUCK") && r.status == ExitStatus.timeout {
            r = try Bulkhead.run(["run", "--tty", "--timeout", "2s", "--report", reportPath, "--", "yes"],
                                 prefix: ["/usr/bin/python3", "-c", Self.stuckTerminalWrapper])
        }
        #expect(!r.stderr.contains("LAUNCHER-STUCK"), "the launcher hung writing to its terminal: \(r.stderr.suffix(300))")
        #expect(r.status == ExitStatus.timeout, "status \(r.status): \(r.stderr.suffix(300))")
        let data = try #require(FileManager.default.contents(atPath: reportPath), "no report")
        #expect(try JSONDecoder().decode(RunReport.self, from: data).reason == .timeout)
    }
}

/// Flags root parses for whoever runs `bulkhead run`: no value traps the launcher.
@Suite struct RedTeamFlagTests {
    @Test("--tmpfs with an empty value or a bare ':' is refused by name, not a trap (index out of range)", arguments: ["", ":", "::"])
    func emptyTmpfsFlag(_ value: String) throws {
        let r = try Bulkhead.run(["run", "--tmpfs", value, "--", "/bin/true"])
        #expect(r.status == 125, "status \(r.status) (132 is SIGILL, a Swift trap): \(r.stderr.prefix(300))")
        #expect(r.stderr.contains("--tmpfs"), "\(r.stderr.prefix(300))")
        #expect(!r.stderr.contains("Fatal error"), "\(r.stderr.prefix(300))")
    }
}
