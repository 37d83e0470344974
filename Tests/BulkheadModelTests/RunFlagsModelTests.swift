import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Issue 15, "the flags container users reach for": each docker/podman/bwrap spelling is the
/// layer its bulkhead flag and its profile field give, so precedence stays one rule
/// (flags > profile > parents > defaults) and each value goes through the field's one rule.
@Suite struct RunFlagsModelTests {
    static func layer(_ build: (inout CommandLineLayer) -> Void, environment: [String: String] = [:]) throws(ConfigError) -> ProfileLayer {
        var f = CommandLineLayer()
        build(&f)
        return try f.layer(environment: environment, currentDirectory: "/")
    }

    /// A profile of only `body`, parsed, with the command line's source and its merge rule for
    /// mounts (flags add to the profile's binds and tmpfs, a profile replaces its parent's), so
    /// layers compare whole.
    static func profile(_ body: String) throws(ConfigError) -> ProfileLayer {
        var p = try ProfileParser.parse("apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\n" + body, file: "p.yaml")
        p.source = ProfileLayer().source
        p.addsMounts = p.binds != nil || p.tmpfs != nil
        return p
    }

    static func refusal(_ build: (inout CommandLineLayer) -> Void) -> ConfigError? {
        do throws(ConfigError) { _ = try layer(build); return nil } catch { return error }
    }

