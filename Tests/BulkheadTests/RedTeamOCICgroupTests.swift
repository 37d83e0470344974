import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team (session 7) against bulkhead-runc's cgroup side on the real kernel: a hostile
/// workload with the config's cgroup mount, and tasks in cgroups below the container's.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamOCICgroupTests {
    typealias B = OCIRuntimeTests.Bundle
    static func rt(_ args: [String], root: String) throws -> Bulkhead.Result { try OCIRuntimeTests.rt(args, root: root) }
    static func read(_ path: String) -> String? { OCICgroupTests.read(path) }

    /// A workload given a "rw" cgroup mount tries to raise its own limits (memory, pids) through
    /// the files of its own cgroup, which is the root of what it sees. Nothing of the kernel stops
    /// a uid-0 workload on cgroup v1 (no nsdelegate there) or outside a cgroup namespace of its
    /// own: its limits would be whatever it wrote. The limits it reads back are the config's, or
    /// `create` refused the mount naming "rw" and the fix.
    @Test(arguments: [true, false])
    func readWriteCgroupMountCannotRaiseItsOwnLimits(cgroupNamespace: Bool) throws {
        let raise = """
        for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/unified/memory.max; do
          [ -e $f ] && echo 1073741824 > $f; done 2>/dev/null
        for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/unified/pids.max; do [ -e $f ] && echo max > $f; done 2>/dev/null
        cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /out/mem 2>/dev/null || cat /sys/fs/cgroup/unified/memory.max > /out/mem
        cat /sys/fs/cgroup/pids/pids.max > /out/pids 2>/dev/null || cat /sys/fs/cgroup/unified/pids.max > /out/pids
        true
        """
        let b = try B(args: ["/bin/sh", "-c", raise]) {
            OCICgroupTests.limited(&$0, cgroupNamespace: cgroupNamespace, options: ["nosuid", "noexec", "nodev", "rw"])
        }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        if r.status == 0 {
            #expect(Self.read(b.out + "/mem") == String(48 << 20), "the workload raised its memory limit")
            #expect(Self.read(b.out + "/pids") == "33", "the workload raised its pids limit")
        } else {
            #expect(r.stderr.contains("mounts[type=cgroup]") && r.stderr.contains("\"rw\""), "refused, naming the option: \(r.stderr)")
            #expect(Self.read(b.out + "/mem") == nil, "refused before the workload ran")
        }
        // On this machine's cgroup v1 (or hybrid) hierarchies nothing protects the limits: refused.
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes") {
            #expect(r.status != 0, "a rw cgroup mount of a v1 hierarchy is refused")
        }
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot) == nil, "nothing left")
    }

    /// Tasks in a cgroup below the container's (one the container made with a "rw" cgroup mount,
    /// on a host where that is allowed, or that any other path put there): `ps` lists them,
    /// `kill --all` signals them, and `delete --force` of a container without a PID namespace
    /// (no kernel kills them with the init) kills them and removes the cgroups, leaving nothing.
    @Test func deleteKillsTasksInCgroupsBelowTheContainers() throws {
        let b = try B(args: ["/bin/sh", "-c", "sleep 1000 & echo $! > /out/child; exec sleep 1000"]) { config in
            var l = config["linux"] as! [String: Any]
            l["namespaces"] = (l["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "pid" }
            config["linux"] = l
        }
        let pidFile = b.dir + "/pid"
        #expect(try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot).status == 0)
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        // Every hierarchy's, the unified one ("0::/...") included.
        let dirs = (Self.read("/proc/\(pid)/cgroup") ?? "").split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[2].contains("/bulkhead/oci/") else { return nil }
            return "/sys/fs/cgroup/\(parts[1].isEmpty ? "unified" : parts[1])\(parts[2])"
        }
        #expect(dirs.contains { $0.hasPrefix("/sys/fs/cgroup/unified/") } || !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified"), "\(dirs)")
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status == 0)
        for _ in 0..<500 where Self.read(b.out + "/child") == nil { usleep(10_000) }
        let child = try #require(Int32(Self.read(b.out + "/child") ?? ""), "the workload's child")
        defer { kill(child, SIGKILL) }
        // The child moves below the container's cgroup in every hierarchy.
        for d in dirs {
            try FileManager.default.createDirectory(atPath: d + "/sub", withIntermediateDirectories: false)
            if FileManager.default.fileExists(atPath: d + "/cpuset.cpus") {
                for f in ["cpuset.cpus", "cpuset.mems"] { try (Self.read(d + "/" + f) ?? "").write(toFile: d + "/sub/" + f, atomically: false, encoding: .utf8) }
            }
            try "\(child)".write(toFile: d + "/sub/cgroup.procs", atomically: false, encoding: .utf8)
        }
        let ps = try Self.rt(["ps", "--format", "json", b.id], root: b.stateRoot)
        #expect(ps.stdout.contains("\(child)"), "ps lists the task below: \(ps.stdout)")
        let d = try Self.rt(["delete", "--force", b.id], root: b.stateRoot)
        #expect(d.status == 0, "delete --force: \(d.stderr)")
        for _ in 0..<200 where kill(child, 0) == 0 && !(Self.read("/proc/\(child)/stat") ?? "").contains(") Z") { usleep(10_000) }
        #expect(kill(child, 0) != 0 || (Self.read("/proc/\(child)/stat") ?? "").contains(") Z"), "the task below the container's cgroup is killed")
        for dir in dirs { #expect(!FileManager.default.fileExists(atPath: dir), "\(dir) removed") }
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot) == nil)
        // Whatever the outcome, nothing of the test stays.
        kill(child, SIGKILL)
        for _ in 0..<100 where kill(child, 0) == 0 { usleep(10_000) }
        for dir in dirs { rmdir(dir + "/sub"); rmdir(dir) }
    }
}

