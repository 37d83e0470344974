import BulkheadModel
import Foundation
import Glibc
import Testing

/// The cgroup side of `bulkhead-runc` on the real kernel: the config's cgroup mount inside the
/// container (mountinfo and the cgroup files as the workload reads them), pause/resume through
/// the freezer, `update`. Bundles as OCIRuntimeTests makes them (busybox-static).
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCICgroupTests {
    typealias B = OCIRuntimeTests.Bundle
    static func rt(_ args: [String], root: String) throws -> Bulkhead.Result { try OCIRuntimeTests.rt(args, root: root) }

    static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// mountinfo lines (as the workload wrote them) whose mount point is below /sys/fs/cgroup:
    /// (mount point, root, options, fstype).
    static func cgroupMounts(_ mountinfo: String) -> [(point: String, root: String, options: String, type: String)] {
        mountinfo.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ").map(String.init)
            guard f.count > 8, f[4].hasPrefix("/sys/fs/cgroup"), let dash = f.firstIndex(of: "-"), dash + 1 < f.count else { return nil }
            return (f[4], f[3], f[5], f[dash + 1])
        }
    }

    static let probe = """
    cat /proc/self/mountinfo > /out/mountinfo; cat /proc/self/cgroup > /out/cgroup
    ls /sys/fs/cgroup > /out/ls; ls /sys/fs/cgroup/memory > /out/memory-ls
    cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/unified/memory.max 2>/dev/null > /out/mem
    cat /sys/fs/cgroup/pids/pids.max > /out/pids 2>/dev/null
    mkdir /sys/fs/cgroup/memory/sub 2>/out/mkdir-err && echo made > /out/mkdir
    mkdir /sys/fs/cgroup/extra 2>/out/extra-err; true
    """

    static func limited(_ config: inout [String: Any], cgroupNamespace: Bool, options: [String] = ["nosuid", "noexec", "nodev", "relatime", "ro"]) {
        var l = config["linux"] as! [String: Any]
        l["resources"] = ["memory": ["limit": 48 << 20], "pids": ["limit": 33]]
        if !cgroupNamespace { l["namespaces"] = (l["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "cgroup" } }
        config["linux"] = l
        config["mounts"] = (config["mounts"] as! [[String: Any]]).filter { $0["type"] as? String != "cgroup" }
            + [["destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": options]]
    }

    /// With the cgroup namespace (the config asks): /sys/fs/cgroup is a read-only tmpfs with each
    /// hierarchy mounted read-only, every mount's root is "/" of the container's namespace, which is
    /// the container's own cgroup (its limits read back; no host tree below it), /proc/self/cgroup
    /// says "/" everywhere, and nothing can be created there.
    @Test func cgroupMountInTheContainersNamespace() throws {
        let b = try B(args: ["/bin/sh", "-c", Self.probe]) { Self.limited(&$0, cgroupNamespace: true) }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        let mounts = Self.cgroupMounts(Self.read(b.out + "/mountinfo") ?? "")
        let base = try #require(mounts.first { $0.point == "/sys/fs/cgroup" }, "a mount on /sys/fs/cgroup: \(mounts)")
        #expect(base.type == "tmpfs" && base.options.hasPrefix("ro"), "\(base)")
        let memory = try #require(mounts.first { $0.point == "/sys/fs/cgroup/memory" }, "\(mounts)")
        #expect(memory.type == "cgroup" && memory.options.hasPrefix("ro"), "\(memory)")
        for m in mounts where m.point != "/sys/fs/cgroup" {
            #expect(m.root == "/", "\(m.point): the container's own cgroup is its root: \(m)")
            #expect(m.options.hasPrefix("ro"), "read-only: \(m)")
        }
        #expect(mounts.contains { $0.point == "/sys/fs/cgroup/freezer" }, "the freezer hierarchy (pause) is there: \(mounts)")
        // The container's cgroup, not the host's root: its limits, no bulkhead tree below it.
        #expect(Self.read(b.out + "/mem") == String(48 << 20))
        #expect(Self.read(b.out + "/pids") == "33")
        #expect(!(Self.read(b.out + "/memory-ls") ?? "bulkhead").contains("bulkhead"))
        for line in (Self.read(b.out + "/cgroup") ?? "x").split(separator: "\n") {
            #expect(line.hasSuffix(":/"), "its own cgroup is / in the namespace: \(line)")
        }
        #expect(Self.read(b.out + "/mkdir") == nil, "read-only: \(Self.read(b.out + "/mkdir-err") ?? "")")
        #expect(Self.read(b.out + "/mkdir-err")?.contains("Read-only") == true)
        #expect(Self.read(b.out + "/extra-err")?.contains("Read-only") == true, "the tmpfs is read-only")
    }

    /// Without a cgroup namespace (podman's default on cgroup v1): the same mounts, rooted at the
    /// container's cgroup as the host names it (runc's bind mounts); /proc/self/cgroup shows the
    /// host's paths, and the workload is not left in a cgroup namespace of its own.
    @Test func cgroupMountWithoutANamespace() throws {
        let b = try B(args: ["/bin/sh", "-c", Self.probe + "; readlink /proc/self/ns/cgroup > /out/ns"]) { Self.limited(&$0, cgroupNamespace: false) }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        let mounts = Self.cgroupMounts(Self.read(b.out + "/mountinfo") ?? "")
        let memory = try #require(mounts.first { $0.point == "/sys/fs/cgroup/memory" }, "\(mounts)")
        #expect(memory.root.hasSuffix("/bulkhead/oci/\(b.id)"), "rooted at the container's cgroup: \(memory)")
        for m in mounts where m.point != "/sys/fs/cgroup" { #expect(m.root.hasSuffix("/bulkhead/oci/\(b.id)"), "\(m)") }
        #expect(Self.read(b.out + "/mem") == String(48 << 20))
        #expect(Self.read(b.out + "/pids") == "33")
        #expect((Self.read(b.out + "/cgroup") ?? "").contains("/bulkhead/oci/\(b.id)"), "the host's names")
        let ns = try #require(Self.read(b.out + "/ns"))
        let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/cgroup")
        #expect(ns == mine, "back in the runtime's cgroup namespace: \(ns) vs \(mine)")
    }

    /// "rw" in the mount's options: on a cgroup2-only host with nsdelegate and the container's own
    /// cgroup namespace, the container may make cgroups below its own; delete removes them.
    /// Elsewhere (cgroup v1 or hybrid, as this machine) the workload could write its own limits:
    /// refused (RedTeamOCICgroupTests.readWriteCgroupMountCannotRaiseItsOwnLimits).
    @Test func cgroupMountReadWrite() throws {
        let b = try B(args: ["/bin/sh", "-c", Self.probe]) { Self.limited(&$0, cgroupNamespace: true, options: ["nosuid", "noexec", "nodev", "rw"]) }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        let delegating = (Self.read("/proc/self/mountinfo") ?? "").split(separator: "\n").contains {
            $0.split(separator: " ")[4] == "/sys/fs/cgroup" && $0.contains(" - cgroup2 ") && $0.contains("nsdelegate")
        }
        if !delegating {
            #expect(r.status != 0 && r.stderr.contains("nsdelegate"), "refused on cgroup v1: \(r.stderr)")
            return
        }
        #expect(r.status == 0, "run: \(r.stderr)")
        #expect(Self.read(b.out + "/mkdir") == "made", "\(Self.read(b.out + "/mkdir-err") ?? "")")
        let memory = Self.cgroupMounts(Self.read(b.out + "/mountinfo") ?? "").first { $0.point == "/sys/fs/cgroup/memory" }
        #expect(memory?.options.hasPrefix("rw") == true, "\(String(describing: memory))")
        for h in ["memory", "pids", "cpu", "freezer", "unified"] {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(h)/bulkhead/oci/\(b.id)"), "\(h): removed with what the container made")
        }
    }

    /// pause freezes the container's cgroup (freezer.state FROZEN: a ticking loop stops), state says
    /// paused, resume thaws it (THAWED, ticking again); kill KILL of a paused container ends it
    /// (thawed after the signal, as runc) and delete --force of a paused one leaves nothing.
    @Test func pauseResumeKillDelete() throws {
        let b = try B(args: ["/bin/sh", "-c", "while :; do echo x >> /out/ticks; sleep 0.02; done"])
        let pidFile = b.dir + "/pid"
        #expect(try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot).status == 0)
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let dirs = OCIRuntimeTests.cgroupDirs(of: pid)
        let freezer = try #require(dirs.first { FileManager.default.fileExists(atPath: $0 + "/freezer.state") }, "\(dirs)")
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status == 0)
        func ticks() -> Int { (Self.read(b.out + "/ticks") ?? "").split(separator: "\n").count }
        for _ in 0..<500 where ticks() < 3 { usleep(10_000) }
        let p = try Self.rt(["pause", b.id], root: b.stateRoot)
        #expect(p.status == 0, "pause: \(p.stderr)")
        #expect(Self.read(freezer + "/freezer.state") == "FROZEN")
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String == "paused")
        let frozenAt = ticks()
        usleep(300_000)
        #expect(ticks() == frozenAt, "nothing runs while frozen")
        #expect(try Self.rt(["pause", b.id], root: b.stateRoot).status == 1, "a paused container is not paused twice")
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status == 1)
        #expect(try Self.rt(["delete", b.id], root: b.stateRoot).status == 1, "delete without --force refuses a paused container")
        let resumed = try Self.rt(["resume", b.id], root: b.stateRoot)
        #expect(resumed.status == 0, "resume: \(resumed.stderr)")
        #expect(Self.read(freezer + "/freezer.state") == "THAWED")
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String == "running")
        for _ in 0..<500 where ticks() <= frozenAt { usleep(10_000) }
        #expect(ticks() > frozenAt, "ticking again")
        #expect(try Self.rt(["resume", b.id], root: b.stateRoot).status == 1, "a running container is not resumed")

        // kill KILL of a paused container: thawed after the signal, it ends.
        #expect(try Self.rt(["pause", b.id], root: b.stateRoot).status == 0)
        #expect(try Self.rt(["kill", b.id, "KILL"], root: b.stateRoot).status == 0)
        for _ in 0..<500 where try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String != "stopped" { usleep(10_000) }
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String == "stopped")
        #expect(try Self.rt(["delete", b.id], root: b.stateRoot).status == 0)
        for d in dirs { #expect(!FileManager.default.fileExists(atPath: d), "\(d) removed") }

        // delete --force of a paused container.
        #expect(try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot).status == 0)
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status == 0)
        #expect(try Self.rt(["pause", b.id], root: b.stateRoot).status == 0)
        let pid2 = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let d = try Self.rt(["delete", "--force", b.id], root: b.stateRoot)
        #expect(d.status == 0, "delete --force: \(d.stderr)")
        #expect(kill(pid2, 0) != 0 || (Self.read("/proc/\(pid2)/stat") ?? "").contains(") Z"))
        // The second container has the first one's id, so its cgroups are `dirs` again (the dead
        // init's /proc entry would list none).
        for dir in dirs { #expect(!FileManager.default.fileExists(atPath: dir), "\(dir) removed") }
        #expect(!FileManager.default.fileExists(atPath: freezer), "the freezer cgroup is removed")
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot) == nil)
    }

    /// `update`: runc's flags and a --resources document change the live cgroup's files; the
    /// swap allowance is kept when only memory grows (memsw written first); state.json records
    /// what was written; a field the config refuses is refused by name, and nothing changes.
    @Test func updateWritesTheLiveCgroup() throws {
        let b = try B(args: ["/bin/sleep", "1000"]) { config in
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["memory": ["limit": 64 << 20, "swap": 64 << 20], "pids": ["limit": 50]]
            config["linux"] = l
        }
        let pidFile = b.dir + "/pid"
        #expect(try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot).status == 0)
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let dirs = OCIRuntimeTests.cgroupDirs(of: pid)
        let memory = try #require(dirs.first { FileManager.default.fileExists(atPath: $0 + "/memory.limit_in_bytes") })
        let pids = try #require(dirs.first { FileManager.default.fileExists(atPath: $0 + "/pids.max") })
        let cpu = try #require(dirs.first { FileManager.default.fileExists(atPath: $0 + "/cpu.cfs_quota_us") })
        #expect(Self.read(memory + "/memory.memsw.limit_in_bytes") == String(64 << 20))

        let u = try Self.rt(["update", "--memory", "96Mi", "--pids-limit", "20", b.id], root: b.stateRoot)
        #expect(u.status == 0, "update: \(u.stderr)")
        #expect(Self.read(memory + "/memory.limit_in_bytes") == String(96 << 20))
        #expect(Self.read(memory + "/memory.memsw.limit_in_bytes") == String(96 << 20), "no swap before, none after")
        #expect(Self.read(pids + "/pids.max") == "20")

        let doc = b.dir + "/resources.json"
        try Data(#"{"cpu": {"quota": 20000, "period": 100000}, "memory": {"limit": 50331648}}"#.utf8).write(to: URL(fileURLWithPath: doc))
        let r = try Self.rt(["update", "--resources", doc, b.id], root: b.stateRoot)
        #expect(r.status == 0, "update --resources: \(r.stderr)")
        #expect(Self.read(cpu + "/cpu.cfs_quota_us") == "20000" && Self.read(cpu + "/cpu.cfs_period_us") == "100000")
        #expect(Self.read(memory + "/memory.limit_in_bytes") == String(48 << 20))
        #expect(Self.read(memory + "/memory.memsw.limit_in_bytes") == String(48 << 20))

        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: b.stateRoot + "/\(b.id)/state.json"))) as? [String: Any]
        let recorded = (state?["updatedLimits"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
        #expect(recorded.contains(memory + "/memory.limit_in_bytes") && recorded.contains(pids + "/pids.max") && recorded.contains(cpu + "/cpu.cfs_quota_us"), "\(recorded)")

        let refused = try Self.rt(["update", "--memory-reservation", "8Mi", "--pids-limit", "30", b.id], root: b.stateRoot)
        #expect(refused.status == 1 && refused.stderr.contains("memory.reservation"), "\(refused.stderr)")
        #expect(Self.read(pids + "/pids.max") == "20", "a refused update changes nothing")
        let unknown = try Self.rt(["update", "--kernel-memory", "8Mi", b.id], root: b.stateRoot)
        #expect(unknown.status == 1 && unknown.stderr.contains("--kernel-memory"), "\(unknown.stderr)")

        // Transactional: memory (memsw raised first, then limit_in_bytes) and pids are written,
        // then cpuset.cpus fails (a CPU this host lacks: EINVAL or ERANGE): every value written is put back
        // in reverse order, the error names the write, its errno and fix, and the state records
        // nothing of it.
        let cpuset = try #require(dirs.first { FileManager.default.fileExists(atPath: $0 + "/cpuset.cpus") })
        let before = [memory + "/memory.limit_in_bytes", memory + "/memory.memsw.limit_in_bytes", pids + "/pids.max", cpuset + "/cpuset.cpus"].map { ($0, Self.read($0)) }
        let failing = try Self.rt(["update", "--memory", "80Mi", "--pids-limit", "30", "--cpuset-cpus", "8191", b.id], root: b.stateRoot)
        #expect(failing.status == 1 && failing.stderr.contains("cpuset.cpus") && (failing.stderr.contains("EINVAL") || failing.stderr.contains("ERANGE"))
                && failing.stderr.contains("put back") && failing.stderr.contains("as it was"), "\(failing.stderr)")
        for (file, value) in before { #expect(Self.read(file) == value, "\(file) is put back") }
        let after = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: b.stateRoot + "/\(b.id)/state.json"))) as? [String: Any]
        #expect((after?["updatedLimits"] as? [[String: Any]])?.count == (state?["updatedLimits"] as? [[String: Any]])?.count)
        #expect(try Self.rt(["delete", "--force", b.id], root: b.stateRoot).status == 0)
        let gone = try Self.rt(["update", "--pids-limit", "5", b.id], root: b.stateRoot)
        #expect(gone.status == 1 && gone.stderr.contains("does not exist"), "\(gone.stderr)")
    }

    /// The first whole disk of /sys/block that is not a loop or zram device ("MAJ:MIN").
    static func disk() -> (Int, Int)? {
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []).sorted()
        where !name.hasPrefix("loop") && !name.hasPrefix("zram") && !name.hasPrefix("ram") {
            let parts = (read("/sys/block/\(name)/dev") ?? "").split(separator: ":").compactMap { Int($0) }
            if parts.count == 2 { return (parts[0], parts[1]) }
        }
        return nil
    }

    /// linux.resources.hugepageLimits: written to hugetlb.2MB.limit_in_bytes (v1) or
    /// hugetlb.2MB.max (v2) where the host has a hugetlb controller; where it has none, `create`
    /// fails naming the field and the missing controller, and leaves no container behind. A
    /// page size not spelled as the kernel names it is refused by name; `update` refuses them.
    @Test func hugepageLimits() throws {
        let b = try B(args: ["/bin/sleep", "1000"]) { config in
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["hugepageLimits": [["pageSize": "2MB", "limit": 4 << 20]]]
            config["linux"] = l
        }
        defer { _ = try? Self.rt(["delete", "--force", b.id], root: b.stateRoot) }
        let pidFile = b.dir + "/pid"
        let c = try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot)
        let v1 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/hugetlb")
        let v2 = (Self.read("/sys/fs/cgroup/cgroup.controllers") ?? Self.read("/sys/fs/cgroup/unified/cgroup.controllers") ?? "").split(separator: " ").contains("hugetlb")
        if v1 || v2 {
            #expect(c.status == 0, "create: \(c.stderr)")
            let pid = try #require(Int32(Self.read(pidFile) ?? ""))
            // Every hierarchy's, the cgroup2 one (hugetlb.2MB.max) included.
            let dirs = OCIRuntimeTests.cgroupDirs(of: pid)
            let files = dirs.flatMap { [$0 + "/hugetlb.2MB.limit_in_bytes", $0 + "/hugetlb.2MB.max"] }
            #expect(files.compactMap { Self.read($0) }.contains(String(4 << 20)), "\(files)")
        } else {
            #expect(c.status == 1 && c.stderr.contains("hugepageLimits") && c.stderr.contains("no hugetlb controller"), "\(c.stderr)")
            #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot) == nil, "nothing left")
        }
        let doc = b.dir + "/resources.json"
        try Data(#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 8388608}]}"#.utf8).write(to: URL(fileURLWithPath: doc))
        let u = try Self.rt(["update", "--resources", doc, b.id], root: b.stateRoot)
        #expect(u.status == 1 && (u.stderr.contains("hugepageLimits") || u.stderr.contains("does not exist")), "\(u.stderr)")
        _ = try? Self.rt(["delete", "--force", b.id], root: b.stateRoot)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: b.dir + "/config.json"))) as! [String: Any]
        var l = config["linux"] as! [String: Any]
        l["resources"] = ["hugepageLimits": [["pageSize": "2M", "limit": 1]]]
        config["linux"] = l
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: b.dir + "/config.json"))
        let bad = try Self.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(bad.status == 1 && bad.stderr.contains("pageSize"), "\(bad.stderr)")
    }

    /// A config without device rules gets runc's default list on the devices cgroup (v1): deny
    /// all, then null, zero, full, random, urandom, tty, ptmx and pts. With CAP_MKNOD and no user
    /// namespace, mknod of a block device is refused (EPERM) and a block node of the host's disk
    /// made in the root filesystem does not open; /dev/null does.
    @Test func defaultDeviceRulesWithoutAny() throws {
        let (major, minor) = try #require(Self.disk(), "a block device to refuse")
        let script = "cat /sys/fs/cgroup/devices/devices.list > /out/devices; echo x > /dev/null && echo ok > /out/null; "
            + "mknod /dev/b0 b \(major) \(minor) 2>/out/mknod-err; echo $? > /out/mknod; "
            + "dd if=/blk of=/dev/null bs=512 count=1 2>/out/blk-err; echo $? > /out/blk; echo done > /out/done"
        let b = try B(args: ["/bin/sh", "-c", script]) { config in
            var p = config["process"] as! [String: Any]
            var caps = p["capabilities"] as! [String: Any]
            for k in ["bounding", "effective", "permitted"] { caps[k] = (caps[k] as! [String]) + ["CAP_MKNOD"] }
            p["capabilities"] = caps
            config["process"] = p
            var l = config["linux"] as! [String: Any]
            l["resources"] = [String: Any]()
            config["linux"] = l
        }
        try #require(mknod(b.dir + "/rootfs/blk", S_IFBLK | 0o600, dev_t((UInt64(minor) & 0xff) | ((UInt64(major) & 0xfff) << 8) | ((UInt64(minor) & ~0xff) << 12))) == 0, "mknod on the host: \(errno)")
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/devices") else { return } // v2: the VM lane's bh-oci-devices
        let list = (Self.read(b.out + "/devices") ?? "").split(separator: "\n").map(String.init)
        #expect(!list.contains("a *:* rwm") && list.contains("c 1:3 rwm") && list.contains("c 136:* rwm") && !list.contains { $0.hasPrefix("b ") }, "\(list)")
        #expect(Self.read(b.out + "/null") == "ok", "/dev/null opens")
        #expect(Self.read(b.out + "/mknod") != "0" && Self.read(b.out + "/mknod-err")?.contains("Operation not permitted") == true,
                "mknod of a block device: \(Self.read(b.out + "/mknod-err") ?? "nil")")
        // The root filesystem is mounted nodev, which the kernel checks first (EACCES): the
        // devices cgroup is the second wall here, the only one for mknod above.
        #expect(Self.read(b.out + "/blk") != "0", "open of the disk's node: \(Self.read(b.out + "/blk-err") ?? "nil")")
    }

    /// linux.resources.blockIO throttles (blkio.throttle.* on v1, io.max on v2) and the devices
    /// cgroup on v1: deny-all then the allow list, and the engine's own nodes after it; the
    /// workload reads /dev/zero (allowed) and cannot make a node the list leaves out (mknod of
    /// c 1:11 with CAP_MKNOD: EPERM from the devices cgroup); devices.list says so.
    @Test func blockIOAndDevicesCgroup() throws {
        let (major, minor) = try #require(Self.disk(), "a block device for the throttle")
        let b = try B(args: ["/bin/sh", "-c", "cat /sys/fs/cgroup/devices/devices.list > /out/devices; head -c 3 /dev/zero | wc -c > /out/zero; mknod /dev/k c 1 11 2>/out/k-err; echo done > /out/done"]) { config in
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["blockIO": ["throttleReadBpsDevice": [["major": major, "minor": minor, "rate": 1_048_576]],
                                          "throttleWriteIOPSDevice": [["major": major, "minor": minor, "rate": 100]]],
                              "devices": [["allow": false, "access": "rwm"], ["allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"],
                                          ["allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"]]]
            var p = config["process"] as! [String: Any]
            var caps = p["capabilities"] as! [String: Any]
            for k in ["bounding", "effective", "permitted"] { caps[k] = (caps[k] as! [String]) + ["CAP_MKNOD"] }
            p["capabilities"] = caps
            config["process"] = p
            config["linux"] = l
        }
        let pidFile = b.dir + "/pid"
        let c = try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot)
        #expect(c.status == 0, "create: \(c.stderr)")
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let dirs = OCIRuntimeTests.cgroupDirs(of: pid)
        if let blkio = dirs.first(where: { FileManager.default.fileExists(atPath: $0 + "/blkio.throttle.read_bps_device") }) {
            #expect(Self.read(blkio + "/blkio.throttle.read_bps_device") == "\(major):\(minor) 1048576")
            #expect(Self.read(blkio + "/blkio.throttle.write_iops_device") == "\(major):\(minor) 100")
        } else {
            let unified = try #require(dirs.first { FileManager.default.fileExists(atPath: $0 + "/io.max") }, "\(dirs)")
            #expect(Self.read(unified + "/io.max")?.contains("rbps=1048576") == true)
        }
        let devices = dirs.first { FileManager.default.fileExists(atPath: $0 + "/devices.list") }
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status == 0)
        for _ in 0..<500 where Self.read(b.out + "/done") == nil { usleep(10_000) }
        if devices != nil {
            let list = (Self.read(b.out + "/devices") ?? "").split(separator: "\n").map(String.init)
            #expect(!list.contains("a *:* rwm") && list.contains("c 1:3 rwm") && list.contains("c 1:5 rwm") && list.contains("c 136:* rwm"), "\(list)")
            #expect(!list.contains { $0.hasPrefix("c 1:11") }, "\(list)")
            #expect(Self.read(b.out + "/zero") == "3", "an allowed node opens")
            #expect(Self.read(b.out + "/k-err")?.contains("Operation not permitted") == true, "mknod outside the list: \(Self.read(b.out + "/k-err") ?? "nil")")
        }
        #expect(try Self.rt(["delete", "--force", b.id], root: b.stateRoot).status == 0)
    }
}
