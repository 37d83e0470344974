import Testing
@testable import BulkheadModel

struct PlanTests {
    static let root = LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: true)

    func plan(_ layer: ProfileLayer = ProfileLayer(), context: LaunchContext = root, command: [String] = ["id"]) throws -> LaunchPlan {
        try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([layer]), command: command, context: context)
    }

    func index(_ p: LaunchPlan, _ match: (PlanStep) -> Bool) -> Int? { p.steps.firstIndex(where: match) }

    @Test("Ordering constraints the kernel imposes")
    func ordering() throws {
        let p = try plan()
        let s = p.steps
        #expect(s.first == .waitForRelease, "no step may need the id maps before they exist")
        let fork = try #require(index(p) { $0 == .forkWorkload })
        let seccomp = try #require(index(p) { $0 == .loadSeccomp })
        #expect(s.last == .exec && seccomp == s.count - 2, "the filter is the last step before execve")
        #expect(seccomp > fork, "the init is not confined by the workload's filter")
        let dumpable = try #require(index(p) { $0 == .setDumpable(false) })
        let firstMount = try #require(index(p) { if case .mount = $0 { return true }; return false })
        #expect(dumpable < firstMount, "non-dumpable before anything of the sandbox exists")
        let proc = try #require(index(p) { if case .mount(_, _, "proc", _, _) = $0 { return true }; return false })
        let firstMask = try #require(index(p) { if case .mask = $0 { return true }; return false })
        #expect(proc < firstMask, "masks go over the new /proc")
        let pivots = s.indices.filter { if case .pivotRoot = s[$0] { return true }; return false }
        #expect(pivots.count == 2)
        #expect(s.indices.filter { if case .mount = s[$0] { return true }; if case .mask = s[$0] { return true }; return false }.allSatisfy { $0 < pivots[1] }, "all mounts before the final pivot")
        let bounding = try #require(index(p) { if case .dropBoundingSet = $0 { return true }; return false })
        let capset = try #require(index(p) { if case .setCapabilities = $0 { return true }; return false })
        let nnp = try #require(index(p) { $0 == .noNewPrivileges })
        #expect(pivots[1] < bounding && bounding < capset && capset < nnp && nnp < fork)
        let close = try #require(index(p) { $0 == .closeStrayFileDescriptors })
        #expect(fork < close && close < seccomp)
        // The cgroup namespace is created after the init joined all its cgroups (v1 included)
        // and while CAP_SYS_ADMIN is still held; the workload after both.
        let unshare = try #require(index(p) { $0 == .unshareNamespaces([.cgroup]) })
        let cgroups = try #require(index(p) { $0 == .joinCgroups })
        #expect(cgroups < unshare && unshare < bounding && cgroups < fork)
        #expect(!p.cloneNamespaces.contains(.cgroup) && p.namespaces.contains(.cgroup))
    }

    @Test("Every mount target inside the root is checked for symlinks first")
    func symlinkChecks() throws {
        var l = ProfileLayer()
        l.binds = [BindMount(source: "/srv/data", destination: "/data", readOnly: true)]
        l.root = .directory("/images/alpine")
        let s = try plan(l).steps
        // Targets under the sandbox's own /dev tmpfs were created by bulkhead itself; every
        // other mount inside the new root must be preceded by a symlink check of its target.
        let ownDev = LaunchPlanner.newRoot + "/dev/"
        for (i, step) in s.enumerated() {
            guard case let .mount(_, target, _, _, _) = step, target.hasPrefix(LaunchPlanner.newRoot + "/"),
                  !target.hasPrefix(ownDev) else { continue }
            #expect(s[..<i].contains(.refuseSymlinks(target, missingOK: false)), "\(target) is mounted without a symlink check")
        }
        #expect(s.contains(.refuseSymlinks(LaunchPlanner.oldRoot + "/images/alpine", missingOK: false)))
    }

    @Test func identityAsRootMapsTheRange() throws {
        let p = try plan()
        // The whole range is mapped; its owner is the range's uid in the owner band, never mapped.
        #expect(p.uidMap == [IDMapEntry(inside: 0, outside: 2_000_000_000, count: 65536)])
        #expect(p.gidMap == p.uidMap)
        #expect(p.userNamespaceOwner == UInt32(4_200_030_517), "4200000000 + 2000000000 / 65536")
        #expect(!p.denySetgroups)
        #expect(p.steps.contains(.setGroups([])), "the launcher's supplementary groups are dropped")
    }

    @Test func rootlessMapsOnlyTheCaller() throws {
        let ctx = LaunchContext(callerUID: 1000, callerGID: 1000, privileged: false, hasSeccomp: true)
        let p = try plan(context: ctx)
        #expect(p.uidMap == [IDMapEntry(inside: 0, outside: 1000, count: 1)])
        #expect(p.gidMap == [IDMapEntry(inside: 0, outside: 1000, count: 1)])
        #expect(p.denySetgroups)
        #expect(!p.steps.contains { if case .setGroups = $0 { return true }; return false }, "setgroups is denied")
        var l = ProfileLayer()
        l.runAsUser = 1000
        #expect(throws: ConfigError.self) { try plan(l, context: ctx) }
    }

    @Test("supplementalGroups: one setgroups step with the primary group (when switching) then the list, before setresgid; an unmapped gid and a rootless launcher refused")
    func supplementalGroups() throws {
        var l = ProfileLayer()
        l.supplementalGroups = [.id(10), .id(20)]
        #expect(try plan(l).steps.contains(.setGroups([10, 20])))
        l.runAsUser = 1000
        l.runAsGroup = 1000
        let s = try plan(l).steps
        let groups = try #require(s.firstIndex(of: .setGroups([1000, 10, 20])))
        let gid = try #require(s.firstIndex(of: .setGID(1000)))
        #expect(groups < gid && s.filter { if case .setGroups = $0 { true } else { false } }.count == 1)
        var unmapped = ProfileLayer()
        unmapped.supplementalGroups = [.id(65536)]
        do { _ = try plan(unmapped); Issue.record("an unmapped gid was planned") } catch let error as ConfigError {
            #expect(error.field == "securityContext.supplementalGroups" && error.message.contains("--group-add") && error.message.contains("65536"), "\(error)")
        }
        let rootless = LaunchContext(callerUID: 1000, callerGID: 1000, privileged: false, hasSeccomp: true)
        var one = ProfileLayer()
        one.supplementalGroups = [.id(0)]
        do { _ = try plan(one, context: rootless); Issue.record("rootless set groups") } catch let error as ConfigError {
            #expect(error.message.contains("rootless") && error.message.contains("--group-add"), "\(error)")
        }
        var joined = LaunchContext(callerUID: 1000, callerGID: 1000, privileged: false, hasSeccomp: true)
        joined.joinedNamespaces = [.user, .network]
        #expect(throws: ConfigError.self, "a rootless pod's container: refused, not ignored") { try plan(one, context: joined) }
        #expect(throws: Never.self, "without groups it plans") { try plan(ProfileLayer(), context: joined) }
        var named = ProfileLayer()
        named.supplementalGroups = [.name("staff")]
        #expect(throws: ConfigError.self, "a name not looked up is never dropped silently") { try plan(named) }
        // More than the step holds never reaches the planner.
        var many = ProfileLayer()
        many.supplementalGroups = (1...33).map { .id($0) }
        #expect(throws: ConfigError.self) { try EffectiveProfile.resolve([many]) }
    }

    @Test func runAsUserSwitchesGroupBeforeUserAndKeepsCaps() throws {
        var l = ProfileLayer()
        l.runAsUser = 1000
        l.runAsGroup = 1000
        l.capabilities = CapabilitySpec(add: ["NET_BIND_SERVICE"], drop: ["ALL"])
        let s = try plan(l).steps
        let gid = try #require(s.firstIndex(of: .setGID(1000)))
        let uid = try #require(s.firstIndex(of: .setUID(1000)))
        let keep = try #require(s.firstIndex(of: .keepCapabilities(true)))
        #expect(keep < gid && gid < uid)
        #expect(s.contains(.setCapabilities(effective: CapabilitySet([.netBindService]), permitted: CapabilitySet([.netBindService]), inheritable: CapabilitySet())))
    }

    @Test("Without no_new_privs the filter is loaded while CAP_SYS_ADMIN is still held")
    func seccompWithoutNoNewPrivs() throws {
        var l = ProfileLayer()
        l.allowPrivilegeEscalation = true
        let s = try plan(l).steps
        let seccomp = try #require(s.firstIndex(of: .loadSeccomp))
        let bounding = try #require(s.firstIndex { if case .dropBoundingSet = $0 { return true }; return false })
        #expect(seccomp < bounding)
        #expect(!s.contains(.noNewPrivileges))
    }

    @Test func pathSearch() throws {
        #expect(try plan(command: ["/bin/true"]).execPaths == ["/bin/true"])
        let p = try plan(command: ["true"])
        #expect(p.execPaths.first == "/usr/local/sbin/true" && p.execPaths.contains("/bin/true"))
        #expect(throws: ConfigError.self) { try plan(command: []) }
    }

    @Test func unconfinedAndNoNetwork() throws {
        var l = ProfileLayer()
        l.network = .host
        l.seccomp = .unconfined
        let p = try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([l]), command: ["id"],
                                       context: LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: false))
        #expect(!p.steps.contains(.loadSeccomp))
        #expect(!p.steps.contains(.loopbackUp))
        #expect(!p.namespaces.contains(.network))
        #expect(!p.steps.contains { if case .mount(_, _, "sysfs", _, _) = $0 { return true }; return false })
    }

    @Test("A pod's container joins a network namespace it does not own: no sysfs mount of its own (EPERM), no loopback step; a plain sandbox mounts its own")
    func podContainerBindsThePodsSysfs() throws {
        func isSysfs(_ s: PlanStep) -> Bool { if case .mount(_, _, "sysfs", _, _) = s { return true }; return false }
        let own = try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([ProfileLayer()]), command: ["id"], context: Self.root)
        #expect(own.steps.contains(where: isSysfs) && own.steps.contains(.loopbackUp))
        var c = Self.root
        c.joinedNamespaces = [.user, .network, .ipc]
        let pod = try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([ProfileLayer()]), command: ["id"], context: c)
        #expect(!pod.steps.contains(where: isSysfs))
        #expect(!pod.steps.contains(.loopbackUp))
        #expect(!pod.cloneNamespaces.contains(.network))
    }

    @Test("--inject-fault spellings: step:N or N is a plan step; the launcher's points by name, the old numbers -2, -3, -4 as aliases")
    func faultPointSpellings() {
        let read: [(String, FaultPoint?)] = [
            ("0", .step(0)), ("17", .step(17)), ("step:3", .step(3)), ("step:0", .step(0)),
            ("id-maps", .idMaps), ("-2", .idMaps),
            ("cgroup-create", .cgroupCreate), ("-3", .cgroupCreate),
            ("cgroup-attach", .cgroupAttach), ("-4", .cgroupAttach),
            // Not a fault point: -1 was "off" and -5 nothing; a step index is a plain number.
            ("-1", nil), ("-5", nil), ("", nil), ("step:", nil), ("step:-1", nil), ("step:x", nil),
            ("+3", nil), ("3 ", nil), ("id_maps", nil), ("٣", nil),
        ]
        for (text, expected) in read {
            #expect(FaultPoint(argument: text) == expected, "\(text)")
        }
        for point in [FaultPoint.step(5), .idMaps, .cgroupCreate, .cgroupLeaves, .cgroupLimits, .cgroupAttach] {
            #expect(FaultPoint(argument: point.argument) == point, "\(point.argument) reads back")
            #expect(point.planStep == (point == .step(5) ? 5 : nil), "only a plan step reaches the child: \(point)")
        }
    }

    @Test("Each bind and tmpfs target gets its mount point made right before its mount (a file bind a file one); none under /proc, /sys, /dev")
    func mountPointsBeforeTheirMounts() throws {
        var l = ProfileLayer()
        l.binds = [BindMount(source: "/srv/a", destination: "/data", readOnly: true),
                   BindMount(source: "/srv/a", destination: "/data/sub", readOnly: true),
                   BindMount(source: "/srv/f", destination: "/etc/app.conf", readOnly: true, sourceIsFile: true),
                   BindMount(source: "/srv/a", destination: "/sys/x", readOnly: true)]
        l.tmpfs = [TmpfsMount(path: "/scratch"), TmpfsMount(path: "/run", optional: true)]
        let s = try plan(l).steps
        let nr = LaunchPlanner.newRoot
        func at(_ step: PlanStep) -> Int? { s.firstIndex(of: step) }
        for (target, directory) in [("/data", true), ("/data/sub", true), ("/etc/app.conf", false), ("/scratch", true)] {
            let point = try #require(at(.makeMountPoint(nr + target, directory: directory)), "no mount point step for \(target)")
            let mount = try #require(s.firstIndex { if case let .mount(_, t, _, _, _) = $0 { return t == nr + target }; return false })
            #expect(point < mount && s[point + 1 ..< mount].allSatisfy { if case .mount = $0 { return false }; return true },
                    "\(target): made right before its own mount, after every earlier one")
        }
        #expect(at(.makeMountPoint(nr + "/data", directory: true))! > s.firstIndex { if case .mount(_, _, "proc", _, _) = $0 { return true }; return false }!)
        #expect(!s.contains { if case let .makeMountPoint(t, _) = $0 { return t.hasPrefix(nr + "/sys") || t.hasPrefix(nr + "/run") }; return false },
                "none under /sys, none for an optional tmpfs")
        #expect(LaunchPlanner.mountPoint("/a/../etc", directory: true) == nil && LaunchPlanner.mountPoint("/", directory: true) == nil)
        #expect(LaunchPlanner.mountPoint("/proc", directory: true) == nil && LaunchPlanner.mountPoint("/dev/x", directory: false) == nil)
        #expect(LaunchPlanner.mountPoint("/devices", directory: true) == .makeMountPoint(nr + "/devices", directory: true))
    }

    @Test("--tty: the pty is opened after the final pivot and before the identity change; TERM is the caller's, xterm, or the profile's")
    func terminalStepsAndTerm() throws {
        var c = Self.root
        c.terminalFD = 7
        c.terminalType = "screen-256color"
        var l = ProfileLayer()
        l.runAsUser = 1000
        l.runAsGroup = 1001
        let p = try plan(l, context: c)
        let open = try #require(index(p) { $0 == .openTerminal(fd: 7, uid: 1000, gid: 1001) })
        let lastPivot = try #require(p.steps.lastIndex { if case .pivotRoot = $0 { return true }; return false })
        let identity = try #require(index(p) { $0 == .setUID(1000) })
        let fork = try #require(index(p) { $0 == .forkWorkload })
        #expect(lastPivot < open && open < identity && open < fork, "in the final root, with CAP_CHOWN still held")
        #expect(p.steps[fork + 1] == .attachTerminal(fd: 7))
        #expect(p.environment.contains("TERM=screen-256color"))
        c.terminalType = nil
        #expect(try plan(context: c).environment.contains("TERM=xterm"))
        c.terminalType = "x\u{1b}[2J"
        #expect(try plan(context: c).environment.contains("TERM=xterm"))
        var set = ProfileLayer()
        set.env = [EnvVar(name: "TERM", value: "dumb")]
        #expect(try plan(set, context: c).environment.filter { $0.hasPrefix("TERM=") } == ["TERM=dumb"])
        #expect(!(try plan()).environment.contains { $0.hasPrefix("TERM=") }, "no TERM without --tty")
        #expect(!(try plan()).steps.contains { if case .openTerminal = $0 { return true }; return false })
    }
}
