import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// config.json → ProfileLayer: what each field becomes, what is refused (naming the field,
/// never its content), and hostile input that must only ever throw a ConfigError.
struct OCIConfigTests {
    static let minimal = """
    {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
     "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
     "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}
    """

    static func config(process: String = "", linux: String = "", top: String = "") -> String {
        """
        {"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true}\(top.isEmpty ? "" : ", " + top),
         "process": {"args": ["/bin/sh", "-c", "true"], "cwd": "/work", "user": {"uid": 5, "gid": 6, "umask": 18, "additionalGids": [7]}\(process.isEmpty ? "" : ", " + process)},
         "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}]\(linux.isEmpty ? "" : ", " + linux)}}
        """
    }

    @Test func fieldsBecomeTheLayer() throws {
        let c = try OCIConfig.decode(Self.config(
            process: """
            "noNewPrivileges": true, "oomScoreAdj": 100, "env": ["A=b=c", "PATH=/bin"],
            "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_CHOWN"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
            """,
            linux: """
            "resources": {"memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 20},
                          "devices": [{"allow": false, "access": "rwm"}]},
            "sysctl": {"net.ipv4.ping_group_range": "0 0"}, "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
            "cgroupsPath": "/libpod_parent/x"
            """,
            top: """
            "hostname": "box", "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
              {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]},
              {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
              {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}],
            "annotations": {"k": "v"}
            """), bundle: "/b")
        let l = c.layer
        #expect(c.args == ["/bin/sh", "-c", "true"])
        #expect(l.root == .directory("/b/rootfs"))
        #expect(l.readOnlyRootFilesystem == true)
        #expect(l.runAsUser == 5 && l.runAsGroup == 6 && l.supplementalGroups == [.id(7)])
        #expect(c.umask == 18 && c.oomScoreAdj == 100)
        #expect(l.workingDir == "/work")
        #expect(l.env.contains(EnvVar(name: "A", value: "b=c")))
        #expect(l.allowPrivilegeEscalation == false)
        // Effective ∩ permitted ∩ bounding.
        // The five sets as given; the layer's one set is their union (what a profile tightens).
        #expect(l.capabilities?.resolved.members.map(\.name) == ["CAP_CHOWN", "CAP_KILL"])
        #expect(c.capabilitySets == OCICapabilitySets(bounding: CapabilitySet([.kill, .chown]), effective: CapabilitySet([.kill]),
                                                      inheritable: CapabilitySet([.chown]), permitted: CapabilitySet([.kill]), ambient: CapabilitySet()))
        // What capset would refuse (effective not permitted) is refused by name.
        #expect(throws: ConfigError.self) {
            try OCIConfig.decode(Self.config(process: #""capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": []}"#), bundle: "/b")
        }
        #expect(l.rlimits[.nofile] == Rlimit(soft: 100, hard: 200))
        #expect(l.limits.memoryBytes == 64 << 20 && l.limits.cpuMilli == 500 && l.limits.pids == 20)
        #expect(c.sysctls == [SysctlSetting(name: "net.ipv4.ping_group_range", value: "0 0")])
        #expect(l.maskedPaths == ["/proc/kcore"] && l.readonlyPaths == ["/proc/sys"])
        #expect(l.binds == [BindMount(source: "/srv/data", destination: "/data", readOnly: true)])
        #expect(l.tmpfs == [TmpfsMount(path: "/scratch", sizeBytes: 1 << 20)])
        #expect(l.hostname == "box")
        #expect(l.namespaces[.user] == false && l.namespaces[.network] == true && l.network == NetworkMode.none)
        #expect(c.cgroupsPath == "/libpod_parent/x")
        #expect(c.cgroupsPathComponents == ["libpod_parent", "x"], "an absolute cgroupsPath is honoured")
        #expect(!c.ignored.contains("linux.cgroupsPath") && c.ignored.contains("linux.resources.devices"))
        #expect(c.cgroupMountReadOnly == true, "the cgroup mount is honoured, read-only without \"rw\"")
        #expect(c.annotations.map { $0.0 + "=" + $0.1 } == ["k=v"])
        // The layer goes through the one resolver and planner.
        let p = try EffectiveProfile.resolve([l])
        var ctx = LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: false)
        ctx.execFifoFD = 9
        ctx.sysctls = c.sysctls
        let plan = try LaunchPlanner.plan(profile: p, command: c.args, context: ctx)
        let fifo = try #require(plan.steps.firstIndex(of: .waitExecFifo(fd: 9)))
        #expect(!plan.steps.contains(.forkWorkload), "the workload is the container's PID 1 (as runc): the init forks nothing")
        #expect(plan.steps[fifo...].contains(.closeStrayFileDescriptors) && plan.steps.last == .exec, "after the fifo: fd hygiene, then execve")
        let sysctl = try #require(plan.steps.firstIndex(of: .writeSysctl(name: "net.ipv4.ping_group_range", value: "0 0")))
        let readOnly = try #require(plan.steps.firstIndex(of: .makeReadOnly(LaunchPlanner.newRoot + "/proc/sys")))
        #expect(sysctl < readOnly, "sysctls are written before /proc/sys is read-only")
    }

    /// Each refusal names the field; none repeats the value it refused.
    @Test(arguments: [
        (config(linux: #""sysctl": {"kernel.core_pattern": "|/SECRET"}"#), "linux.sysctl.kernel.core_pattern"),
        (config(process: #""capabilities": {"ambient": ["CAP_SYS_ADMIN"]}"#), "process.capabilities.ambient"),
        (config(top: #""hooks": {"prestart": [{"path": "SECRET"}]}"#), "hooks.prestart[0].path"),
        (config(linux: #""seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/SECRET"}"#), "linux.seccomp.listenerPath"),
        (config(linux: #""intelRdt": {"closID": "SECRET"}"#), "linux.intelRdt"),
        (config(linux: #""uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]"#), "linux.uidMappings"),
        (config(linux: #""devices": [{"path": "/dev/SECRET", "type": "c", "major": 1, "minor": 1}]"#), "linux.devices"),
        (config(linux: #""resources": {"devices": [{"allow": true, "type": "b", "major": 8, "minor": 0, "access": "rwm"}]}"#), "linux.resources.devices[0]"),
        (config(linux: #""resources": {"devices": [{"allow": true, "type": "c", "access": "rwm"}]}"#), "linux.resources.devices[0]"),
        (config(linux: #""frobnicate": 1"#), "linux.frobnicate"),
        (config(top: #""mounts": [{"destination": "/x", "type": "overlay", "source": "SECRET"}]"#), "mounts[0]"),
        (config(top: #""mounts": [{"destination": "/x", "type": "bind", "source": "/srv", "options": ["rshared"]}]"#), "mounts[0].options[0]"),
        (config(top: #""mounts": [{"destination": "/../x", "type": "bind", "source": "/srv"}]"#), "mounts[0].destination"),
        (config(process: #""oomScoreAdj": 5000"#), "process.oomScoreAdj"),
        (config(process: #""rlimits": [{"type": "RLIMIT_SECRET", "soft": 1, "hard": 1}]"#), "process.rlimits[0].type"),
        (config(top: #""domainname": "SECRET""#), "domainname"),
        (config(linux: #""cgroupsPath": "/SECRET/../../x""#), "linux.cgroupsPath"),
        (config(linux: #""cgroupsPath": "/SECRET/cgroup.procs""#), "linux.cgroupsPath"),
        (config(linux: #""cgroupsPath": "SECRET/x""#), "linux.cgroupsPath"),
        (config(linux: #""cgroupsPath": "system.slice:SECRET:x""#), "linux.cgroupsPath"),
        (config(linux: #""cgroupsPath": "/""#), "linux.cgroupsPath"),
    ])
    func refusedNamingTheField(_ text: String, _ field: String) throws {
        do {
            _ = try OCIConfig.decode(text, bundle: "/b")
            Issue.record("accepted: \(field)")
        } catch {
            #expect(error.field == field, "\(error)")
            #expect(error.file == "config.json")
            #expect(!error.message.contains("SECRET"), "\(error.message)")
        }
    }

    /// containerd's `ctr run` (WithDefaultUnixDevices): deny-all, then the default set's allow
    /// rules; accepted without effect (the engine's /dev is smaller).
    @Test func containerdDefaultDeviceRulesAccepted() throws {
        let rules = #"[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "access": "m"}, {"allow": true, "type": "b", "access": "m"},"#
            + #"{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}, {"allow": true, "type": "c", "major": 136, "access": "rwm"},"#
            + #"{"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}]"#
        let c = try OCIConfig.decode(Self.config(linux: #""resources": {"devices": "# + rules + "}"), bundle: "/b")
        #expect(c.ignored.contains("linux.resources.devices"))
    }

    @Test func withoutAMountNamespaceRefused() {
        #expect(throws: ConfigError.self) {
            try OCIConfig.decode(#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"args": ["x"], "cwd": "/"}}"#, bundle: "/b")
        }
    }

    /// Hostile input: seeded mutations of real configs (runc's, podman's shape) — flipped,
    /// dropped and repeated bytes, cut documents, huge numbers, deep nesting. Each input parses
    /// or throws a ConfigError (the typed throw rules out anything else); none may crash.
    @Test func hostileInputOnlyThrowsConfigErrors() {
        var rng = SplitMix64(seed: 0x0C1_C0FF)
        let seeds = [Self.minimal, Self.config(process: #""rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}]"#,
                                               linux: #""resources": {"memory": {"limit": 1}, "cpu": {"quota": 1, "period": 1000}}"#)]
        let inserts = ["99999999999999999999999", "-1", "[[[[[[[[[[[[[[[[", "{\"a\":", "\u{0}", "\"..\"", "1e400", "null", "\\u0000", "&a", "*a"]
        var accepted = 0
        for i in 0..<1500 {
            var bytes = Array(seeds[i % seeds.count].utf8)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(contentsOf: Array(inserts[Int(rng.next() % UInt64(inserts.count))].utf8), at: at)
                default: bytes = Array(bytes[..<at])
                }
            }
            if (try? OCIConfig.decode(String(decoding: bytes, as: UTF8.self), bundle: "/b")) != nil { accepted += 1 }
        }
        // Deep nesting stays an error, not a stack overflow.
        let deep = String(repeating: "[", count: 500)
        #expect(throws: ConfigError.self) { try OCIConfig.decode(deep, bundle: "/b") }
        #expect(accepted < 1500, "mutations are refused")
    }

    /// config.json is read once, by `StrictJSON` (issue 13, session 14: the Yams parse was a
    /// tenth of `create`'s CPU with podman's config, and the seccomp section had a second
    /// reader). On podman's own config (Tests/Fixtures/oci, captured from `podman run` with
    /// bulkhead-runc), on this suite's configs and on the seeded mutations of the hostile-input
    /// test: whatever the JSON reading accepts, the YAML reading it replaced accepted as the same
    /// OCIConfig; what only YAML accepts is refused, with the line and column of the fault.
    @Test func oneStrictJSONReadingDecidesAsTheYAMLReadingDid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/oci/podman-config.json")
        let podman = try String(contentsOf: url, encoding: .utf8)
        func yaml(_ text: String) throws -> OCIConfig { try OCIConfig.decode(try ConfigNode.parse(text, file: OCIConfig.file), bundle: "/b") }
        let p = try OCIConfig.decode(podman, bundle: "/b")
        #expect(try yaml(podman) == p)
        #expect(p.hasSeccomp && p.joinPaths.count == 1 && p.cgroupsPath != nil && p.annotations.count == 8, "podman's config as podman sent it")
        var rng = SplitMix64(seed: 0x15_0C1)
        let seeds = [podman, Self.minimal, Self.config(process: #""rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}]"#,
                                                       linux: #""resources": {"memory": {"limit": 1}, "cpu": {"quota": 1, "period": 1000}}"#)]
        var both = 0, yamlOnly = 0
        for i in 0..<600 {
            var bytes = Array(seeds[i % seeds.count].utf8)
            let at = Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 3 {
            case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next() % 0x80)
            case 1: bytes.remove(at: at)
            default: bytes.insert(contentsOf: Array([" ", "1", "\"", "-", "{}", ",", "null"][Int(rng.next() % 7)].utf8), at: at)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let j = try? OCIConfig.decode(text, bundle: "/b")
            let y = try? yaml(text)
            if let j { both += 1; #expect(y == j, "mutation \(i) read differently") } else if y != nil { yamlOnly += 1 }
        }
        #expect(both > 50 && yamlOnly > 0, "the mutations reach both outcomes: \(both) accepted by both, \(yamlOnly) by YAML only")
        do {
            _ = try OCIConfig.decode("{\"ociVersion\": \"1.0.2\",\n \"root\": {\"path\": \"r\"},\n \"process\": {\"args\": [01]}}", bundle: "/b")
            Issue.record("a leading zero accepted")
        } catch {
            #expect(error.line == 3 && error.column == 23, "\(error)")
        }
        #expect(throws: ConfigError.self) { try OCIConfig.decode("ociVersion: 1.0.2\nroot: {path: r}\nprocess: {args: [x]}\n", bundle: "/b") }
        #expect(throws: ConfigError.self) { try OCIConfig.decode(#"{"ociVersion": "1.0.2", "ociVersion": "1.0.2"}"#, bundle: "/b") }
    }
}

