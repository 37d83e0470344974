import BulkheadConfig
import BulkheadModel
import Testing

/// The cgroup side of an OCI config (pure): the cgroup mount, and `update`'s resources read by
/// the config's own rules.
struct OCICgroupConfigTests {
    static func config(mounts: String, namespaces: String = #"{"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "cgroup"}"#) -> String {
        """
        {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/true"], "cwd": "/"},
         "mounts": [\(mounts)], "linux": {"namespaces": [\(namespaces)]}}
        """
    }

    static func plan(_ c: OCIConfig) throws -> LaunchPlan {
        var ctx = LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: false)
        ctx.execFifoFD = 9
        ctx.cgroupMountReadOnly = c.cgroupMountReadOnly
        return try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([c.layer]), command: c.args, context: ctx)
    }

    /// runc's and podman's cgroup mount: honoured read-only unless "rw"; the plan mounts the
    /// cgroups after the init joined them, in the container's cgroup namespace when it has one
    /// (after that unshare), else in a temporary one.
    @Test func cgroupMountBecomesAPlanStep() throws {
        let ro = try OCIConfig.decode(Self.config(mounts: #"{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}"#), bundle: "/b")
        #expect(ro.cgroupMountReadOnly == true)
        #expect(ro.ignored.contains("mounts[type=cgroup]: options other than ro/rw"))
        #expect(OCIConfig.acceptedWithoutEffect.contains { $0.field == "mounts[type=cgroup]: options other than ro/rw" })
        let steps = try Self.plan(ro).steps
        let mount = try #require(steps.firstIndex(of: .mountCgroups(hierarchies: [], readOnly: true, temporaryNamespace: false)))
        let join = try #require(steps.firstIndex(of: .joinCgroups))
        let unshare = try #require(steps.firstIndex(of: .unshareNamespaces([.cgroup])))
        #expect(join < unshare && unshare < mount, "joined, then the namespace, then the mounts")
        #expect(mount < steps.firstIndex { if case .dropBoundingSet = $0 { true } else { false } }!, "before the capability drop")

        let rw = try OCIConfig.decode(Self.config(mounts: #"{"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup", "options": ["rw"]}"#,
                                                  namespaces: #"{"type": "pid"}, {"type": "mount"}, {"type": "network"}"#), bundle: "/b")
        #expect(rw.cgroupMountReadOnly == false && rw.ignored.isEmpty)
        #expect(try Self.plan(rw).steps.contains(.mountCgroups(hierarchies: [], readOnly: false, temporaryNamespace: true)))
        let none = try OCIConfig.decode(Self.config(mounts: ""), bundle: "/b")
        #expect(none.cgroupMountReadOnly == nil)
        #expect(!(try Self.plan(none).steps.contains { if case .mountCgroups = $0 { true } else { false } }))
    }

    @Test(arguments: [
        (#"{"destination": "/cg", "type": "cgroup", "source": "cgroup"}"#, "mounts[0].destination"),
        (#"{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nsdelegate"]}"#, "mounts[0].options[0]"),
        (#"{"destination": "/sys/fs/cgroup", "type": "cgroup"}, {"destination": "/sys/fs/cgroup", "type": "cgroup"}"#, "mounts[1].destination"),
    ])
    func cgroupMountRefusedNamingTheField(_ mounts: String, _ field: String) throws {
        do {
            _ = try OCIConfig.decode(Self.config(mounts: mounts), bundle: "/b")
            Issue.record("accepted: \(field)")
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }

    /// `update`'s document: the config's rules, into the limits to write.
    @Test func updateResourcesByTheConfigsRules() throws {
        let l = try OCIConfig.decodeUpdate(#"{"memory": {"limit": 67108864, "swap": 100663296}, "cpu": {"quota": 50000, "period": 100000, "cpus": "0"}, "pids": {"limit": 40}}"#)
        #expect(l.memoryMax == 64 << 20 && l.memorySwapMax == 32 << 20)
        #expect(l.cpuQuotaMicros == 50_000 && l.cpuPeriodMicros == 100_000)
        #expect(l.pidsMax == 40 && l.cpusetCPUs == "0")
        let shares = try OCIConfig.decodeUpdate(#"{"cpu": {"shares": 512}}"#)
        #expect(shares.cpuWeight != nil && shares.requested == [.cpuWeight])
    }

    @Test(arguments: [
        (#"{"memory": {"limit": -1}}"#, "memory.limit"),
        (#"{"pids": {"limit": 0}}"#, "pids.limit"),
        (#"{"memory": {"reservation": 1048576}}"#, "memory.reservation"),
        (#"{"memory": {"swap": 1048576000}}"#, "memory.swap"),
        (#"{"memory": {"limit": 67108864, "swap": 1048576}}"#, "memory.swap"),
        (#"{"cpu": {"quota": 5000, "period": 10}}"#, "cpu.period"),
        (#"{"cpu": {"cpus": "SECRET"}}"#, "cpu.cpus"),
        (#"{"memroy": {"limit": 1}}"#, "memroy"),
        (#"{}"#, ""),
    ])
    func updateRefusedNamingTheField(_ text: String, _ field: String) throws {
        do {
            _ = try OCIConfig.decodeUpdate(text)
            Issue.record("accepted: \(field)")
        } catch {
            #expect(error.field == field, "\(error)")
            #expect(error.file == "resources")
            #expect(!error.message.contains("SECRET"))
        }
    }
}