    @Test("-v/--volume, --mount type=bind and --ro-bind give the layer --bind and filesystem.binds give")
    func bindAliases() throws {
        let rw = try Self.layer { $0.binds = ["/srv/a:/a"] }
        #expect(try Self.layer { $0.volumes = ["/srv/a:/a"] } == rw)
        #expect(try Self.layer { $0.mounts = ["type=bind,source=/srv/a,target=/a"] } == rw)
        #expect(try Self.layer { $0.mounts = ["type=bind,src=/srv/a,dst=/a,readonly=false"] } == rw)
        #expect(rw == (try Self.profile("filesystem:\n  binds:\n    - {source: /srv/a, destination: /a, readOnly: false}\n")))

        let ro = try Self.layer { $0.binds = ["/srv/a:/a:ro"] }
        #expect(try Self.layer { $0.volumes = ["/srv/a:/a:ro"] } == ro)
        #expect(try Self.layer { $0.mounts = ["type=bind,source=/srv/a,target=/a,readonly"] } == ro)
        #expect(try Self.layer { $0.readOnlyBinds = ["/srv/a", "/a"] } == ro, "bwrap's SRC DST")
        #expect(try Self.layer { $0.readOnlyBinds = ["/srv/a:/a"] } == ro)
        #expect(ro == (try Self.profile("filesystem:\n  binds:\n    - {source: /srv/a, destination: /a}\n")))
        let two = try Self.layer { $0.readOnlyBinds = ["/srv/a", "/a", "/srv/b:/b"] }
        #expect(two.binds == [BindMount(source: "/srv/a", destination: "/a", readOnly: true),
                              BindMount(source: "/srv/b", destination: "/b", readOnly: true)])
    }

    @Test("--mount type=tmpfs gives the layer --tmpfs and filesystem.tmpfs give")
    func tmpfsMount() throws {
        let t = try Self.layer { $0.tmpfs = ["/scratch:8Mi"] }
        #expect(try Self.layer { $0.mounts = ["type=tmpfs,target=/scratch,tmpfs-size=8Mi"] } == t)
        #expect(t == (try Self.profile("filesystem:\n  tmpfs:\n    - {path: /scratch, sizeLimit: 8Mi}\n")))
        #expect(try Self.layer { $0.mounts = ["type=tmpfs,target=/scratch"] } == (try Self.layer { $0.tmpfs = ["/scratch"] }))
    }

    @Test("Bad --mount, --ro-bind and --volume values are refused by flag, with the field's rule")
    func refusals() {
        for (m, words) in [("type=volume,source=x,target=/a", "type=bind or type=tmpfs"), ("type=bind,target=/a", "source"),
                           ("type=bind,source=/a,target=rel", "absolute"), ("type=bind,source=/a,target=/b,propagation=shared", "unknown --mount key"),
                           ("type=tmpfs,target=/t,tmpfs-size=1Ei0", "tmpfs-size"), ("type=tmpfs,target=/t,readonly", "read-only tmpfs"),
                           ("type=bind,source=/a,target=/../b", "..")] {
            let e = Self.refusal { $0.mounts = [m] }
            #expect(e?.field == "--mount" && e?.file == "<command line>", "\(m): \(String(describing: e))")
            if words != "tmpfs-size" { #expect(e?.message.contains(words) == true, "\(m): \(String(describing: e))") }
        }
        for r in [["/a"], ["/a", "/b:/c"], ["/a:/b:rw"], ["rel", "/b"]] {
            let e = Self.refusal { $0.readOnlyBinds = r }
            #expect(e?.field == "--ro-bind", "\(r): \(String(describing: e))")
        }
        #expect(Self.refusal { $0.volumes = ["relative:/a"] }?.field == "--volume")
        #expect(Self.refusal { $0.ulimits = ["nofile=10:5x"] }?.field == "--ulimit")
        #expect(Self.refusal { $0.pidsLimit = "1" }?.field == "--pids-limit")
        #expect(Self.refusal { $0.chdir = "rel" }?.field == "--chdir")
        #expect(Self.refusal { $0.unsetEnv = ["A=B"] }?.field == "--unsetenv")
        #expect(Self.refusal { $0.pids = "10"; $0.pidsLimit = "10" }?.field == "--pids-limit")
        #expect(Self.refusal { $0.workdir = "/a"; $0.chdir = "/a" }?.field == "--chdir")
    }

    @Test("--pids-limit, --ulimit and --chdir give the layer --pids, --rlimit and --workdir (and the profile fields) give")
    func numberAliases() throws {
        let pids = try Self.layer { $0.pids = "64" }
        #expect(try Self.layer { $0.pidsLimit = "64" } == pids)
        #expect(pids == (try Self.profile("resources:\n  limits:\n    pids: 64\n")))
        let nofile = try Self.layer { $0.rlimits = ["nofile=100:200"] }
        #expect(try Self.layer { $0.ulimits = ["nofile=100:200"] } == nofile)
        #expect(nofile == (try Self.profile("rlimits:\n  nofile: {soft: 100, hard: 200}\n")))
        let wd = try Self.layer { $0.workdir = "/usr" }
        #expect(try Self.layer { $0.chdir = "/usr" } == wd)
        #expect(wd == (try Self.profile("workingDir: /usr\n")))
    }

    @Test("--read-only / --read-write set readOnlyRootFilesystem; a writable host root from the command line is refused, a rootfs of one's own is not")
    func rootReadOnly() throws {
        let ro = try Self.layer { $0.readOnlyRoot = true }
        #expect(ro == (try Self.profile("securityContext:\n  readOnlyRootFilesystem: true\n")))
        let rw = try Self.layer { $0.readOnlyRoot = false }
        #expect(rw == (try Self.profile("securityContext:\n  readOnlyRootFilesystem: false\n")))
        // On the host's root: refused, naming the flag.
        #expect(throws: ConfigError.self) { try EffectiveProfile.resolve([rw]) }
        do { _ = try EffectiveProfile.resolve([rw]) } catch { #expect(error.field == "--read-write" && error.message.contains("--rootfs")) }
        // With a root filesystem directory: taken.
        let own = try Self.layer { $0.readOnlyRoot = false; $0.rootfs = "/var/lib/r" }
        #expect(try EffectiveProfile.resolve([own]).readOnlyRootFilesystem == false)
        // A profile's own `readOnlyRootFilesystem: false` (the unconfined control) stays the profile's choice.
        var profile = try Self.profile("securityContext:\n  readOnlyRootFilesystem: false\n")
        profile.source = "p.yaml"
        #expect(try EffectiveProfile.resolve([profile]).readOnlyRootFilesystem == false)
        #expect(try EffectiveProfile.resolve([profile, ro]).readOnlyRootFilesystem == true)
    }

    @Test("--env-file: NAME=VALUE lines, # comments, NAME copied; --env wins over it; --unsetenv removes the profile's and the flags' names")
    func envFileAndUnset() throws {
        let text = "# comment\n\n  A=1\nB=x=y\r\nC\nD\nA=2\n"
        let l = try Self.layer({ $0.envFiles = [.init(path: "/e", text: text)]; $0.env = ["B=flag"] }, environment: ["C": "from-caller"])
        #expect(l.env == [EnvVar(name: "C", value: "from-caller"), EnvVar(name: "A", value: "2"), EnvVar(name: "B", value: "flag")])
        // The same entries as --env flags give the same layer.
        #expect(try Self.layer({ $0.env = ["C", "D", "A=2", "B=flag"] }, environment: ["C": "from-caller"]) == l)
        // An error names the file and the line, never the line's content.
        do {
            _ = try Self.layer { $0.envFiles = [.init(path: "/e", text: "OK=1\nSECRET-TOKEN=hunter2\n")] }
            Issue.record("a bad name was taken")
        } catch {
            #expect(error.file == "/e" && error.field == "--env-file" && error.message.contains("line 2"))
            #expect(!error.description.contains("hunter2") && !error.description.contains("SECRET"), "\(error)")
        }
        // --unsetenv removes the profile's PATH and a flag's variable.
        let unset = try Self.layer { $0.env = ["X=1", "Y=2"]; $0.unsetEnv = ["PATH", "X"] }
        #expect(unset.env == [EnvVar(name: "Y", value: "2")])
        let e = try EffectiveProfile.resolve([try Self.profile("env:\n  - {name: KEEP, value: k}\n"), unset])
        #expect(!e.env.contains { $0.name == "PATH" || $0.name == "X" } && e.env.contains { $0.name == "KEEP" } && e.env.contains { $0.name == "Y" })
    }

    @Test("--shm-size gives the layer filesystem.shmSize gives; the plan mounts /dev/shm with that size")
    func shmSize() throws {
        let l = try Self.layer { $0.shmSize = "2Mi" }
        #expect(l.shmSizeBytes == 2 << 20)
        #expect(l == (try Self.profile("filesystem:\n  shmSize: 2Mi\n")))
        #expect(Self.refusal { $0.shmSize = "0" }?.field == "--shm-size")
        let e = try EffectiveProfile.resolve([l])
        #expect(e.yaml.contains("shmSize: 2Mi"))
        #expect(try EffectiveProfile.resolve([]).shmSizeBytes == nil)
    }

    @Test("--memory-swap gives the layer resources.memorySwap gives; it is memory plus swap (memory.swap.max = swap - memory), -1 unbounds swap, below --memory or without it is refused")
    func memorySwap() throws {
        let l = try Self.layer { $0.memory = "32Mi"; $0.memorySwap = "48Mi" }
        #expect(l == (try Self.profile("resources:\n  limits:\n    memory: 32Mi\n  memorySwap: 48Mi\n")))
        let e = try EffectiveProfile.resolve([l])
        #expect(CgroupLimits(profile: e, boundSwap: true).memorySwapMax == 16 << 20)
        #expect(CgroupLimits(profile: e, boundSwap: false).memorySwapMax == 16 << 20)
        #expect(e.yaml.contains("memorySwap: 48Mi"))
        // Without --memory-swap, swap is bounded to 0 where the host swaps (as before).
        let plain = try EffectiveProfile.resolve([try Self.layer { $0.memory = "32Mi" }])
        #expect(CgroupLimits(profile: plain, boundSwap: true).memorySwapMax == 0)
        // -1: unlimited swap, even where swap would be bounded.
        let unlimited = try EffectiveProfile.resolve([try Self.layer { $0.memory = "32Mi"; $0.memorySwap = "-1" }])
        #expect(unlimited.memorySwapBytes == .max && CgroupLimits(profile: unlimited, boundSwap: true).memorySwapMax == nil)
        for bad in [{ (f: inout CommandLineLayer) in f.memory = "32Mi"; f.memorySwap = "16Mi" }, { $0.memorySwap = "64Mi" }] {
            var f = CommandLineLayer()
            bad(&f)
            do { _ = try EffectiveProfile.resolve([try f.layer(environment: [:], currentDirectory: "/")]); Issue.record("taken: \(f)") } catch {
                #expect(error.field == "resources.memorySwap" && error.message.contains("memory"), "\(error)")
            }
        }
        #expect(Self.refusal { $0.memorySwap = "1k" }?.field == "--memory-swap")
    }

    @Test("--stop-signal: names with or without SIG, any case, or the number; only signals the init passes on, and SIGKILL")
    func stopSignalRule() {
        for (text, n) in [("SIGTERM", Int32(15)), ("TERM", 15), ("term", 15), ("15", 15), ("SIGINT", 2), ("HUP", 1), ("SIGKILL", 9), ("usr1", 10)] {
            #expect((try? FieldRules.stopSignal(text).get()) == n, "\(text)")
        }
        for text in ["SIGSTOP", "STOP", "19", "SIGWINCH", "", "SIGTERMX", "-15"] {
            #expect((try? FieldRules.stopSignal(text).get()) == nil, "\(text)")
        }
    }

    @Test("--pid/--ipc/--uts/--userns host|private give the layer namespaces.X: false|true gives; --pid host alone is refused, with --userns host taken")
    func namespaceFlags() throws {
        for (flag, ns, key) in [(\CommandLineLayer.pidNamespace, Namespace.pid, "pid"), (\.ipcNamespace, .ipc, "ipc"),
                                (\.utsNamespace, .uts, "uts"), (\.userNamespace, .user, "user")] {
            for (mode, on) in [("host", false), ("private", true)] {
                let l = try Self.layer { $0[keyPath: flag] = mode }
                #expect(l.namespaces == [ns: on])
                #expect(l == (try Self.profile("namespaces:\n  \(key): \(on)\n")))
            }
            #expect(Self.refusal { $0[keyPath: flag] = "container:web" } != nil)
        }
        let ipcHost = try EffectiveProfile.resolve([try Self.layer { $0.ipcNamespace = "host" }])
        #expect(!ipcHost.namespaces.contains(.ipc))
        do { _ = try EffectiveProfile.resolve([try Self.layer { $0.pidNamespace = "host" }]); Issue.record("--pid host alone taken") } catch {
            #expect(error.field == "namespaces.pid" && error.message.contains("--userns host"))
        }
        let both = try EffectiveProfile.resolve([try Self.layer { $0.pidNamespace = "host"; $0.userNamespace = "host" }])
        #expect(!both.namespaces.contains(.pid) && !both.namespaces.contains(.user))
    }

    @Test("--device gives the layer filesystem.devices gives; the plan binds the node from the host's /dev after making its parents")
    func deviceFlag() throws {
        let l = try Self.layer { $0.devices = ["/dev/net/tun", "/dev/fuse:rwm"] }
        #expect(l.devices == ["net/tun", "fuse"])
        #expect(l == (try Self.profile("filesystem:\n  devices: [/dev/net/tun, /dev/fuse]\n")))
        for bad in ["/dev/fuse:r", "/dev/fuse:w", "/dev", "/dev/", "/etc/passwd", "/dev/../etc/x", "/dev/pts/1", "/dev/shm/x", "dev/fuse"] {
            #expect(Self.refusal { $0.devices = [bad] }?.field == "--device", "\(bad)")
        }
        let e = try EffectiveProfile.resolve([l])
        #expect(e.devices == ["net/tun", "fuse"] && e.yaml.contains("    - /dev/net/tun\n"))
    }

    @Test("--cpuset-cpus gives the layer resources.cpusetCpus gives; lists parse and print as cpuset does; the cgroup limit is the canonical list")
    func cpusetFlag() throws {
        let l = try Self.layer { $0.cpusetCPUs = "3,0-1,1" }
        #expect(l.cpusetCPUs == [0, 1, 3])
        #expect(l == (try Self.profile("resources:\n  cpusetCpus: \"0-1,3\"\n")))
        #expect(CgroupLimits(profile: try EffectiveProfile.resolve([l]), boundSwap: false).cpusetCPUs == "0-1,3")
        #expect(CgroupLimits(profile: try EffectiveProfile.resolve([l]), boundSwap: false).requested.contains(.cpusetCPUs))
        for bad in ["", "a", "1-", "-1", "3-1", "8192", "0,,1", "1 2", "0x1", "١"] {
            #expect(Self.refusal { $0.cpusetCPUs = bad }?.field == "--cpuset-cpus", "\(bad)")
        }
        #expect(FieldRules.cpuListText([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8")
    }

    @Test("--user NAME[:GROUP] carries the names to the launch; resolvingNames looks them up (primary group, group file), re-checks, and shows no line of the files")
    func userNames() throws {
        let l = try Self.layer { $0.user = "app:staff" }
        #expect(l.runAsUserName == "app" && l.runAsGroupName == "staff" && l.runAsUser == nil)
        let mixed = try Self.layer { $0.user = "app:7" }
        #expect(mixed.runAsUserName == "app" && mixed.runAsGroup == 7)
        #expect(try Self.layer { $0.user = "5:6" }.runAsUser == 5)
        for bad in ["a:b:c", "bad name", "-x", "app:", "x".padding(toLength: 40, withPad: "x", startingAt: 0)] {
            #expect(Self.refusal { $0.user = bad }?.field == "--user", "\(bad)")
        }
        let passwd = "root:x:0:0::/:/bin/sh\nSECRETLINE\napp:x:1234:2345::/:/bin/sh\n"
        var e = try EffectiveProfile.resolve([try Self.layer { $0.user = "app" }])
        try e.resolvingNames(passwd: passwd, group: nil, root: "/r")
        #expect(e.runAsUser == 1234 && e.runAsGroup == 2345 && e.runAsUserName == nil)
        var g = try EffectiveProfile.resolve([l])
        try g.resolvingNames(passwd: passwd, group: "staff:x:3456:\n", root: "/r")
        #expect(g.runAsUser == 1234 && g.runAsGroup == 3456)
        var missing = try EffectiveProfile.resolve([try Self.layer { $0.user = "nobody" }])
        do { try missing.resolvingNames(passwd: passwd, group: nil, root: "/r"); Issue.record("taken") } catch {
            #expect(error.field == "--user" && !error.description.contains("SECRETLINE") && error.message.contains("/r/etc/passwd"))
        }
        // A later numeric layer wins over a lower layer's name.
        let over = try EffectiveProfile.resolve([try Self.layer { $0.user = "app" }, try Self.layer { $0.user = "9:9" }])
        #expect(over.runAsUserName == nil && over.runAsUser == 9)
    }

    @Test("--tmpfs and --mount type=tmpfs add to the profile's tmpfs mounts (the same path takes the flag's size); a profile's list still replaces its parent's")
    func tmpfsFlagsAdd() throws {
        var profile = try Self.profile("filesystem:\n  tmpfs:\n    - {path: /tmp}\n    - {path: /run, optional: true}\n")
        profile.source = "p.yaml"
        profile.addsMounts = false
        let e = try EffectiveProfile.resolve([profile, try Self.layer { $0.mounts = ["type=tmpfs,target=/mnt"]; $0.tmpfs = ["/tmp:2Mi"] }])
        #expect(e.tmpfs == [TmpfsMount(path: "/run", optional: true), TmpfsMount(path: "/tmp", sizeBytes: 2 << 20), TmpfsMount(path: "/mnt")], "\(e.tmpfs)")
        var child = try Self.profile("filesystem:\n  tmpfs:\n    - {path: /scratch}\n")
        child.source = "c.yaml"
        child.addsMounts = false // a profile file's list replaces its parent's
        #expect(try EffectiveProfile.resolve([profile, child]).tmpfs == [TmpfsMount(path: "/scratch")])
    }

    @Test("--group-add and securityContext.supplementalGroups give the same groups; the flag adds to the profile's; more than 32, -1 or a bad name refused naming the flag")
    func groupAdd() throws {
        let flag = try Self.layer { $0.groupAdd = ["10", "20", "10"] }
        let profile = try Self.profile("securityContext:\n  supplementalGroups: [10, 20]\n")
        #expect(flag.supplementalGroups == [.id(10), .id(20)] && flag.supplementalGroups == profile.supplementalGroups)
        #expect(flag.addsGroups && !profile.addsGroups)
        #expect(try Self.layer { $0.groupAdd = ["staff", "0"] }.supplementalGroups == [.name("staff"), .id(0)])
        let merged = try EffectiveProfile.resolve([profile, try Self.layer { $0.groupAdd = ["30", "20"] }])
        #expect(merged.supplementalGroups == [.id(10), .id(20), .id(30)], "the flag adds, as docker's --group-add does")
        var replacing = try Self.profile("securityContext:\n  supplementalGroups: [5]\n")
        replacing.source = "q.yaml"
        #expect(try EffectiveProfile.resolve([profile, replacing]).supplementalGroups == [.id(5)], "a profile replaces its parent's list")
        for bad in [["-1"], ["4294967295"], ["bad name"], (1...33).map(String.init)] {
            let e = Self.refusal { $0.groupAdd = bad }
            #expect(e?.field == "--group-add", "\(bad): \(String(describing: e))")
        }
        #expect(throws: ConfigError.self) { try Self.profile("securityContext:\n  supplementalGroups: [\((1...33).map(String.init).joined(separator: ", "))]\n") }
        #expect(throws: ConfigError.self) { try Self.profile("securityContext:\n  supplementalGroups: [staff]\n") }
    }
}
