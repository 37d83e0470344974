@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 12, items 5 and 7, attacked as a workload and as a local user would: a pod given
/// NET_ADMIN and NET_RAW cannot change its own network (the namespace is the node's, owned by
/// the initial user namespace) nor speak as another pod on the bridge (the node pins each
/// veth to its pod's IPv4 and ARP sender); a local unprivileged user cannot reach a running
/// pod's volumes.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct TrustPodTests {
    static let capabilities = "    securityContext: {capabilities: {add: [NET_ADMIN, NET_RAW]}}\n"
    static let outVolume = "  volumes:\n  - name: out\n    emptyDir: {sizeLimit: 2Mi}\n"
    static let outMount = "    volumeMounts: [{name: out, mountPath: /mnt}]\n"

    /// A tenant whose Pod Security level lets NET_ADMIN and NET_RAW through (privileged, by
    /// the Pod Security Admission label), so that the attacks reach the kernel whatever the
    /// default namespace's level is.
    static func privilegedTenant(_ name: String, range: String) -> String {
        """
        apiVersion: bulkhead.dev/v1alpha1
        kind: Tenant
        metadata: {name: \(name), labels: {team: \(name), pod-security.kubernetes.io/enforce: privileged}}
        spec: {hostIDRange: "\(range)", allowedProfiles: [container], secretsDirectory: /var/lib/bulkhead/secrets/\(name)}
        ---

        """
    }

    /// The running pod's directories (one per launcher) under /run/bulkhead/pods.
    static func podDirectory(_ name: String, namespace: String = "default") -> String? {
        FileIO.listDirectory(PodRunner.stateRoot).first { $0.hasPrefix("\(namespace)_\(name)_") }.map { PodRunner.stateRoot + "/" + $0 }
    }

    /// Waits (as root) until the file `rel` in the pod's emptyDir `out` exists and contains `marker`.
    static func waitForFile(_ name: String, namespace: String = "default", _ rel: String, containing marker: String, _ bg: BackgroundRunPod) throws -> String {
        for _ in 0..<300 {
            if let d = podDirectory(name, namespace: namespace), let text = FileIO.read(d + "/volumes/out/" + rel), text.contains(marker) { return text }
            if !bg.run.process.isRunning { break }
            usleep(50_000)
        }
        let r = try bg.finish()
        Issue.record("pod \(name) never wrote \(rel): \(r.stderr)")
        throw Errno(ETIMEDOUT)
    }

    /// A host pid of a process of the pod, from its cgroup (the host's view of cgroup.procs).
    static func hostPID(ofPod name: String) -> Int32? {
        for dir in PodNetworkTests.cgroupDirectories(containing: name) {
            let e = FileManager.default.enumerator(atPath: dir)
            var candidates = [dir]
            while let sub = e?.nextObject() as? String { if sub.hasSuffix("cgroup.procs") { candidates.append(dir + "/" + (sub as NSString).deletingLastPathComponent) } }
            for c in candidates {
                if let pid = (FileIO.read(c + "/cgroup.procs") ?? "").split(separator: "\n").compactMap({ Int32($0) }).first { return pid }
            }
        }
        return nil
    }

    @Test("A pod with NET_ADMIN and NET_RAW cannot delete its tbf, add an address, change routes or neighbours: EPERM, and the host still sees its bandwidth limit")
    func netAdminCannotChangeThePodsNetwork() throws {
        let t = token()
        let name = "na-\(t)"
        let script = """
            exec 2>&1; r=/mnt/results.tmp
            { tc qdisc del dev eth0 root; echo "tc-del=$?"
              tc qdisc replace dev eth0 root pfifo; echo "tc-replace=$?"
              ip addr add 10.244.255.253/16 dev eth0; echo "addr=$?"
              ip route add 10.99.0.0/16 dev eth0; echo "route=$?"
              ip route del default; echo "route-del=$?"
              ip neigh add 10.244.255.252 lladdr 02:00:00:00:00:01 dev eth0; echo "neigh=$?"
              ip link set eth0 address 02:00:00:00:00:02; echo "link=$?"
              ip link set lo down; echo "lo=$?"
              python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); s.settimeout(2); s.sendto(bytes([8, 0, 0, 0, 0, 1, 0, 1]), ('10.244.0.1', 0)); s.recv(64)"; echo "icmp=$?"
            } > $r 2>&1; mv $r /mnt/results; sleep 30
            """
        let ns = "tn-\(t)"
        let bg = BackgroundRunPod(yaml: Self.privilegedTenant(ns, range: "2080000000:65536")
                                  + PodNetworkTests.pod(name, namespace: ns, annotations: ["kubernetes.io/egress-bandwidth": "10M"],
                                                        containers: [("c", ["sh", "-c", script])], extraSpec: Self.outVolume,
                                                        containerExtra: Self.capabilities + Self.outMount))
        var finished = false
        defer { if !finished { _ = try? PodNetworkTests.stop(name, namespace: ns, bg) } }
        let ip = try PodNetworkTests.waitForPod(name, namespace: ns, bg)
        let results = try Self.waitForFile(name, namespace: ns, "results", containing: "icmp=", bg)
        for op in ["tc-del", "tc-replace", "addr", "route", "route-del", "neigh", "link", "lo"] {
            #expect(results.contains("\(op)=") && !results.contains("\(op)=0"), "\(op) succeeded inside the pod: \(results)")
        }
        #expect(results.components(separatedBy: "Operation not permitted").count - 1 >= 8, "\(results)")
        // What still works: ping through an ICMP echo socket (ping_group_range), to the node.
        // (The kernel caps ping_group_range at 2^31-1: pods of a range above it cannot.)
        #expect(results.contains("icmp=0"), "\(results)")

        // The host's view of the pod's network namespace: the tbf is still eth0's root qdisc,
        // eth0 has its one address, the routes are the node's.
        let pid = try #require(Self.hostPID(ofPod: name), "no process of pod \(name) found in its cgroup")
        let podNet = try NetworkNamespace.open(path: "/proc/\(pid)/ns/net")
        defer { podNet.close() }
        let r = try podNet.routeSocket()
        defer { r.close() }
        let eth0 = try r.linkIndex(named: "eth0")
        let root = try r.qdiscs().filter { $0.index == eth0 && $0.parent == 0xFFFF_FFFF }
        #expect(root.map(\.kind) == ["tbf"], "eth0's root qdisc: \(root)")
        let addresses = try r.addresses().compactMap { $0.index == eth0 ? $0.ipv4 : nil }.map { $0.description }
        #expect(addresses == ["\(ip)/16"], "\(addresses)")
        let routes = try r.routes().filter { $0.table == 254 }
        #expect(routes.contains { $0.isDefault }, "\(routes)")
        #expect(!routes.contains { $0.destination.description == "10.99.0.0/16" }, "\(routes)")
        // The namespace's owner is the initial user namespace (NS_GET_USERNS), not the pod's.
        let owner = ioctl(podNet.fileDescriptor!, 0xb701) // NS_GET_USERNS
        #expect(owner >= 0)
        if owner >= 0 {
            var a = stat(), b = stat()
            fstat(owner, &a)
            stat("/proc/self/ns/user", &b)
            #expect(a.st_ino == b.st_ino, "the pod's network namespace is owned by a user namespace other than the host's")
            close(owner)
        }
        let end = try PodNetworkTests.stop(name, namespace: ns, bg)
        finished = true
        #expect(end.status != 125, "\(end.stderr)")
    }

    /// Counts, on the victim's eth0 (AF_PACKET, frames arriving only), IPv4 by source address
    /// and MAC, ARP by sender IP and MAC, IPv6 frames; stops at the sender's "end" datagram or
    /// after 8 s and prints the counts as JSON. Run by the test as root inside the victim's
    /// network namespace.
    static let counter = #"""
        import socket, json, time, sys
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind(("eth0", 0)); s.settimeout(0.2)
        open(sys.argv[1], "w").write("ready")
        counts = {}; deadline = time.time() + 8
        def mac(b): return ":".join("%02x" % x for x in b)
        while time.time() < deadline:
            try: f, addr = s.recvfrom(2048)
            except socket.timeout: continue
            if addr[2] == 4: continue
            t = f[12:14]
            if t == b"\x08\x00": k = "ip %s %s" % (socket.inet_ntoa(f[26:30]), mac(f[6:12]))
            elif t == b"\x08\x06": k = "arp %s %s" % (socket.inet_ntoa(f[28:32]), mac(f[22:28]))
            elif t == b"\x86\xdd": k = "ip6 %s" % mac(f[6:12])
            else: continue
            counts[k] = counts.get(k, 0) + 1
            if t == b"\x08\x00" and f[42:45] == b"end": break
        print(json.dumps(counts))
        """#

    /// Sends from the attacker's eth0, as a pod with a raw socket could: broadcast IPv4/UDP
    /// with a forged source (an unused address, and the victim's), ARP whose sender is another
    /// pod's IP, IPv4 and ARP from a forged MAC, IPv6; then the controls, with the pod's own
    /// addresses, and "end".
    static let sender = #"""
        import socket, struct, sys, fcntl
        me, victim, forged = sys.argv[1], sys.argv[2], sys.argv[3]
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("eth0", 0)); mac = s.getsockname()[4]
        fake = bytes.fromhex("02deadbeef01"); bc = b"\xff" * 6
        def ip(src, smac, payload=b"spoof"):
            udp = struct.pack("!HHHH", 4444, 9999, 8 + len(payload), 0) + payload
            h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton("10.244.255.255"))
            c = sum(struct.unpack("!10H", h)); c = (c & 0xffff) + (c >> 16); c = ~((c & 0xffff) + (c >> 16)) & 0xffff
            h = h[:10] + struct.pack("!H", c) + h[12:]
            return bc + smac + b"\x08\x00" + h + udp + b"\x00" * 20
        def arp(sender, smac, amac):
            return bc + smac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + amac + socket.inet_aton(sender) + b"\x00" * 6 + socket.inet_aton(me) + b"\x00" * 18
        ip6 = bc + mac + b"\x86\xdd" + struct.pack("!IHBB", 0x60000000, 8, 17, 64) + b"\x00" * 32 + b"\x00" * 8
        for i in range(20):
            for f in [ip(forged, mac), ip(victim, mac), ip(me, fake), arp(victim, mac, mac), arp(forged, mac, mac), arp(me, fake, fake), arp(me, mac, fake), ip6]:
                s.send(f)
        for i in range(20):
            s.send(ip(me, mac)); s.send(arp(me, mac, mac))
        s.send(ip(me, mac, b"end"))
        print("sent " + ":".join("%02x" % x for x in mac))
        """#

    @Test("Nothing a pod sends from its veth speaks as someone else: NET_RAW gets no raw socket in the pod, and forged IPv4, ARP, MAC and IPv6 frames sent from its eth0 reach no other pod while its own do")
    func spoofedFramesDoNotReachAnotherPod() throws {
        let t = token()
        let v = "vic-\(t)", a = "att-\(t)"
        // The attacker pod tries what a workload with NET_RAW would: raw IPv4 and packet sockets.
        let tryRaw = """
            import socket, errno
            out = []
            for name, args in [("raw", (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)), ("packet", (socket.AF_PACKET, socket.SOCK_RAW, 0))]:
                try: socket.socket(*args); out.append(name + "=ok")
                except OSError as e: out.append(name + "=" + errno.errorcode[e.errno])
            open("/mnt/raw.tmp", "w").write(" ".join(out) + "\\n"); __import__("os").rename("/mnt/raw.tmp", "/mnt/raw")
            __import__("time").sleep(30)
            """
        let ns = "ts-\(t)"
        let tenant = Self.privilegedTenant(ns, range: "2080065536:65536")
        let vbg = BackgroundRunPod(yaml: tenant + PodNetworkTests.pod(v, namespace: ns, containers: [("v", ["sleep", "30"])]))
        let abg = BackgroundRunPod(yaml: tenant + PodNetworkTests.pod(a, namespace: ns, containers: [("a", ["python3", "-c", tryRaw])],
                                                                      extraSpec: Self.outVolume, containerExtra: Self.capabilities + Self.outMount))
        var finished = false
        defer { if !finished { _ = try? PodNetworkTests.stop(v, namespace: ns, vbg); _ = try? PodNetworkTests.stop(a, namespace: ns, abg) } }
        let victimIP = try PodNetworkTests.waitForPod(v, namespace: ns, vbg)
        let attackerIP = try PodNetworkTests.waitForPod(a, namespace: ns, abg)
        let raw = try Self.waitForFile(a, namespace: ns, "raw", containing: "packet=", abg)
        #expect(raw == "raw=EPERM packet=EPERM\n", "a pod with NET_RAW opened a raw socket: \(raw)")

        // What a raw socket would have sent, sent by root inside the attacker's namespace.
        let vpid = try #require(Self.hostPID(ofPod: v)), apid = try #require(Self.hostPID(ofPod: a))
        let ready = NSTemporaryDirectory() + "bh-counter-\(t)"
        defer { unlink(ready) }
        let counter = try BackgroundProcess("/usr/bin/nsenter", ["--net=/proc/\(vpid)/ns/net", "python3", "-c", Self.counter, ready])
        for _ in 0..<100 where !FileIO.exists(ready) { usleep(50_000) }
        let forged = "10.244.255.250"
        let sent = try BackgroundProcess("/usr/bin/nsenter", ["--net=/proc/\(apid)/ns/net", "python3", "-c", Self.sender, attackerIP, victimIP, forged]).finish()
        #expect(sent.stdout.hasPrefix("sent "), "\(sent.stderr)")
        let amac = String(sent.stdout.dropFirst(5).prefix(17))
        let out = try counter.finish()
        let counts = try JSONDecoder().decode([String: Int].self, from: Data(out.stdout.utf8))
        // The node pinned the MAC the pod really has.
        #expect(NodeNetwork.entries().first { $0.ip == attackerIP }?.mac == amac)
        // The controls arrive: the path works.
        #expect((counts["ip \(attackerIP) \(amac)"] ?? 0) >= 20, "\(counts)")
        #expect((counts["arp \(attackerIP) \(amac)"] ?? 0) >= 20, "\(counts)")
        // Nothing forged does.
        let fromAttacker = counts.filter { $0.key.hasSuffix(" " + amac) || $0.key.hasSuffix(" 02:de:ad:be:ef:01") }
        let forgedKeys = fromAttacker.keys.filter { $0 != "ip \(attackerIP) \(amac)" && $0 != "arp \(attackerIP) \(amac)" && !$0.contains(victimIP + " ") }
        #expect(forgedKeys.isEmpty, "forged frames reached the victim: \(counts)")
        #expect(fromAttacker.keys.filter { $0.hasPrefix("ip \(victimIP) ") || $0.hasPrefix("arp \(victimIP) ") }.isEmpty,
                "frames forged with the victim's own address reached it: \(counts)")
        _ = try PodNetworkTests.stop(a, namespace: ns, abg)
        _ = try PodNetworkTests.stop(v, namespace: ns, vbg)
        finished = true
    }

    @Test("The pod's network namespace has no bind mount: it dies with the pod; a failed setup and a killed launcher (after gc) leave no mount, directory or namespace")
    func podNetworkNamespaceLeavesNothing() throws {
        let t = token()
        // A container that cannot start (its mount point does not exist under /sys, where bulkhead
        // makes none): every setup step ran.
        let failed = try PodNetworkTests.runPod(PodNetworkTests.pod("fail-\(t)", containers: [("c", ["true"])], extraSpec: Self.outVolume,
                                                                    containerExtra: "    volumeMounts: [{name: out, mountPath: /sys/nonexistent-\(t)}]\n"))
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("makes no mount points under /sys"), "\(failed.stderr)")
        #expect(!(FileIO.read("/proc/self/mountinfo") ?? "").contains("fail-\(t)"))
        #expect(Self.podDirectory("fail-\(t)") == nil)

        let name = "k-\(t)"
        let bg = BackgroundRunPod(yaml: PodNetworkTests.pod(name, containers: [("s", ["sleep", "60"])]))
        _ = try PodNetworkTests.waitForPod(name, bg)
        let pid = try #require(Self.hostPID(ofPod: name))
        let inode = try #require(FileIO.readLink("/proc/\(pid)/ns/net"))
        // Nothing under /run/bulkhead/netns but the node.
        #expect(FileIO.listDirectory(NetworkNamespace.defaultDirectory) == ["node"])
        kill(bg.run.process.processIdentifier, SIGKILL)
        _ = try bg.finish()
        let gc = try Bulkhead.run(["gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(!(FileIO.read("/proc/self/mountinfo") ?? "").contains(name))
        #expect(Self.podDirectory(name) == nil)
        // No process is left in the pod's namespace (PDEATHSIG took the holder and containers).
        var left = true
        for _ in 0..<100 {
            left = FileIO.listDirectory("/proc").contains { $0.allSatisfy(\.isNumber) && FileIO.readLink("/proc/\($0)/ns/net") == inode }
            if !left { break }
            usleep(20_000)
        }
        #expect(!left, "a process of the killed pod is still in its network namespace \(inode)")
    }

    @Test("While a pod runs, a local unprivileged user (nobody) can neither list nor write its emptyDir nor read its secret or token")
    func localUsersCannotReachAPodsVolumes() throws {
        let t = token()
        let root = PodLoader.secretsRoot + "/tv-\(t)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/db", withIntermediateDirectories: true)
        try "s3cret-\(t)".write(toFile: root + "/db/password", atomically: true, encoding: .utf8)
        chmod(root + "/db/password", 0o600)
        let tenantName = "tv-\(t)"
        let tenant = PodNetworkTests.tenant(tenantName, range: "2140000000:65536", secrets: root)
        let name = "vol-\(t)"
        let dir = NSTemporaryDirectory() + "bh-trustvol-\(t)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pod = PodNetworkTests.pod(name, namespace: tenantName, containers: [("c", ["sh", "-c", "echo data > /mnt/f; touch /mnt/ready; sleep 30"])],
                                      extraSpec: Self.outVolume + "  - name: db\n    secret: {secretName: db}\n",
                                      containerExtra: "    volumeMounts: [{name: out, mountPath: /mnt}, {name: db, mountPath: /run/db}]\n")
        let bg = try BackgroundRun(["pod", "run"] + PodManifestFiles.write(tenant + "\n---\n" + pod, into: dir))
        var finished = false
        defer { if !finished { _ = try? Bulkhead.run(["pod", "stop", name, "-n", tenantName, "--grace", "5"]); _ = try? bg.finish() } }
        var podDir: String?
        for _ in 0..<300 {
            if let d = Self.podDirectory(name, namespace: tenantName), FileIO.exists(d + "/volumes/out/ready") { podDir = d; break }
            if !bg.process.isRunning { break }
            usleep(50_000)
        }
        let d = try #require(podDir, "the pod never started")
        // The container could use both volumes; root on the host sees them.
        #expect(FileIO.read(d + "/volumes/out/f") == "data\n")
        #expect(FileIO.read(d + "/volumes/db/password") == "s3cret-\(t)")

        func asNobody(_ script: String) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", script]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        for script in ["ls \(d)/volumes/out", "ls \(d)", "echo x > \(d)/volumes/out/planted", "cat \(d)/volumes/out/f",
                       "cat \(d)/volumes/db/password", "ls \(d)/volumes/db", "cat \(d)/token", "ls \(d)/sys/class/net"] {
            #expect(try asNobody(script) != 0, "nobody succeeded: \(script)")
        }
        // The refusal is the directory's: EACCES at the pod's directory.
        #expect(try asNobody("test -x \(d)") != 0)
        var st = stat()
        #expect(stat(d, &st) == 0 && st.st_uid == 0 && st.st_gid == 2_140_000_000 && st.st_mode & 0o7777 == 0o710,
                "the pod's directory: uid \(st.st_uid) gid \(st.st_gid) mode \(String(st.st_mode & 0o7777, radix: 8))")
        // The secret's tmpfs is read-only before the container ever runs, and nobody planted anything.
        var fs = statvfs()
        #expect(statvfs(d + "/volumes/db", &fs) == 0 && fs.f_flag & 1 != 0, "the secret volume is writable")
        #expect(!FileIO.exists(d + "/volumes/out/planted"))
        _ = try Bulkhead.run(["pod", "stop", name, "-n", tenantName, "--grace", "5"])
        let end = try bg.finish()
        finished = true
        #expect(end.status != 125, "\(end.stderr)")
        #expect(!FileIO.exists(d), "the pod's directory outlived it")
    }
}

/// A host process run by a test, its output collected at `finish`.
final class BackgroundProcess {
    let process = Process()
    private let out = Pipe(), err = Pipe()

    init(_ path: String, _ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    func finish() throws -> (status: Int32, stdout: String, stderr: String) {
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
