import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Issue 16, "the same rule in three front ends": a field's rule is written once (FieldRules,
/// NumberField) and a layer profile, a Pod manifest and the command line (`CommandLineLayer`)
/// all call it, so the same bad value gives the same refusal through each, located in each
/// front end's own terms (the field path, or the flag).
@Suite struct FieldRulesTests {
    /// One front end and where it names the field.
    enum FrontEnd: CustomStringConvertible {
        case profile(String, field: String)
        case manifest(String, field: String)
        case commandLine(CommandLineLayer, flag: String)

        var description: String {
            switch self {
            case .profile(_, let f): "profile \(f)"
            case .manifest(_, let f): "manifest \(f)"
            case .commandLine(_, let f): "command line \(f)"
            }
        }

        /// What the front end makes of its input: the error, or nil when it took the value.
        var error: ConfigError? {
            do throws(ConfigError) {
                switch self {
                case .profile(let yaml, _): _ = try ProfileParser.parse(yaml, file: "p.yaml")
                case .manifest(let yaml, _): _ = try PodManifestParser.parse(yaml, file: "pod.yaml")
                case .commandLine(let flags, _): _ = try flags.layer(environment: [:], currentDirectory: "/")
                }
                return nil
            } catch { return error }
        }

        var location: (file: String, field: String) {
            switch self {
            case .profile(_, let f): ("p.yaml", f)
            case .manifest(_, let f): ("pod.yaml", f)
            case .commandLine(_, let f): ("<command line>", f)
            }
        }
    }

