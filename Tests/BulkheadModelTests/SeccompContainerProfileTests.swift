import Glibc
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// `Profiles/seccomp/container.json` is derived here from Docker's default profile; every
/// difference is listed in `docs/seccomp-default.md` with its reason. The test fails when the
/// checked-in file differs from the derivation; run it with BULKHEAD_REGENERATE_SECCOMP=1 to
/// rewrite the file (then review the diff), e.g.
///
///     BULKHEAD_REGENERATE_SECCOMP=1 swift test --scratch-path .build-seccomp --filter SeccompContainerProfile
enum ContainerSeccompDerivation {
    static let profilePath = repositoryRoot + "/Profiles/seccomp/container.json"

    /// System calls the container layer leaves to the default action (EPERM), although Docker's
    /// default allows some of them to a container without capabilities.
    static let refused: Set<String> = [
        // io_uring: behind several container breakouts; left Docker's default in 2023.
        "io_uring_setup", "io_uring_enter", "io_uring_register",
        // keyrings are not namespaced; a container could read or exhaust the host's.
        "add_key", "keyctl", "request_key",
        // userfaultfd: makes kernel race exploitation reliable.
        "userfaultfd",
        // kernel replacement and modules.
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
        "query_module",
        "bpf", "perf_event_open", "open_by_handle_at",
        // mounts and the new mount API.
        "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree",
        "open_tree_attr", "move_mount", "mount_setattr",
        // namespaces: no nesting in the container layer.
        "unshare", "setns",
        "reboot", "acct", "quotactl", "quotactl_fd", "swapon", "swapoff", "syslog",
        // the clock is the host's.
        "clock_settime", "clock_settime64", "settimeofday", "stime", "adjtimex", "clock_adjtime",
        "clock_adjtime64",
    ]

    /// ioctl requests refused even though ioctl is allowed: TIOCSTI pushes input into the
    /// terminal (CVE-2016-7545 family); TIOCLINUX reaches the console's selection buffer.
    static let refusedIoctls: [UInt64] = [0x5412 /* TIOCSTI */, 0x541C /* TIOCLINUX */]

    static func derive() throws -> SeccompPolicy {
        let docker = try SeccompPolicyParser.parse(
            text: try readText(dockerDefaultPath), file: dockerDefaultPath,
            context: SeccompContext(capabilities: [], architecture: .x86_64, kernelVersion: nil))
        var rules: [SeccompRule] = []
        for var r in docker.rules {
            r.comment = nil
            let unconditional = r.isUnconditional
            r.names.removeAll { refused.contains($0) || ($0 == "ioctl" && unconditional) }
            if !r.names.isEmpty { rules.append(r) }
        }
        // ioctl: allowed for every request whose low 32 bits are not a refused one. libseccomp
        // cannot express "ERRNO(EPERM) for TIOCSTI, ALLOW the rest" when EPERM is also the
        // default action (see docs/seccomp-default.md), so the allowed requests are listed as
        // the complement: one masked comparison per branch of the bit trie around the refused
        // values, with the high 32 bits outside every mask (the kernel truncates the request).
        for (mask, value) in maskedComplement(of: refusedIoctls, bits: 32) {
            rules.append(SeccompRule(
                names: ["ioctl"], action: .allow,
                args: [SeccompArgCondition(index: 1, value: mask, valueTwo: value, op: .maskedEqual)]))
        }
        return SeccompPolicy(
            defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64, .x86, .x32], rules: rules
        ).normalized()
    }

    /// (mask, value) pairs such that a `bits`-wide value matches exactly one pair unless it is
    /// one of `excluded`, which match none.
    static func maskedComplement(of excluded: [UInt64], bits: Int) -> [(UInt64, UInt64)] {
        var out: [(UInt64, UInt64)] = []
        func walk(_ mask: UInt64, _ value: UInt64, _ bit: Int, _ remaining: [UInt64]) {
            guard bit >= 0 else { return }  // exactly an excluded value
            let b = UInt64(1) << UInt64(bit)
            for side in [0, b] {
                let sub = remaining.filter { $0 & b == side }
                if sub.isEmpty { out.append((mask | b, value | side)) } else { walk(mask | b, value | side, bit - 1, sub) }
            }
        }
        walk(0, 0, bits - 1, excluded)
        return out
    }
}