/// Red team (session 7): `update` of a container whose `bulkhead.dev/profile` bounded its limits.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamOCIUpdateTests {
    /// The built-in `container` profile bounds memory (1 GiB), pids (1024) and CPU (1): an
    /// `update` asking for more is refused naming the annotation, and the live cgroup keeps the
    /// profile's bound; one within it is written.
    @Test func updateStaysWithinTheProfileAnnotation() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/sh", "-c", "exec sleep 1000"]) { config in
            config["annotations"] = ["bulkhead.dev/profile": "container"]
        }
        let pidFile = b.dir + "/pid"
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot)
        #expect(c.status == 0, "create: \(c.stderr)")
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let pids = try #require(OCIRuntimeTests.cgroupDirs(of: pid).first { $0.contains("/pids/") }, "a pids cgroup")
        #expect(OCICgroupTests.read(pids + "/pids.max") == "1024")
        for flags in [["--pids-limit", "5000"], ["--memory", "4Gi"], ["--cpu-quota", "400000", "--cpu-period", "100000"]] {
            let u = try OCIRuntimeTests.rt(["update"] + flags + [b.id], root: b.stateRoot)
            #expect(u.status != 0 && u.stderr.contains("bulkhead.dev/profile"), "\(flags): \(u.stderr)")
        }
        #expect(OCICgroupTests.read(pids + "/pids.max") == "1024", "the profile's bound stays")
        // Memory plus swap: the profile limits memory and allows no swap (create bounded it);
        // memory within the profile with swap on top is refused, and memory is not written.
        let memory = try #require(OCIRuntimeTests.cgroupDirs(of: pid).first { FileManager.default.fileExists(atPath: $0 + "/memory.limit_in_bytes") })
        let memBefore = OCICgroupTests.read(memory + "/memory.limit_in_bytes")
        let swap = try OCIRuntimeTests.rt(["update", "--memory", "512Mi", "--memory-swap", "2Gi", b.id], root: b.stateRoot)
        #expect(swap.status != 0 && swap.stderr.contains("bulkhead.dev/profile") && swap.stderr.contains("swap"), "\(swap.stderr)")
        #expect(OCICgroupTests.read(memory + "/memory.limit_in_bytes") == memBefore)
        // A size the rules refuse is named with the rule's words, not a Swift value's dump.
        let bad = try OCIRuntimeTests.rt(["update", "--memory", "4g", b.id], root: b.stateRoot)
        #expect(bad.status != 0 && bad.stderr.contains("--memory") && !bad.stderr.contains("Refusal("), "\(bad.stderr)")
        let within = try OCIRuntimeTests.rt(["update", "--pids-limit", "500", b.id], root: b.stateRoot)
        #expect(within.status == 0, "\(within.stderr)")
        #expect(OCICgroupTests.read(pids + "/pids.max") == "500")
    }

    /// The ceiling is the profile as it was at `create` (kept in the state), not the profile
    /// read again at `update`: a profile edited (or replaced) between create and update to
    /// allow more raises nothing, whoever may edit it.
    @Test func updateBoundIsTheProfileAsCreated() throws {
        let header = OCIProfileAnnotationTests.header("bound")
        let dir = try OCIProfileAnnotationTests.ProfileDir(["bound.yaml": header + "resources:\n  limits: {memory: 64Mi, pids: 40}\n"])
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/sh", "-c", "exec sleep 1000"]) { config in
            config["annotations"] = ["bulkhead.dev/profile": "bound"]
        }
        // Unique: the cgroup bulkhead/oci/ID is the host's, shared with every test run here.
        let id = "bound-" + token()
        defer { _ = try? OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot) }
        let pidFile = b.dir + "/pid"
        let env = ["BULKHEAD_PROFILE_PATH": dir.path]
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, id], root: b.stateRoot, env: env)
        try #require(c.status == 0, "create: \(c.stderr)")
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let pids = try #require(OCIRuntimeTests.cgroupDirs(of: pid).first { $0.contains("/pids/") }, "a pids cgroup")
        #expect(OCICgroupTests.read(pids + "/pids.max") == "40")
        // The profile now allows far more; an update that the edited profile would allow is
        // refused by the bound kept at create, and the live cgroup keeps it.
        try (header + "resources:\n  limits: {memory: 4Gi, pids: 5000}\n").write(toFile: dir.path + "/bound.yaml", atomically: false, encoding: .utf8)
        for flags in [["--pids-limit", "4000"], ["--memory", "1Gi"]] {
            let u = try OCIRuntimeTests.rt(["update"] + flags + [id], root: b.stateRoot, env: env)
            #expect(u.status != 0 && u.stderr.contains("bulkhead.dev/profile"), "\(flags): \(u.stderr)")
        }
        #expect(OCICgroupTests.read(pids + "/pids.max") == "40", "the bound kept at create holds")
        // Within the kept bound: written, whatever the profile says now.
        let within = try OCIRuntimeTests.rt(["update", "--pids-limit", "30", id], root: b.stateRoot, env: env)
        #expect(within.status == 0, "\(within.stderr)")
        #expect(OCICgroupTests.read(pids + "/pids.max") == "30")
    }
}
