import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The pod layer on one machine: containers of a pod share the network and IPC namespaces (and
/// the identity token and emptyDir volumes); pods do not.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct PodTests {
    /// Writes a manifest and runs `bulkhead pod run` on it with a report, decoded as the typed
    /// `PodReport` (nil when the run wrote none).
    static func runPod(_ yaml: String, extra: [String] = []) throws -> (status: Int32, report: PodReport?, stderr: String) {
        let dir = NSTemporaryDirectory() + "bh-pod-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try PodManifestFiles.write(yaml, into: dir)
        let r = try Bulkhead.run(["pod", "run"] + files + ["--report", dir + "/report.json"] + extra)
        return (r.status, try ReportFile.decode(PodReport.self, at: dir + "/report.json"), r.stderr)
    }

    /// A pod whose containers write their findings into a shared emptyDir, read back by a last step.
    static func pod(name: String, namespace: String = "default", containers: [(String, String)], volumes: String = "",
                    annotations: String = "") -> String {
        var y = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: \(name)
              namespace: \(namespace)
            \(annotations.isEmpty ? "" : "  annotations:\n" + annotations)
            spec:
              restartPolicy: Never
              volumes:
                - name: out
                  emptyDir: {sizeLimit: 2Mi}
            \(volumes)
              containers:

            """
        for (cname, script) in containers {
            y += """
                  - name: \(cname)
                    image: busybox
                    command: ["/bin/sh", "-c", \(jsonString(script))]
                    volumeMounts:
                      - {name: out, mountPath: /mnt}

                """
        }
        return y
    }

    static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s])
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    @Test("Two containers of one pod share loopback, the port space and SysV IPC; the token and emptyDir are shared")
    func containersShareThePodsNamespaces() throws {
        let listen = "python3 -c 'import socket,sys\ns=socket.socket(); s.bind((\"127.0.0.1\", 8081)); s.listen(1); open(\"/mnt/listening\",\"w\").write(\"1\")\nc,_=s.accept(); c.sendall(b\"pong\")'"
        let server = "\(listen); ipcmk -M 4096 | awk '{print $NF}' > /mnt/shmid; readlink /proc/self/ns/net > /mnt/net.server; cat /run/secrets/kubernetes.io/serviceaccount/token > /mnt/token.server; sleep 0.5"
        let client = """
            while [ ! -e /mnt/listening ]; do sleep 0.05; done
            python3 -c 'import socket,errno
            s=socket.socket()
            try:
                s.bind(("127.0.0.1", 8081)); print("bound")
            except OSError as e: print(errno.errorcode[e.errno])' > /mnt/bind.client
            python3 -c 'import socket; print(socket.create_connection(("127.0.0.1", 8081)).recv(10).decode())' > /mnt/connect.client
            while [ ! -s /mnt/shmid ]; do sleep 0.05; done
            grep -c " $(cat /mnt/shmid) " /proc/sysvipc/shm > /mnt/shm.client
            readlink /proc/self/ns/net > /mnt/net.client; readlink /proc/self/ns/pid > /mnt/pid.client
            cat /run/secrets/kubernetes.io/serviceaccount/token > /mnt/token.client
            """
        let check = "sleep 1.5; cd /mnt; for f in connect.client bind.client shm.client; do echo \"$f=$(cat $f)\"; done; [ \"$(cat net.server)\" = \"$(cat net.client)\" ] && echo same-net; cmp -s token.server token.client && echo same-token; wc -c < token.client"
        let r = try Self.runPod(Self.pod(name: "shared", containers: [("server", server), ("client", client), ("check", "{ " + check + "; } >&2")]))
        let report = try #require(r.report, "no pod report: \(r.stderr)")
        let exits = report.containers.map { "\($0.name):\($0.report.exitCode)" }
        #expect(r.status == 0, "\(report.error?.message ?? "") \(exits) \(r.stderr)")
        #expect(exits.sorted() == ["check:0", "client:0", "server:0"], "every container ran and exited 0")
        #expect(report.phase == "Succeeded")
        #expect(report.sharedNamespaces.sorted() == ["ipc", "network", "user"])
        #expect(r.stderr.contains("connect.client=pong"), "shared loopback: \(r.stderr)")
        #expect(r.stderr.contains("bind.client=EADDRINUSE"), "shared port space: \(r.stderr)")
        #expect(r.stderr.contains("shm.client=1"), "shared SysV IPC: \(r.stderr)")
        #expect(r.stderr.contains("same-net"))
        #expect(r.stderr.contains("same-token"), "every container reads the pod's token")
        #expect(r.stderr.contains("65"), "a 32-byte token in hex plus a newline")
        // Nothing of the pod is left.
        #expect(FileIO.listDirectory("/run/bulkhead/pods").filter { $0.hasPrefix("default_shared_") }.isEmpty)
    }

    @Test("spec.securityContext.supplementalGroups: the pod's containers have those supplementary groups (/proc/self/status)")
    func podSupplementalGroups() throws {
        var y = Self.pod(name: "groups", containers: [("app", "grep '^Groups:' /proc/self/status >&2")])
        y = y.replacingOccurrences(of: "  restartPolicy: Never\n", with: "  restartPolicy: Never\n  securityContext:\n    supplementalGroups: [10, 20]\n")
        let r = try Self.runPod(y)
        #expect(r.status == 0, "\(r.report?.error?.message ?? "") \(r.stderr)")
        #expect(r.stderr.contains("Groups:\t10 20"), "\(r.stderr)")
    }

    @Test("Two pods do not share: own loopback and port space, own SysV IPC, own token")
    func podsAreIsolatedFromEachOther() throws {
        // Pod A listens and creates a segment, then stays up while pod B probes.
        let marker = "/tmp/bh-podA-\(token())"
        try FileManager.default.createDirectory(atPath: marker, withIntermediateDirectories: true)
        chmod(marker, 0o777)
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let a = BackgroundRunPod(yaml: Self.pod(name: "pod-a", containers: [("a", """
            python3 -c 'import socket,time
            s=socket.socket(); s.bind(("127.0.0.1", 8082)); s.listen(1); time.sleep(4)' &
            ipcmk -M 4096 | awk '{print $NF}' > /mnt/id; cat /run/secrets/kubernetes.io/serviceaccount/token | head -c 16; wait
            """)]))
        usleep(1_500_000)
        let b = try Self.runPod(Self.pod(name: "pod-b", containers: [("b", """
            python3 -c 'import socket,errno
            s=socket.socket(); s.settimeout(1)
            try:
                s.connect(("127.0.0.1", 8082)); print("connect=ok")
            except OSError as e: print("connect=" + errno.errorcode[e.errno])
            t=socket.socket()
            try:
                t.bind(("127.0.0.1", 8082)); print("bind=ok")
            except OSError as e: print("bind=" + errno.errorcode[e.errno])' >&2
            echo "shm=$(tail -n +2 /proc/sysvipc/shm | wc -l)" >&2
            """)]))
        _ = try a.finish()
        #expect(b.status == 0, "\(b.report?.error?.message ?? "") \(b.stderr)")
        #expect(b.stderr.contains("connect=ECONNREFUSED"), "pod B's loopback is its own: \(b.stderr)")
        #expect(b.stderr.contains("bind=ok"), "the same port is free in pod B: \(b.stderr)")
        #expect(b.stderr.contains("shm=0"), "pod A's segment is invisible: \(b.stderr)")
    }

    @Test("emptyDir sizeLimit is enforced: writing past it gives ENOSPC")
    func emptyDirQuota() throws {
        let r = try Self.runPod(Self.pod(name: "quota", containers: [("w", "dd if=/dev/zero of=/mnt/fill bs=1M count=8 2>&1 | grep -o 'No space left on device' >&2; df -k /mnt | tail -1 | awk '{print \"size=\" $2}' >&2")]))
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
        #expect(r.stderr.contains("size=2048"), "\(r.stderr)")
    }

    @Test("The pod cgroup bounds the sum of its containers' memory")
    func podCgroupBoundsTheSum() throws {
        // Two containers, each under its own 48Mi limit, together over the pod's 64Mi.
        let hog = "python3 -c 'import time; x = bytearray(40 << 20); time.sleep(1.5)'"
        var y = Self.pod(name: "sum", containers: [("one", hog), ("two", "sleep 0.3; " + hog)],
                         annotations: "    bulkhead.dev/pod-limits: \"memory=64Mi\"\n")
        y = y.replacingOccurrences(of: "    volumeMounts:", with: "    resources: {limits: {memory: 48Mi}}\n    volumeMounts:")
        let r = try Self.runPod(y)
        let report = try #require(r.report, "no pod report: \(r.stderr)")
        let limits = try #require(report.podLimits, "the pod's limits are reported: \(r.stderr)")
        #expect(limits.enforced.contains { $0.limit.rawValue == "memory.max" && $0.value == String(64 << 20) }, "\(limits) \(r.stderr)")
        // The OOM killer ended a container below its own 48Mi limit: the pod's bound did it.
        // (cgroup v1 counts the kill in the victim's own memory cgroup, v2 also in the pod's.)
        let killed = try #require(report.containers.map(\.report).first { $0.exitCode == 137 },
                                  "no container was killed: \(report.containers.map { "\($0.name):\($0.report.exitCode)" }) \(r.stderr)")
        #expect(killed.reason == .oomKilled, "\(r.stderr)")
        let peak = try #require(killed.cgroup?.stats?.memoryPeakBytes, "the killed container's memory peak is reported")
        #expect(peak < 48 << 20, "killed at \(peak) bytes, under its own 48Mi limit")
    }

    @Test("The pod cgroup bounds the sum of its containers' processes: the second container's forks fail at the pod's pids.max")
    func podCgroupBoundsThePids() throws {
        // Container one holds 15 processes and says so in the shared volume; container two
        // then forks 15 under the pod's 24.
        let fork = { (wait: String) in
            "\(wait) python3 -c 'import os, sys, time\nfor i in range(15):\n    try:\n        pid = os.fork()\n    except BlockingIOError:\n        sys.exit(7)\n    if pid == 0:\n        time.sleep(3); os._exit(0)\nopen(\"/mnt/holding\", \"w\").close()\ntime.sleep(3.5)'"
        }
        let y = Self.pod(name: "pids", containers: [("one", fork("")), ("two", fork("for i in $(seq 100); do [ -e /mnt/holding ] && break; sleep 0.05; done;"))],
                         annotations: "    bulkhead.dev/pod-limits: \"pids=24\"\n")
        let r = try Self.runPod(y)
        let report = try #require(r.report, "no pod report: \(r.stderr)")
        let statuses = report.containers.map(\.report.exitCode)
        #expect(statuses.sorted() == [0, 7], "one container forked all, the other hit the pod's ceiling: \(statuses) \(r.stderr)")
        let limits = try #require(report.podLimits, "the pod's limits are reported: \(r.stderr)")
        #expect(limits.enforced.contains { $0.limit.rawValue == "pids.max" && $0.value == "24" }, "\(limits)")
    }

    @Test("A container whose CPU limit is above its pod's starts, held to the pod's rate (cgroup v1 refuses such a quota; v2 enforces the parent's)")
    func containerCPUAbovePod() throws {
        let r = try Self.runPod(Self.pod(name: "cpu", containers: [("c", "true")], annotations: "    bulkhead.dev/pod-limits: \"cpu=500m\"\n"))
        #expect(r.status == 0, "\(r.stderr)")
        let c = try #require(r.report?.containers.first?.report, "no container report: \(r.stderr)")
        let enforced = try #require(c.limits?.enforced, "the container's limits are reported")
        let quota = try #require(enforced.first { $0.file.hasSuffix("cpu.cfs_quota_us") || $0.file.hasSuffix("cpu.max") }, "no cpu quota: \(enforced)")
        let value = quota.value
        #expect(value == "50000" || value.hasPrefix("100000 ") || value.hasPrefix("max "), "container quota \(value)")
    }

    @Test("activeDeadlineSeconds ends a pod that outlives it (exit 124), and leaves one that finishes in time alone")
    func activeDeadline() throws {
        let within = Self.pod(name: "dl1", containers: [("c", "sleep 0.2; echo ok > /mnt/ok")])
            .replacingOccurrences(of: "  restartPolicy: Never\n", with: "  restartPolicy: Never\n  activeDeadlineSeconds: 30\n")
        let ok = try Self.runPod(within)
        #expect(ok.status == 0, "\(ok.stderr)")
        let over = Self.pod(name: "dl2", containers: [("c", "sleep 10")])
            .replacingOccurrences(of: "  restartPolicy: Never\n", with: "  restartPolicy: Never\n  activeDeadlineSeconds: 1\n")
        let r = try Self.runPod(over)
        #expect(r.status == 124, "\(r.stderr)")
        let c = try #require(r.report?.containers.first?.report, "no container report: \(r.stderr)")
        #expect(c.reason == .timeout && c.wallTimeMs >= 1000, "ended at \(c.wallTimeMs) ms")
    }

    @Test("A pod whose setup fails at a system step reports the step and the kernel's errno (the typed PodReport's error)")
    func failedSetupReportsErrno() throws {
        let t = token()
        let tenantName = "se-\(t)"
        // The tenant's secrets directory exists; the secret the pod names does not, so opening
        // it while the pod's directory is set up fails with ENOENT.
        let secrets = PodLoader.secretsRoot + "/" + tenantName
        try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: secrets) }
        let dir = NSTemporaryDirectory() + "bh-pod-\(t)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pod = PodNetworkTests.pod("se-\(t)", namespace: tenantName, containers: [("c", ["true"])],
                                      extraSpec: "  volumes:\n  - name: db\n    secret: {secretName: missing}\n",
                                      containerExtra: "    volumeMounts: [{name: db, mountPath: /mnt}]\n")
        let tenant = PodNetworkTests.tenant(tenantName, range: "2160000000:65536", secrets: secrets)
        let files = try PodManifestFiles.write(tenant + "\n---\n" + pod, into: dir)
        let r = try Bulkhead.run(["pod", "run"] + files + ["--report", dir + "/report.json"])
        #expect(r.status == 125, "\(r.stderr)")
        let report = try JSONDecoder().decode(PodReport.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json")))
        #expect(report.phase == "Failed" && report.exitCode == 125 && report.containers.isEmpty)
        let error = try #require(report.error, "the report of a pod that could not start has no error")
        #expect(error.errno == "ENOENT", "\(error)")
        #expect(error.operation == "secret volume db", "\(error)")
        #expect(error.message.contains("secret directory \(secrets)/missing") && error.message.contains("ENOENT"), "\(error.message)")
        #expect(r.stderr.contains(error.message), "the CLI says what the report says: \(r.stderr)")
    }

    @Test("A container launches on the profile admission read: its profile's binds without volume mounts, the profile chain as `run` reports it")
    func containerLaunchesOnTheAdmittedProfile() throws {
        let t = token()
        let dir = NSTemporaryDirectory() + "bh-podprof-\(t)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/d", withIntermediateDirectories: true)
        try "mark-\(t)\n".write(toFile: dir + "/d/mark", atomically: true, encoding: .utf8)
        try """
            apiVersion: bulkhead.dev/v1alpha1
            kind: LayerProfile
            metadata: {name: withbind}
            extends: container
            filesystem:
              binds:
                - {source: \(dir)/d, destination: /mnt, readOnly: true}
            """.write(toFile: dir + "/withbind.yaml", atomically: true, encoding: .utf8)
        // A host bind is refused at baseline: the tenant is privileged.
        let tenantName = "pb-\(t)"
        let tenant = Self.privilegedTenant(tenantName)
        let pod = PodNetworkTests.pod("pb-\(t)", namespace: tenantName, annotations: ["bulkhead.dev/profile": "withbind"],
                                      containers: [("c", ["cat", "/mnt/mark"])])
        let files = try PodManifestFiles.write(tenant + pod, into: dir)
        let r = try Bulkhead.run(["pod", "run"] + files + ["--report", dir + "/report.json"], env: ["BULKHEAD_PROFILE_PATH": dir])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "mark-\(t)\n", "\(r.stdout)")
        let report = try JSONDecoder().decode(PodReport.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json")))
        let c = try #require(report.containers.first?.report, "no container report: \(r.stderr)")
        #expect(c.profile == "withbind" && c.profileChain == ["container", "withbind", "<command line>"], "\(c.profileChain)")
        #expect(c.controls.binds.contains("\(dir)/d:/mnt:ro"), "\(c.controls.binds)")
    }

    /// A Tenant at the privileged Pod Security level (host binds, any profile), on a range of its
    /// own, followed by the document separator.
    static func privilegedTenant(_ name: String) -> String {
        """
        apiVersion: bulkhead.dev/v1alpha1
        kind: Tenant
        metadata: {name: \(name), labels: {pod-security.kubernetes.io/enforce: privileged}}
        spec: {hostIDRange: "2170000000:65536", secretsDirectory: /var/lib/bulkhead/secrets/\(name)}
        ---

        """
    }

    @Test("A pod's container whose profile has no cgroup limits still runs in the pod's cgroup, under its tenant's")
    func containerWithoutLimitsIsInThePodCgroup() throws {
        // Before: a container whose profile sets no cgroup limit got no cgroup at all, and so
        // escaped the pod's limits and its tenant's quota (the tenant's pids ceiling included).
        let t = token()
        let dir = NSTemporaryDirectory() + "bh-podnolim-\(t)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            apiVersion: bulkhead.dev/v1alpha1
            kind: LayerProfile
            metadata: {name: nolimits}
            namespaces: {user: true, pid: true, mount: true, network: true, ipc: true, uts: true, cgroup: true}
            securityContext:
              capabilities: {drop: [ALL]}
              readOnlyRootFilesystem: true
              allowPrivilegeEscalation: false
              seccompProfile: {type: RuntimeDefault}
            filesystem:
              root: host
              tmpfs: [{path: /tmp}]
            network: {mode: none}
            """.write(toFile: dir + "/nolimits.yaml", atomically: true, encoding: .utf8)
        let tenantName = "pn-\(t)"
        let tenant = Self.privilegedTenant(tenantName)
        let pod = PodNetworkTests.pod("pn-\(t)", namespace: tenantName, annotations: ["bulkhead.dev/profile": "nolimits"],
                                      containers: [("c", ["/bin/sh", "-c", "true"])])
        let files = try PodManifestFiles.write(tenant + pod, into: dir)
        let r = try Bulkhead.run(["pod", "run"] + files + ["--report", dir + "/report.json"], env: ["BULKHEAD_PROFILE_PATH": dir])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONDecoder().decode(PodReport.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json")))
        let c = try #require(report.containers.first?.report, "no container report: \(r.stderr)")
        #expect(c.profile == "nolimits" && c.limits == nil, "the profile asks no limit: \(c.profile)")
        let cg = try #require(c.cgroup, "no cgroup report")
        #expect(cg.path?.hasPrefix("bulkhead/\(tenantName)/") == true, "\(cg.path ?? "nil"): \(cg.note ?? "")")
        #expect(cg.directories.contains { $0.hasPrefix("/sys/fs/cgroup/pids/bulkhead/\(tenantName)/") }
                    || cg.directories.contains { $0.contains("bulkhead/\(tenantName)/") && !$0.contains("/sys/fs/cgroup/memory") },
                "\(cg.directories)")
        // The kernel counted the container's processes in that leaf.
        #expect((cg.stats?.pidsPeak ?? 0) >= 1, "\(String(describing: cg.stats))")
    }

    @Test("Tenants: the tenant's uid range maps the pod; a profile the tenant does not allow is refused")
    func tenantRangeAndAdmission() throws {
        let tenant = """
            apiVersion: bulkhead.dev/v1alpha1
            kind: Tenant
            metadata:
              name: team-a
            spec:
              hostIDRange: "2100000000:65536"
              allowedProfiles: [restricted]
              secretsDirectory: /var/lib/bulkhead/secrets/team-a
            ---

            """
        let ok = try Self.runPod(tenant + Self.pod(name: "t", namespace: "team-a", containers: [("c", "cat /proc/self/uid_map >&2")],
                                                   annotations: "    bulkhead.dev/profile: restricted\n"))
        #expect(ok.status == 0, "\(ok.report?.error?.message ?? "") \(ok.stderr)")
        #expect(ok.stderr.contains("2100000000"), "the tenant's range, whole: \(ok.stderr)")
        #expect(ok.report?.uidMap == "0 2100000000 65536")
        #expect(ok.report?.tenant == "team-a")
        let refused = try Self.runPod(tenant + Self.pod(name: "t2", namespace: "team-a", containers: [("c", "true")]))
        #expect(refused.status == 125)
        #expect(refused.stderr.contains("profile container is not allowed in tenant team-a"), "\(refused.stderr)")
    }
}

/// `bulkhead pod run` in the background.
final class BackgroundRunPod {
    let run: BackgroundRun
    let dir: String

    init(yaml: String) {
        dir = NSTemporaryDirectory() + "bh-podbg-\(token())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let files = (try? PodManifestFiles.write(yaml, into: dir)) ?? [dir + "/pod.yaml"]
        run = try! BackgroundRun(["pod", "run"] + files)
    }

    func finish() throws -> Bulkhead.Result {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try run.finish()
    }
}