@Suite struct SeccompContainerProfileTests {
    @Test func checkedInFileMatchesTheDerivation() throws {
        let derived = try ContainerSeccompDerivation.derive().kubernetesJSON()
        if getenv("BULKHEAD_REGENERATE_SECCOMP") != nil {
            let f = fopen(ContainerSeccompDerivation.profilePath, "wb")
            #expect(f != nil)
            if let f {
                _ = derived.utf8CString.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count - 1, f) }
                fclose(f)
            }
        }
        let onDisk = try readText(ContainerSeccompDerivation.profilePath)
        #expect(onDisk == derived, "Profiles/seccomp/container.json is stale; regenerate it (see this file's header)")
    }

    @Test func containerProfileHasTheDocumentedShape() throws {
        let p = try SeccompPolicyParser.parse(
            text: try readText(ContainerSeccompDerivation.profilePath), file: "container.json", context: SeccompContext())
        #expect(p.defaultAction == .errno)
        #expect(p.defaultErrnoRet == 1)
        #expect(p.architectures == [.x86_64, .x86, .x32])
        let named = Set(p.rules.flatMap(\.names))
        for n in ContainerSeccompDerivation.refused { #expect(!named.contains(n), "\(n) must be absent") }
        #expect(p.rules.contains(SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38)))
        // clone only without namespace flags: (flags & 0x7E020000) == 0, Docker's non-CAP_SYS_ADMIN rule.
        #expect(p.rules.contains(SeccompRule(
            names: ["clone"], action: .allow,
            args: [SeccompArgCondition(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)])))
        #expect(!p.rules.contains { $0.names.contains("clone") && $0.isUnconditional })
        #expect(!p.rules.contains { $0.names.contains("personality") && $0.isUnconditional })
        #expect(!p.rules.contains { $0.names.contains("ioctl") && $0.isUnconditional })
        for n in ["read", "write", "openat", "execve", "wait4", "exit_group", "getppid", "rt_sigaction"] {
            #expect(p.rules.contains { $0.names.contains(n) && $0.isUnconditional && $0.action == .allow }, "\(n)")
        }
    }

    /// The ioctl rules allow every request except TIOCSTI and TIOCLINUX, whatever the high bits.
    @Test func ioctlRulesRefuseExactlyTheTerminalInjectionRequests() throws {
        let p = try ContainerSeccompDerivation.derive()
        let ioctl = p.rules.filter { $0.names.contains("ioctl") }
        #expect(ioctl.allSatisfy { $0.action == .allow && $0.args.count == 1 && $0.args[0].index == 1 })
        func allowed(_ request: UInt64) -> Bool {
            ioctl.contains { r in r.args.allSatisfy { ($0.value & request) == $0.valueTwo } }
        }
        for refused in [0x5412, 0x541C, 0x1_0000_5412, 0xFFFF_FFFF_0000_541C] as [UInt64] {
            #expect(!allowed(refused), "0x\(String(refused, radix: 16))")
        }
        for ok in [0x5401 /* TCGETS */, 0x5413 /* TIOCGWINSZ */, 0x5410, 0x541B, 0x541D, 0x5402, 0, 0xFFFF_FFFF,
            0x8004_6601, 0x1_0000_5401] as [UInt64]
        {
            #expect(allowed(ok), "0x\(String(ok, radix: 16))")
            #expect(ioctl.filter { r in r.args.allSatisfy { ($0.value & ok) == $0.valueTwo } }.count == 1)
        }
        #expect(ioctl.count == 34)
    }
}
