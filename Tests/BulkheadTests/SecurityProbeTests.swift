import Foundation
import Glibc
import Testing

/// The probes of SECURITY-PROBES.md, run by `bh-probe` inside real sandboxes: under `container`
/// as uid 0 and uid 1000 every probe must be refused with the table's answer; under `unconfined`
/// (no filter, full capabilities of the user namespace, no masks) each system-call probe must get
/// past the filter, or the probe would prove nothing. One expectation per probe, so that a
/// failure names it. docs/security-probes.md has the observed table.
///
/// `BULKHEAD_PROBE_PROFILE=FILE` replaces `container` in the assertions below; it exists to check
/// that these tests fail against a weakened profile (see docs/security-probes.md).
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SecurityProbeTests {
    static let profile = ProcessInfo.processInfo.environment["BULKHEAD_PROBE_PROFILE"] ?? "container"

    /// Probes whose system call the container filter refuses with its default EPERM. The kernel
    /// is never consulted: SecurityProbeTests.taggedFilter shows each one gets a tagged errno.
    static let filteredEPERM: [String] = [
        "mount_tmpfs", "umount_proc", "fsopen", "open_tree", "move_mount", "mount_setattr", "pivot_root",  // 1
        "unshare_user", "unshare_ns_pid", "clone_newuser", "clone_newns", "clone_newnet",                  // 2
        "setns_net",                                                                                        // 4
        "kcmp", "pidfd_getfd",                                                                              // 5
        "add_key", "keyctl", "request_key",                                                                 // 6
        "bpf_prog_load", "perf_event_open", "open_by_handle_at",                                            // 7-9
        "tiocsti", "tiocsti_high", "tioclinux",                                                             // 10
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",                    // 11
        "reboot", "clock_settime", "settimeofday", "adjtimex", "clock_adjtime",                             // 12-13
        "userfaultfd", "io_uring_setup",                                                                    // 14-15
        "acct", "quotactl", "swapon", "syslog_read_all", "personality",                                     // 16
        "mount_cgroup2",                                                                                    // 19
    ]

    /// What each of those gets without the filter (harmless arguments): the proof that the probe
    /// reaches the kernel when it is allowed. nil: the kernel refuses it anyway in a user namespace
    /// (a capability of the initial namespace: CAP_SYS_MODULE, CAP_SYS_BOOT for kexec,
    /// CAP_SYS_PACCT, CAP_SYSLOG with dmesg_restrict) or was built without it (ENOSYS); for those
    /// taggedFilter is the proof that the filter refuses them.
    static let unconfinedErrno: [String: String?] = [
        "mount_tmpfs": "OK", "umount_proc": "EINVAL", "fsopen": "EINVAL", "open_tree": "EINVAL", "move_mount": "EINVAL",
        "mount_setattr": "EINVAL", "pivot_root": "EFAULT",
        "unshare_user": "OK", "unshare_ns_pid": "OK", "clone_newuser": "OK", "clone_newns": "OK", "clone_newnet": "OK",
        "clone3": "EFAULT", "setns_net": "OK", "kcmp": "ESRCH", "pidfd_getfd": "EBADF",
        "add_key": "EFAULT", "keyctl": "EOPNOTSUPP", "request_key": "EFAULT",
        "bpf_prog_load": "EFAULT", "perf_event_open": "EFAULT", "open_by_handle_at": "EFAULT",
        "tiocsti": "EBADF", "tiocsti_high": "EBADF", "tioclinux": "EBADF",
        "kexec_load": nil, "kexec_file_load": nil, "init_module": nil, "finit_module": nil, "delete_module": nil,
        "reboot": "EINVAL", "clock_settime": "EINVAL", "settimeofday": "EFAULT", "adjtimex": "EFAULT", "clock_adjtime": "EFAULT",
        "userfaultfd": "EINVAL", "io_uring_setup": "EFAULT",
        "acct": nil, "quotactl": "EINVAL", "swapon": "EINVAL", "syslog_read_all": nil, "personality": "OK",
        "mount_cgroup2": "OK",
    ]

    /// The masked paths of row 18 (and /proc/keys of row 6): a mount over the path when the host has it.
    static let masked = ["kcore": "/proc/kcore", "timer_list": "/proc/timer_list", "sched_debug": "/proc/sched_debug",
                         "acpi": "/proc/acpi", "scsi": "/proc/scsi", "sys_firmware": "/sys/firmware",
                         "interrupts": "/proc/interrupts", "sys_kernel_security": "/sys/kernel/security"]

    static var hostPidNamespace: String { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? "?" }

    /// Every row's `container` answer, for one uid. `rootInside`: the run is as the sandbox's uid 0.
    func expectContainerAnswers(_ p: Probe.Run, rootInside: Bool, sockets: HostSockets) {
        #expect(p.complete, "bh-probe ran to the end: \(p.raw.stderr)")
        for name in Self.filteredEPERM {
            #expect(p[name].errno == "EPERM" && p[name].result == "refused", "\(p[name])")
        }
        // 3: ENOSYS, not EPERM, so that glibc falls back to clone.
        #expect(p["clone3"].errno == "ENOSYS", "\(p["clone3"])")
        // 4: /proc/1 is the sandbox's own init, in a PID namespace that is not the host's.
        #expect(p["proc1_init"].result == "own-init", "\(p["proc1_init"])")
        #expect(!p["proc1_init"].detail.contains("pidns=\(Self.hostPidNamespace) "), "\(p["proc1_init"])")
        #expect(p["open_init_netns"].result == "refused", "\(p["open_init_netns"])")
        // 5: a host process cannot be named from inside.
        for name in ["ptrace_attach", "process_vm_readv", "pidfd_open"] {
            #expect(["ESRCH", "EPERM"].contains(p[name].errno), "\(p[name])")
        }
        // 6: /proc/keys masked.
        #expect(p["proc_keys"].result == "masked" || !FileManager.default.fileExists(atPath: "/proc/keys"), "\(p["proc_keys"])")
        // 10: no controlling terminal; an allowed ioctl still reaches the kernel (the control).
        #expect(p["ctty"].result == "absent", "\(p["ctty"])")
        #expect(p["tcgets"].errno == "EBADF", "\(p["tcgets"])")
        // 17: EROFS, or EACCES where the kernel's permission check on /proc/sys comes first; never writable.
        for name in ["core_pattern", "net_ip_forward", "hostname"] {
            #expect(["EROFS", "EACCES"].contains(p[name].errno), "\(p[name])")
        }
        #expect(p["sysrq_trigger"].result == "absent" || p["sysrq_trigger"].result == "readonly", "\(p["sysrq_trigger"])")
        // 18: masked where the host has the path.
        for (name, path) in Self.masked.sorted(by: { $0.key < $1.key }) {
            let hostHas = FileManager.default.fileExists(atPath: path)
            #expect(p[name].result == (hostHas ? "masked" : "absent"), "\(p[name])")
        }
        // 19: no cgroup v1 release_agent to write, no cgroup file above the sandbox's own.
        for name in ["release_agent", "notify_on_release", "cgroup_files"] {
            #expect(p[name].result == "absent" || p[name].result == "refused", "\(p[name])")
        }
        #expect(p["own_cgroup"].result == "own-only", "\(p["own_cgroup"])")
        // 20: mknod refused (by the kernel: no CAP_MKNOD), the nodes absent.
        for name in ["mknod_chr", "mknod_blk"] { #expect(p[name].errno == "EPERM", "\(p[name])") }
        for name in ["dev_mem", "dev_kmsg", "dev_port", "dev_vda", "dev_sda", "dev_kvm"] {
            #expect(p[name].result == "absent", "\(p[name])")
        }
        // 21
        for name in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            #expect(p[name].result == "0000000000000000", "\(p[name])")
        }
        #expect(p["NoNewPrivs"].result == "1", "\(p["NoNewPrivs"])")
        #expect(p["Seccomp"].result == "2", "\(p["Seccomp"])")
        // 22: a setuid-root binary changes nothing.
        #expect(p["root_nosuid"].result == "nosuid", "\(p["root_nosuid"])")
        if rootInside {
            #expect(p["setuid_selfmade"].result == "refused", "\(p["setuid_selfmade"])")
        } else {
            #expect(p["setuid_exec"].result == "unchanged" && p["setuid_exec"].detail.contains("mode=4755"), "\(p["setuid_exec"])")
        }
        // 23
        #expect(p["fds"].result == "only-0-1-2", "\(p["fds"])")
        #expect(p["cwd"].result == "inside", "\(p["cwd"])")
        // 24
        #expect(p["proc1_exe_write"].result == "refused", "\(p["proc1_exe_write"])")
        // 26: none reachable. The runtime-like socket (0660, root) is refused by its permissions.
        let docker = p["socket:\(sockets.dir)/docker.sock"]
        #expect(docker.result == "unreachable", "\(docker)")
        // A world-connectable host socket (0666) would be reachable through a read-only bind:
        // connect(2) on a path socket needs only write permission on the inode, which a read-only
        // mount does not take away. The container layer has a /run of its own, so the host's
        // sockets there are not visible at all (found by this probe; fixed in Profiles/container.yaml).
        let world = p["socket:\(sockets.dir)/world.sock"]
        #expect(world.result == "unreachable", "\(world)")
        // 27
        #expect(p["route_v4"].errno == "ENETUNREACH", "\(p["route_v4"])")
        #expect(p["route_v6"].errno == "ENETUNREACH", "\(p["route_v6"])")
        #expect(p["interfaces"].result == "lo-only", "\(p["interfaces"])")
    }

    func probeArgs(_ extra: [String] = []) -> [String] {
        ["--outside-pid", String(getpid()), "--only", (1...27).map(String.init).joined(separator: ",")] + extra
    }

    @Test("container as uid 0: every probe refused with the table's answer")
    func containerAsRoot() throws {
        let helper = try SetuidHelper(), sockets = try HostSockets()
        defer { helper.remove(); sockets.remove() }
        let p = try Probe.run(["--profile", Self.profile] + helper.bindFlags, probeArgs(helper.probeArgs + sockets.probeArgs))
        #expect(p.raw.status == 0, "\(p.raw.stderr)")
        expectContainerAnswers(p, rootInside: true, sockets: sockets)
    }

    @Test("container as uid 1000: every probe refused with the table's answer; a setuid-root binary changes nothing")
    func containerAsUser() throws {
        let helper = try SetuidHelper(), sockets = try HostSockets()
        defer { helper.remove(); sockets.remove() }
        let p = try Probe.run(["--profile", Self.profile, "--user", "1000"] + helper.bindFlags, probeArgs(helper.probeArgs + sockets.probeArgs))
        #expect(p.raw.status == 0, "\(p.raw.stderr)")
        expectContainerAnswers(p, rootInside: false, sockets: sockets)
    }

    @Test("unconfined (the control): every system-call probe gets past the filter")
    func unconfinedControl() throws {
        let sockets = try HostSockets()
        defer { sockets.remove() }
        let p = try Probe.run(["--profile", "unconfined"], probeArgs(sockets.probeArgs))
        // The control for row 26: with the host's /run visible, the world-connectable socket is
        // reachable, so the probe can tell (and `container`'s "unreachable" means something).
        #expect(p["socket:\(sockets.dir)/world.sock"].result == "reachable", "\(p["socket:\(sockets.dir)/world.sock"])")
        #expect(p.complete, "\(p.raw.stderr)")
        for (name, expected) in Self.unconfinedErrno.sorted(by: { $0.key < $1.key }) {
            if let expected {
                #expect(p[name].errno == expected, "\(p[name])")
            } else {
                // Refused by the kernel itself in a user namespace, or not built: never the filter's doing.
                #expect(["EPERM", "ENOSYS"].contains(p[name].errno), "\(p[name])")
            }
        }
        for (name, path) in Self.masked.sorted(by: { $0.key < $1.key }) where FileManager.default.fileExists(atPath: path) {
            #expect(p[name].result == "not-masked", "\(p[name])")
        }
        #expect(p["proc_keys"].result == "not-masked", "\(p["proc_keys"])")
        #expect(p["CapEff"].result != "0000000000000000", "\(p["CapEff"])")
        #expect(p["NoNewPrivs"].result == "0", "\(p["NoNewPrivs"])")
        #expect(p["Seccomp"].result == "0", "\(p["Seccomp"])")
        #expect(p["net_ip_forward"].result == "writable", "the sandbox netns' own sysctl: \(p["net_ip_forward"])")
        #expect(p["setuid_selfmade"].result == "elevated", "the probe does see an elevation when nothing prevents it: \(p["setuid_selfmade"])")
    }

    /// The container allow-list with its default errno changed to ENOTRECOVERABLE (131): a probe
    /// that now gets 131 was refused by the filter's default action, before the kernel saw it.
    /// This is the proof for the calls that a user namespace refuses anyway (kexec, modules,
    /// acct, syslog), where the unconfined control cannot show a different errno.
    @Test("Tagged filter: every EPERM probe is the filter's own refusal")
    func taggedFilter() throws {
        let source = Bulkhead.packageRoot + "/Profiles/seccomp/container.json"
        let tagged = "/var/tmp/bh-tagged-\(token()).json"
        let json = try String(contentsOfFile: source, encoding: .utf8)
        try #require(json.contains("\"defaultErrnoRet\": 1,"))
        try json.replacingOccurrences(of: "\"defaultErrnoRet\": 1,", with: "\"defaultErrnoRet\": 131,")
            .write(toFile: tagged, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tagged) }
        let p = try Probe.run(["--profile", Self.profile, "--seccomp", tagged], probeArgs(["--filter-errno", "131"]))
        #expect(p.complete, "\(p.raw.stderr)")
        for name in Self.filteredEPERM {
            #expect(p[name].errno == "ENOTRECOVERABLE", "\(p[name])")
        }
        #expect(p["clone3"].errno == "ENOSYS", "clone3 has its own rule: \(p["clone3"])")
        // mknod is allowed by the filter and refused by the kernel (no CAP_MKNOD).
        #expect(p["mknod_chr"].errno == "EPERM", "\(p["mknod_chr"])")
    }

    @Test("Row 17: /proc/sys is a read-only mount: with CAP_NET_ADMIN the netns' own sysctl gives EROFS")
    func procSysReadOnly() throws {
        let p = try Probe.run(["--profile", Self.profile, "--cap-add", "NET_ADMIN"], ["--only", "17"])
        #expect(p["net_ip_forward"].errno == "EROFS", "\(p["net_ip_forward"])")
    }

    @Test("Row 24: /proc/1/exe cannot be opened for writing; the launcher binary is unchanged (CVE-2019-5736)")
    func launcherBinary() throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: Bulkhead.binary))
        for flags in [["--profile", Self.profile], ["--profile", Self.profile, "--user", "1000"], ["--profile", "unconfined"]] {
            let p = try Probe.run(flags, ["--only", "24"])
            #expect(p["proc1_exe_write"].result == "refused", "\(flags): \(p["proc1_exe_write"])")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: Bulkhead.binary)) == before)
    }

    @Test("Row 25: a root filesystem whose /proc, /dev or /tmp is a symlink: the launcher refuses to start")
    func symlinkedRoot() throws {
        for link in ["proc", "dev", "tmp"] {
            let root = "/var/tmp/bh-rootfs-\(token())"
            let target = "/var/tmp/bh-rootfs-target-\(token())"
            let fm = FileManager.default
            for d in ["", "/bin", "/usr", "/lib", "/lib64", "/proc", "/dev", "/tmp", "/sys", "/etc"] where "/\(link)" != d {
                try fm.createDirectory(atPath: root + d, withIntermediateDirectories: true)
            }
            try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: "\(root)/\(link)", withDestinationPath: target)
            defer { try? fm.removeItem(atPath: root); try? fm.removeItem(atPath: target) }
            let profile = root + ".yaml"
            try "extends: container\nfilesystem:\n  root: \(root)\n".write(toFile: profile, atomically: true, encoding: .utf8)
            defer { try? fm.removeItem(atPath: profile) }
            let r = try Bulkhead.run(["run", "--profile", profile, "--", "/bin/sh", "-c", "echo RAN"])
            #expect(r.status == 125, "/\(link) a symlink: \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("symlink"), "/\(link): \(r.stderr)")
            #expect(!r.stdout.contains("RAN"))
            #expect((try? fm.contentsOfDirectory(atPath: target))?.isEmpty == true, "nothing was mounted or written through the link")
        }
    }

    @Test("Row 27: no route out of a `net: none` sandbox; with --network host the same probe sees one (the control)")
    func network() throws {
        let p = try Probe.run(["--profile", Self.profile], ["--only", "27"])
        #expect(p["route_v4"].errno == "ENETUNREACH", "\(p["route_v4"])")
        #expect(p["interfaces"].result == "lo-only", "\(p["interfaces"])")
        // UDP connect() only picks a route; no packet leaves.
        let h = try Probe.run(["--profile", Self.profile, "--network", "host"], ["--only", "27"])
        #expect(h["route_v4"].result == "routable" || h.raw.status == 125, "\(h["route_v4"]) \(h.raw.stderr)")
    }

    @Test("Row 28: fork bomb, fd loop, add_key loop stop at their limits; a neighbour still forks and opens files")
    func resourceLoops() throws {
        let hold = try BackgroundRun(["run"] + Probe.bindFlags + ["--profile", Self.profile, "--pids", "32", "--rlimit", "nofile=64:64", "--", Probe.binary,
                                      "--only", "28", "--hold", "2500", "--inotify-max", "0"])
        usleep(1_000_000)
        let neighbour = try Bulkhead.sh("for i in 1 2 3 4 5 6 7 8; do /bin/true & done; wait; exec 3</etc/hostname 4</etc/passwd && echo opened")
        let r = try hold.finish()
        let p = Probe.parse(r.stdout)
        #expect(p["fork_loop"]?.errno == "EAGAIN", "\(String(describing: p["fork_loop"])) \(r.stderr)")
        let forks = Int(p["fork_loop"]?.detail.split(separator: " ").first?.dropFirst("forks=".count) ?? "") ?? -1
        #expect((25...31).contains(forks), "stopped near pids.max 32: \(forks)")
        #expect(p["fd_loop"]?.errno == "EMFILE", "\(String(describing: p["fd_loop"]))")
        let fds = Int(p["fd_loop"]?.detail.split(separator: " ").first?.dropFirst("fds=".count) ?? "") ?? -1
        #expect(fds == 61, "RLIMIT_NOFILE 64 minus 0, 1, 2: \(fds)")
        #expect(p["add_key_loop"]?.errno == "EPERM", "\(String(describing: p["add_key_loop"]))")
        #expect(neighbour.status == 0 && neighbour.stdout.contains("opened"), "the neighbour forks and opens files: \(neighbour.stdout) \(neighbour.stderr)")
    }

    @Test("Row 28: an inotify_init loop stops at the per-user instance limit")
    func inotifyLoop() throws {
        let hold = try BackgroundRun(["run"] + Probe.bindFlags + ["--profile", Self.profile, "--", Probe.binary,
                                      "--only", "28", "--hold", "2500", "--fd-max", "0", "--fork-max", "0", "--addkey-max", "0"])
        usleep(1_200_000)
        // While the first sandbox holds its instances: a neighbour sandbox, and the host's root.
        let neighbour = try Probe.run(["--profile", Self.profile], ["--only", "28", "--inotify-max", "1", "--fd-max", "0", "--fork-max", "0", "--addkey-max", "0"])
        let hostFD = inotify_init1(Int32(IN_CLOEXEC))
        let hostErrno = errno
        if hostFD >= 0 { close(hostFD) }
        let r = try hold.finish()
        let p = Probe.parse(r.stdout)
        #expect(p["inotify_loop"]?.errno == "EMFILE", "\(String(describing: p["inotify_loop"]))")
        // The kernel charges inotify instances to the user namespace's owner in the initial
        // namespace too (kernel/ucount.c). bulkhead creates a sandbox's user namespace with its
        // range's uid in the owner band (IDRange.ownerHostID) as owner, so host root's budget is
        // untouched...
        #expect(hostFD >= 0, "the host's root: inotify_init1 errno \(hostErrno)")
        // ...but plain sandboxes share the default range (and ranges starting in one 65,536-id
        // block share an owner), so they share its owner's budget. The neighbour's probe did
        // run (the known issue below is about its verdict, not about a probe that never ran).
        #expect(["stopped", "not-stopped"].contains(neighbour["inotify_loop"].result), "a neighbour sandbox: \(neighbour["inotify_loop"])")
        withKnownIssue("sandboxes that share a host uid range share its inotify budget (fs.inotify.max_user_instances, 128): give a profile its own hostIDRange to separate them (see docs/security-probes.md)") {
            #expect(neighbour["inotify_loop"].result == "not-stopped", "a neighbour sandbox: \(neighbour["inotify_loop"])")
        }
    }
}
