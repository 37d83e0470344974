import BulkheadModel
@testable import BulkheadSystem
import CShims
import Foundation
import Testing

/// The seam between the plan and the C step executor: every `PlanStep` case is encoded as the
/// `bh_step` op of the same name (case `fooBar` is `BH_OP_FOO_BAR`, bh_spawn.h), and its
/// arguments land in the named members of that op.
struct StepEncodingTests {
    static let root = LaunchPlanner.newRoot

    /// One instance of every PlanStep case.
    static let everyCase: [PlanStep] = [
        .waitForRelease, .joinCgroups, .unshareNamespaces([.cgroup]), .setDumpable(false), .newSession,
        .mount(source: "tmpfs", target: root + "/tmp", fstype: "tmpfs", flags: [.noSuid, .noDev], data: "size=1m"),
        .mountIfPresent(source: nil, target: "/sys/fs/bpf", fstype: "bpf", flags: [], data: nil),
        .makeDirectory(root + "/data", mode: 0o750), .createFile(root + "/etc/resolv.conf"),
        .makeMountPoint(root + "/srv/data", directory: true),
        .symlink(target: "/proc/self/fd", at: root + "/dev/fd"), .changeDirectory(root), .enterWorkingDirectory("/srv"),
        .pivotRoot(newRoot: ".", putOld: "oldroot"), .unmountDetached("/oldroot"),
        .setMountAttributes("/", [.readOnly, .noSuid], recursive: true), .refuseSymlinks(root + "/data", missingOK: true),
        .mask(root + "/proc/kcore", nullDevice: root + "/dev/null"), .makeReadOnly(root + "/proc/sys"),
        .setHostname("sandbox"), .loopbackUp, .setRlimit(.nofile, Rlimit(soft: 1024, hard: 4096)),
        .dropBoundingSet(keep: CapabilitySet(mask: 0b101)), .keepCapabilities(true), .setGroups([10, 20]),
        .setGID(1000), .setUID(1001),
        .setCapabilities(effective: CapabilitySet(mask: 1), permitted: CapabilitySet(mask: 3), inheritable: CapabilitySet(mask: 0)),
        .raiseAmbientCapabilities(CapabilitySet(mask: 1 << 10)),
        .noNewPrivileges, .landlockCreateRuleset(handledFilesystem: 0x7fff, handledNetwork: 3),
        .landlockAllowPath("/usr", access: 0x5), .landlockAllowPort(8080, access: 0x1), .landlockRestrictSelf,
        .forkWorkload, .pause, .closeStrayFileDescriptors, .attachTerminal(fd: 9), .openTerminal(fd: 9, uid: 1000, gid: 1001), .loadSeccomp, .exec, .becomeTracee,
        .waitExecFifo(fd: 7), .writeSysctl(name: "net.ipv4.ip_forward", value: "1"), .waitPoolRequest(fd: 8),
        .mountCgroups(hierarchies: ["memory", "cpu,cpuacct", "unified"], readOnly: true, temporaryNamespace: false),
        .runHook(HookStep(kind: "startContainer", index: 0, path: "/bin/true", argv: ["true"], env: ["A=b"], stateFD: 6, timeoutMs: 1000)),
    ]