    /// A YAML double-quoted scalar.
    static func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }

    static func flags(_ set: (inout CommandLineLayer) -> Void) -> CommandLineLayer {
        var f = CommandLineLayer()
        set(&f)
        return f
    }

    static func refusal<T>(_ r: Result<T, FieldRefusal>) -> String? {
        if case .failure(let e) = r { return e.message }
        return nil
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var kind: String
        var value: String
        /// The rule's own refusal of `value`.
        var rule: @Sendable (String) -> String?
        var frontEnds: @Sendable (String) -> [FrontEnd]
        var testDescription: String { "\(kind) \(value)" }
    }

    static let c0 = "spec.containers[0]"

    static let rows: [Row] = [
        Row(kind: "cpu", value: "9m", rule: { refusal(NumberField.cpu.parse($0)) }) { v in [
            .profile("resources:\n  limits: {cpu: \(q(v))}\n", field: "resources.limits.cpu"),
            .manifest(podYAML(container: "    resources: {limits: {cpu: \(q(v))}}\n"), field: "\(c0).resources.limits.cpu"),
            .manifest(podYAML(annotations: "    bulkhead.dev/pod-limits: \(q("cpu=" + v))\n"), field: "metadata.annotations.bulkhead.dev/pod-limits"),
            .commandLine(flags { $0.cpus = v }, flag: "--cpus"),
        ] },
        Row(kind: "memory", value: "4095Ki", rule: { refusal(NumberField.memory.parse($0)) }) { v in [
            .profile("resources:\n  requests: {memory: \(q(v))}\n", field: "resources.requests.memory"),
            .manifest(podYAML(container: "    resources: {requests: {memory: \(q(v))}}\n"), field: "\(c0).resources.requests.memory"),
            .manifest(podYAML(annotations: "    bulkhead.dev/pod-limits: \(q("memory=" + v))\n"), field: "metadata.annotations.bulkhead.dev/pod-limits"),
            .commandLine(flags { $0.memory = v }, flag: "--memory"),
        ] },
        Row(kind: "pids", value: "1", rule: { refusal(NumberField.pids.parse($0)) }) { v in [
            .profile("resources:\n  limits: {pids: \(q(v))}\n", field: "resources.limits.pids"),
            .manifest(podYAML(annotations: "    bulkhead.dev/pod-limits: \(q("pids=" + v))\n"), field: "metadata.annotations.bulkhead.dev/pod-limits"),
            .commandLine(flags { $0.pids = v }, flag: "--pids"),
        ] },
        Row(kind: "size", value: "0", rule: { refusal(NumberField.storage.parse($0)) }) { v in [
            .profile("filesystem:\n  tmpfs:\n    - {path: /scratch, sizeLimit: \(q(v))}\n", field: "filesystem.tmpfs[0].sizeLimit"),
            .profile("resources:\n  limits: {ephemeral-storage: \(q(v))}\n", field: "resources.limits.ephemeral-storage"),
            .manifest(podYAML(spec: "  volumes:\n  - name: s\n    emptyDir: {sizeLimit: \(q(v))}\n"), field: "spec.volumes[0].emptyDir.sizeLimit"),
            .manifest(podYAML(container: "    resources: {limits: {ephemeral-storage: \(q(v))}}\n"), field: "\(c0).resources.limits.ephemeral-storage"),
            .commandLine(flags { $0.tmpfs = ["/scratch:" + v] }, flag: "--tmpfs"),
            .commandLine(flags { $0.ephemeralStorage = v }, flag: "--ephemeral-storage"),
        ] },
        Row(kind: "uid", value: "4294967295", rule: { refusal(NumberField.id.parse($0)) }) { v in [
            .profile("securityContext: {runAsUser: \(v)}\n", field: "securityContext.runAsUser"),
            .profile("securityContext: {runAsGroup: \(v)}\n", field: "securityContext.runAsGroup"),
            .manifest(podYAML(container: "    securityContext: {runAsUser: \(v)}\n"), field: "\(c0).securityContext.runAsUser"),
            .manifest(podYAML(spec: "  securityContext: {runAsGroup: \(v)}\n"), field: "spec.securityContext.runAsGroup"),
            .commandLine(flags { $0.user = v }, flag: "--user"),
            .commandLine(flags { $0.user = "0:" + v }, flag: "--user"),
        ] },
        Row(kind: "path", value: "/a/../b", rule: { refusal(FieldRules.absolutePath($0)) }) { v in [
            .profile("filesystem:\n  tmpfs:\n    - {path: \(q(v))}\n", field: "filesystem.tmpfs[0].path"),
            .profile("filesystem:\n  binds:\n    - {source: \(q(v))}\n", field: "filesystem.binds[0].source"),
            .profile("filesystem:\n  root: \(q(v))\n", field: "filesystem.root"),
            .manifest(podYAML(spec: "  volumes:\n  - name: s\n", container: "    volumeMounts: [{name: s, mountPath: \(q(v))}]\n"),
                      field: "\(c0).volumeMounts[0].mountPath"),
            .commandLine(flags { $0.tmpfs = [v] }, flag: "--tmpfs"),
            .commandLine(flags { $0.binds = ["/srv:" + v + ":ro"] }, flag: "--bind"),
            .commandLine(flags { $0.rootfs = v }, flag: "--rootfs"),
        ] },
        Row(kind: "relative path", value: "srv", rule: { refusal(FieldRules.absolutePath($0)) }) { v in [
            .profile("filesystem:\n  binds:\n    - {source: /srv, destination: \(q(v))}\n", field: "filesystem.binds[0].destination"),
            .manifest(podYAML(spec: "  volumes:\n  - name: s\n", container: "    volumeMounts: [{name: s, mountPath: \(q(v))}]\n"),
                      field: "\(c0).volumeMounts[0].mountPath"),
            .commandLine(flags { $0.binds = [v] }, flag: "--bind"),
            .commandLine(flags { $0.tmpfs = [v + ":1Mi"] }, flag: "--tmpfs"),
        ] },
        Row(kind: "workingDir", value: "/proc/self/fd/3", rule: { refusal(FieldRules.workingDirectory($0)) }) { v in [
            .profile("workingDir: \(q(v))\n", field: "workingDir"),
            .manifest(podYAML(container: "    workingDir: \(q(v))\n"), field: "\(c0).workingDir"),
            .commandLine(flags { $0.workdir = v }, flag: "--workdir"),
        ] },
        Row(kind: "capability", value: "SYS_ADMN", rule: { refusal(FieldRules.capabilityName($0)) }) { v in [
            .profile("securityContext:\n  capabilities: {add: [\(q(v))]}\n", field: "securityContext.capabilities.add[0]"),
            .manifest(podYAML(container: "    securityContext: {capabilities: {drop: [\(q(v))]}}\n"), field: "\(c0).securityContext.capabilities.drop[0]"),
            .commandLine(flags { $0.capAdd = [v] }, flag: "--cap-add"),
            .commandLine(flags { $0.capDrop = [v] }, flag: "--cap-drop"),
        ] },
        Row(kind: "rlimit value", value: "lots", rule: { refusal(FieldRules.rlimitValue($0)) }) { v in [
            .profile("rlimits: {nofile: \(q(v))}\n", field: "rlimits.nofile"),
            .profile("rlimits: {nofile: {soft: 1, hard: \(q(v))}}\n", field: "rlimits.nofile.hard"),
            .commandLine(flags { $0.rlimits = ["nofile=" + v] }, flag: "--rlimit"),
            .commandLine(flags { $0.rlimits = ["nofile=1:" + v] }, flag: "--rlimit"),
        ] },
        Row(kind: "rlimit soft > hard", value: "10:5", rule: { refusal(FieldRules.rlimitPair($0)) }) { v in [
            .profile("rlimits: {nofile: {soft: 10, hard: 5}}\n", field: "rlimits.nofile"),
            .commandLine(flags { $0.rlimits = ["nofile=" + v] }, flag: "--rlimit"),
        ] },
        Row(kind: "network", value: "bridge", rule: { refusal(FieldRules.networkMode($0)) }) { v in [
            .profile("network: {mode: \(q(v))}\n", field: "network.mode"),
            .commandLine(flags { $0.network = v }, flag: "--network"),
        ] },
        Row(kind: "enforcement", value: "lax", rule: { refusal(FieldRules.enforcement($0)) }) { v in [
            .profile("resources: {enforcement: \(q(v))}\n", field: "resources.enforcement"),
            .commandLine(flags { $0.limits = v }, flag: "--limits"),
        ] },
        Row(kind: "hostname", value: "bad host", rule: { refusal(FieldRules.hostname($0)) }) { v in [
            .profile("hostname: \(q(v))\n", field: "hostname"),
            .commandLine(flags { $0.hostname = v }, flag: "--hostname"),
        ] },
        Row(kind: "env name", value: "1X", rule: { refusal(FieldRules.envName($0)) }) { v in [
            .profile("env:\n  - {name: \(q(v)), value: x}\n", field: "env[0]"),
            .commandLine(flags { $0.env = [v + "=x"] }, flag: "--env"),
        ] },
        Row(kind: "io weight", value: "10001", rule: { refusal(NumberField.ioWeight.parse($0)) }) { v in [
            .profile("resources:\n  io: {weight: \(v)}\n", field: "resources.io.weight"),
            .commandLine(flags { $0.ioWeight = v }, flag: "--io-weight"),
        ] },
        Row(kind: "io max", value: "8:0 xbps=1", rule: { refusal(FieldRules.ioThrottle($0)) }) { v in [
            .profile("resources:\n  io: {max: [\(q(v))]}\n", field: "resources.io.max[0]"),
            .commandLine(flags { $0.ioMax = [v] }, flag: "--io-max"),
        ] },
    ]

    @Test("The same bad value gives the same rule's refusal through a profile, a manifest and the command line", arguments: rows)
    func sameRefusal(_ row: Row) throws {
        let expected = try #require(row.rule(row.value), "the rule takes \(row.value)")
        let fronts = row.frontEnds(row.value)
        // A rule is shared when at least two front ends reach it (a loop over none proves nothing).
        #expect(fronts.count >= 2, "\(row.kind): \(fronts.count) front ends")
        for f in fronts {
            guard let e = f.error else { Issue.record("\(f) took \(row.value)"); continue }
            #expect(e.file == f.location.file && e.field == f.location.field, "\(f): \(e)")
            #expect(e.message.contains(expected), "\(f): \(e.message) does not carry the rule's refusal \"\(expected)\"")
        }
    }

    /// The floors, written out here (not read from NumberField): weakening one in its one
    /// place makes every front end's line below fail.
    @Test("The floors cpu >= 10m, memory >= 4Mi and pids >= 2 hold in every front end", arguments: [
        ("cpu", "9m", "10m", "at least 10m"), ("memory", "4095Ki", "4Mi", "at least 4Mi"), ("pids", "1", "2", "at least 2"),
    ])
    func floors(_ kind: String, _ below: String, _ floor: String, _ says: String) throws {
        let row = try #require(Self.rows.first { $0.kind == kind })
        let below = row.frontEnds(below), at = row.frontEnds(floor)
        #expect(below.count >= 3)
        for (b, a) in zip(below, at) {
            let e = b.error
            #expect(e?.message.contains(says) == true, "\(b) below the floor: \(e.map(String.init(describing:)) ?? "taken")")
            #expect(a.error == nil, "\(a) refused the floor itself: \(String(describing: a.error))")
        }
    }

    @Test("Valid flags build the layer a profile with the same fields would")
    func flagsBuildTheLayer() throws {
        var f = CommandLineLayer()
        f.env = ["A=1", "HOME"]
        f.binds = ["/srv//data:/data:ro", "/opt"]
        f.tmpfs = ["/scratch:16Mi", "/run"]
        f.rootfs = "//"
        f.hostname = "box"
        f.workdir = "/data/./x/"
        f.network = "host"
        f.user = "1000"
        f.capAdd = ["NET_BIND_SERVICE"]
        f.rlimits = ["nofile=64:128", "core=0"]
        f.cpus = "0.5"
        f.memory = "64Mi"
        f.pids = "32"
        f.ioWeight = "100"
        f.ioMax = ["8:0 wbps=1048576"]
        f.limits = "best-effort"
        f.ephemeralStorage = "8Mi"
        f.seccomp = "p.json"
        let l = try f.layer(environment: ["HOME": "/home/x"], currentDirectory: "/work")
        #expect(l.env == [EnvVar(name: "A", value: "1"), EnvVar(name: "HOME", value: "/home/x")])
        #expect(l.binds == [BindMount(source: "/srv/data", destination: "/data", readOnly: true), BindMount(source: "/opt", destination: "/opt", readOnly: false)])
        #expect(l.tmpfs == [TmpfsMount(path: "/scratch", sizeBytes: 16 << 20), TmpfsMount(path: "/run")])
        #expect(l.root == .host, "// is the host's root, as / is")
        #expect(l.hostname == "box" && l.workingDir == "/data/x" && l.network == .host)
        #expect(l.runAsUser == 1000 && l.runAsGroup == 1000)
        #expect(l.capabilities == CapabilitySpec(add: ["NET_BIND_SERVICE"], drop: ["ALL"]))
        #expect(l.rlimits == [.nofile: Rlimit(soft: 64, hard: 128), .core: Rlimit(soft: 0, hard: 0)])
        #expect(l.limits.cpuMilli == 500 && l.limits.memoryBytes == 64 << 20 && l.limits.pids == 32 && l.limits.ephemeralStorageBytes == 8 << 20)
        #expect(l.ioWeight == 100 && l.ioMax == [IOThrottle(major: 8, minor: 0, writeBytesPerSecond: 1_048_576)])
        #expect(l.enforcement == .bestEffort)
        #expect(l.seccomp == .localhost(path: "p.json", relativeTo: "/work"))
        #expect(try CommandLineLayer().layer(environment: [:], currentDirectory: "/") == ProfileLayer())
    }

    @Test("A refused flag is named, with what was wrong", arguments: [
        ("--bind", FieldRulesTests.flags { $0.binds = ["/a:/b:rx"] }, "the third field is ro or rw"),
        ("--bind", FieldRulesTests.flags { $0.binds = ["/a:/b:/c:ro"] }, "expected SRC:DST[:ro|rw]"),
        ("--tmpfs", FieldRulesTests.flags { $0.tmpfs = [""] }, "expected PATH[:SIZE]"),
        ("--tmpfs", FieldRulesTests.flags { $0.tmpfs = [":"] }, "expected PATH[:SIZE]"),
        ("--rlimit", FieldRulesTests.flags { $0.rlimits = ["nofiles=1"] }, "with NAME one of cpu, fsize"),
        ("--rlimit", FieldRulesTests.flags { $0.rlimits = ["nofile="] }, "expected SOFT[:HARD]"),
        ("--user", FieldRulesTests.flags { $0.user = "1:2:3" }, "expected UID[:GID]"),
        ("--env", FieldRulesTests.flags { $0.env = ["A-B=1"] }, "invalid environment variable name \"A-B\""),
    ] as [(String, CommandLineLayer, String)])
    func namedFlag(_ flag: String, _ flags: CommandLineLayer, _ says: String) {
        expectConfigError(field: flag, contains: says, file: "<command line>") { () throws(ConfigError) in
            try flags.layer(environment: [:], currentDirectory: "/")
        }
    }
}