    /// The ops of bh_spawn.h by value: the first is `= 1`, each next one more.
    static func headerOps() throws -> [UInt32: String] {
        let header = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("CShims/include/bh_spawn.h")
        let text = try String(contentsOf: header, encoding: .utf8)
        let start = try #require(text.range(of: "enum bh_step_op {"))
        let end = try #require(text.range(of: "};", range: start.upperBound..<text.endIndex))
        var ops: [UInt32: String] = [:]
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let code = line.split(separator: "/*").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard code.hasPrefix("BH_OP_") else { continue }
            let name = String(code.prefix { $0 == "_" || $0.isUppercase })
            #expect(ops.isEmpty == code.contains("= 1"), "only the first op has an explicit value: \(code)")
            ops[UInt32(ops.count + 1)] = name
        }
        return ops
    }

    /// `fooBarGID` -> `BH_OP_FOO_BAR_GID`: an underscore where a lower-case letter meets an upper-case one.
    static func cName(_ step: PlanStep) -> String {
        let swiftName = String(String(describing: step).prefix { $0 != "(" })
        var out = "BH_OP_"
        var previous: Character = "_"
        for c in swiftName {
            if c.isUppercase && previous.isLowercase { out.append("_") }
            out.append(contentsOf: c.uppercased())
            previous = c
        }
        return out
    }

    @Test("Every PlanStep case is encoded as the op of the same name, and every op of bh_spawn.h has its case")
    func namesAlignAcrossTheBoundary() throws {
        let ops = try Self.headerOps()
        #expect(ops.count == Self.everyCase.count, "bh_spawn.h has \(ops.count) ops, PlanStep \(Self.everyCase.count) cases")
        let arena = CArena()
        defer { arena.free() }
        var seen: Set<String> = []
        for step in Self.everyCase {
            let op = arena.step(step).op.rawValue
            #expect(ops[op] == Self.cName(step), "\(step) is encoded as \(ops[op] ?? "op \(op)")")
            seen.insert(ops[op] ?? "")
        }
        #expect(seen == Set(ops.values), "ops no PlanStep is encoded as: \(Set(ops.values).subtracting(seen).sorted())")
    }

    @Test("The encoder fills the named members of each op")
    func namedMembers() {
        let arena = CArena()
        defer { arena.free() }
        func text(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
        let rootLength = UInt32(Self.root.utf8.count)

        let m = arena.step(.mount(source: "tmpfs", target: Self.root + "/tmp", fstype: "tmpfs", flags: [.noSuid, .noDev], data: "size=1m"))
        #expect(m.op == BH_OP_MOUNT)
        #expect(text(m.args.mount.source) == "tmpfs" && text(m.args.mount.target) == Self.root + "/tmp")
        #expect(text(m.args.mount.fstype) == "tmpfs" && text(m.args.mount.data) == "size=1m")
        #expect(m.args.mount.flags == MountFlags([.noSuid, .noDev]).rawValue && m.args.mount.root_len == rootLength)

        let present = arena.step(.mountIfPresent(source: nil, target: "/sys/fs/bpf", fstype: "bpf", flags: [], data: nil))
        #expect(present.op == BH_OP_MOUNT_IF_PRESENT && present.args.mount.source == nil && present.args.mount.root_len == 0)

        let mask = arena.step(.mask(Self.root + "/proc/kcore", nullDevice: Self.root + "/dev/null"))
        #expect(text(mask.args.mask.path) == Self.root + "/proc/kcore" && text(mask.args.mask.null_device) == Self.root + "/dev/null")
        #expect(mask.args.mask.root_len == rootLength)

        let dir = arena.step(.makeDirectory(Self.root + "/data", mode: 0o750))
        #expect(dir.args.make_directory.mode == 0o750 && dir.args.make_directory.root_len == rootLength)

        let point = arena.step(.makeMountPoint(Self.root + "/srv/data", directory: false))
        #expect(point.op == BH_OP_MAKE_MOUNT_POINT && text(point.args.make_mount_point.path) == Self.root + "/srv/data")
        #expect(point.args.make_mount_point.root_len == rootLength && point.args.make_mount_point.directory == 0)
        #expect(arena.step(.makeMountPoint(Self.root + "/d", directory: true)).args.make_mount_point.directory == 1)

        let link = arena.step(.symlink(target: "/proc/self/fd", at: Self.root + "/dev/fd"))
        #expect(text(link.args.symlink.target) == "/proc/self/fd" && text(link.args.symlink.link_path) == Self.root + "/dev/fd")

        let pivot = arena.step(.pivotRoot(newRoot: ".", putOld: "oldroot"))
        #expect(text(pivot.args.pivot_root.new_root) == "." && text(pivot.args.pivot_root.put_old) == "oldroot")

        let attrs = arena.step(.setMountAttributes("/", [.readOnly, .noSuid], recursive: true))
        #expect(attrs.args.set_mount_attributes.attr_set == 0x3 && attrs.args.set_mount_attributes.recursive == 1)

        let check = arena.step(.refuseSymlinks("/x", missingOK: true))
        #expect(check.args.refuse_symlinks.missing_ok == 1)

        let rlimit = arena.step(.setRlimit(.nofile, Rlimit(soft: 1024, hard: 4096)))
        #expect(rlimit.args.set_rlimit.resource == 7 && rlimit.args.set_rlimit.soft == 1024 && rlimit.args.set_rlimit.hard == 4096)

        let none = arena.step(.setGroups([])), two = arena.step(.setGroups([42, 7]))
        #expect(none.args.set_groups.count == 0 && two.args.set_groups.count == 2 && two.args.set_groups.gids.0 == 42 && two.args.set_groups.gids.1 == 7)
        // The record holds the primary group plus the most the model lets through, no more.
        let full = arena.step(.setGroups((0...UInt32(FieldRules.maxSupplementalGroups)).map { $0 + 100 }))
        #expect(Int(BH_MAX_GROUPS) == FieldRules.maxSupplementalGroups + 1 && full.args.set_groups.count == UInt32(BH_MAX_GROUPS))
        #expect(full.args.set_groups.gids.32 == 132)

        #expect(arena.step(.setGID(1000)).args.set_gid.id == 1000 && arena.step(.setUID(1001)).args.set_uid.id == 1001)
        #expect(arena.step(.setDumpable(true)).args.set_dumpable.on == 1 && arena.step(.keepCapabilities(false)).args.keep_capabilities.on == 0)

        let caps = arena.step(.setCapabilities(effective: CapabilitySet(mask: 1), permitted: CapabilitySet(mask: 3), inheritable: CapabilitySet(mask: 4)))
        #expect(caps.args.set_capabilities.effective == 1 && caps.args.set_capabilities.permitted == 3 && caps.args.set_capabilities.inheritable == 4)
        #expect(arena.step(.dropBoundingSet(keep: CapabilitySet(mask: 0b101))).args.drop_bounding_set.keep == 0b101)

        #expect(arena.step(.unshareNamespaces([.cgroup])).args.unshare_namespaces.clone_flags == Namespace.cgroup.cloneFlag)
        #expect(text(arena.step(.setHostname("sandbox")).args.set_hostname.name) == "sandbox")

        let ruleset = arena.step(.landlockCreateRuleset(handledFilesystem: 0x7fff, handledNetwork: 3))
        #expect(ruleset.args.landlock_create_ruleset.handled_filesystem == 0x7fff && ruleset.args.landlock_create_ruleset.handled_network == 3)
        let path = arena.step(.landlockAllowPath("/usr", access: 0x5))
        #expect(text(path.args.landlock_allow_path.path) == "/usr" && path.args.landlock_allow_path.access == 0x5)
        let port = arena.step(.landlockAllowPort(8080, access: 0x1))
        #expect(port.args.landlock_allow_port.port == 8080 && port.args.landlock_allow_port.access == 0x1)

        #expect(arena.step(.attachTerminal(fd: 9)).args.attach_terminal.fd == 9)
        let tty = arena.step(.openTerminal(fd: 9, uid: 1000, gid: 1001))
        #expect(tty.op == BH_OP_OPEN_TERMINAL && tty.args.open_terminal.fd == 9 && tty.args.open_terminal.uid == 1000 && tty.args.open_terminal.gid == 1001)
        #expect(text(arena.step(.unmountDetached("/oldroot")).args.unmount_detached.path) == "/oldroot")
        #expect(text(arena.step(.changeDirectory("/new")).args.change_directory.path) == "/new")
    }
}
