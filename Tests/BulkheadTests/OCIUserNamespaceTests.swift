import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// `linux.uidMappings`/`gidMappings` with a user namespace on the real kernel, as root (a host
/// range, through the id-map code of `bulkhead run`) and as an ordinary user (`nobody`, as
/// rootless podman would call the runtime): what works, and what is refused naming what is
/// missing.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIUserNamespaceTests {
    typealias Bundle = OCIRuntimeTests.Bundle

    static func userNamespace(uid: [[String: Any]], gid: [[String: Any]]) -> (inout [String: Any]) -> Void {
        { config in
            var l = config["linux"] as! [String: Any]
            l["namespaces"] = (l["namespaces"] as! [[String: Any]]) + [["type": "user"]]
            l["uidMappings"] = uid
            l["gidMappings"] = gid
            config["linux"] = l
        }
    }

    static func range(_ host: Int, _ size: Int) -> [[String: Any]] { [["containerID": 0, "hostID": host, "size": size]] }

    @Test func rootMapsTheConfigsRange() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "cat /proc/self/uid_map > /out/uid_map; cat /proc/self/gid_map > /out/gid_map"],
                           edit: Self.userNamespace(uid: Self.range(3_000_000_000, 65536), gid: Self.range(3_000_000_000, 65536)))
        let id = "c" + token()
        let r = try OCIRuntimeTests.rt(["run", "--bundle", b.dir, id], root: b.stateRoot)
        #expect(r.status == 0, "\(r.stderr)")
        let words = { (f: String) in ((try? String(contentsOfFile: b.out + "/" + f, encoding: .utf8)) ?? "").split(separator: " ").map(String.init) }
        #expect(words("uid_map").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } == ["0", "3000000000", "65536"])
        #expect(words("gid_map").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } == ["0", "3000000000", "65536"])
    }

    /// Three ranges of uids (containerID 0, 1..999 and 1000..66535 on three host ranges, in
    /// another order on the host than inside) and two of gids, as the kernel shows them to the
    /// container in /proc/self/uid_map and gid_map; a file the container creates as uid 1500
    /// is the host's uid of that id under the second range.
    @Test func rootMapsSeveralRanges() throws {
        let uid: [[String: Any]] = [["containerID": 0, "hostID": 3_000_200_000, "size": 1],
                                    ["containerID": 1, "hostID": 3_000_100_000, "size": 999],
                                    ["containerID": 1000, "hostID": 3_000_000_000, "size": 65536]]
        let gid: [[String: Any]] = [["containerID": 0, "hostID": 3_100_000_000, "size": 1000],
                                    ["containerID": 1000, "hostID": 3_100_100_000, "size": 65536]]
        let b = try Bundle(args: ["/bin/sh", "-c", "cat /proc/self/uid_map > /out/uid_map; cat /proc/self/gid_map > /out/gid_map"],
                           edit: Self.userNamespace(uid: uid, gid: gid))
        let id = "c" + token()
        let r = try OCIRuntimeTests.rt(["run", "--bundle", b.dir, id], root: b.stateRoot)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = { (f: String) in
            ((try? String(contentsOfFile: b.out + "/" + f, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        }
        #expect(lines("uid_map") == [["0", "3000200000", "1"], ["1", "3000100000", "999"], ["1000", "3000000000", "65536"]], "\(lines("uid_map"))")
        #expect(lines("gid_map") == [["0", "3100000000", "1000"], ["1000", "3100100000", "65536"]], "\(lines("gid_map"))")
    }

    /// `bulkhead.dev/profile` naming a profile with `userNamespace.hostIDRange`: the config's
    /// author owns that range only. Maps inside it run; one line outside it, or no user
    /// namespace at all (the container would run on the host's own ids), is refused at create,
    /// naming the line or the annotation, with nothing left.
    @Test func aProfilesRangeBoundsTheConfigsMaps() throws {
        let dir = try OCIProfileAnnotationTests.ProfileDir([
            "tenant.yaml": OCIProfileAnnotationTests.header("tenant") + "userNamespace: {hostIDRange: \"3000000000:131072\"}\n",
        ])
        let env = ["BULKHEAD_PROFILE_PATH": dir.path]
        func edit(_ uid: [[String: Any]]?) -> (inout [String: Any]) -> Void {
            { config in
                if let uid { Self.userNamespace(uid: uid, gid: Self.range(3_000_000_000, 65536))(&config) }
                config["annotations"] = ["bulkhead.dev/profile": "tenant"]
            }
        }
        let inside = Self.range(3_000_000_000, 1) + [["containerID": 1, "hostID": 3_000_065_536, "size": 65536]]
        let ok = try Bundle(args: ["/bin/sh", "-c", "cat /proc/self/uid_map > /out/uid_map"], edit: edit(inside))
        let r = try OCIRuntimeTests.rt(["run", "--bundle", ok.dir, "c" + token()], root: ok.stateRoot, env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(((try? String(contentsOfFile: ok.out + "/uid_map", encoding: .utf8)) ?? "").split(separator: "\n").count == 2)
        let outside = Self.range(3_000_000_000, 1) + [["containerID": 1, "hostID": 3_000_131_000, "size": 1000]]
        for (uid, words) in [(outside, "linux.uidMappings[1]: host ids 3000131000:1000 are outside 3000000000:131072"),
                             (nil, "annotations.\"bulkhead.dev/profile\": the profile's userNamespace.hostIDRange 3000000000:131072 bounds")] as [([[String: Any]]?, String)] {
            let b = try Bundle(args: ["/bin/true"], edit: edit(uid))
            let id = "c" + token()
            let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot, env: env)
            if c.status == 0 { _ = try OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot, env: env) }
            #expect(c.status == 1 && c.stderr.contains(words), "\(c.stderr)")
            #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + id))
        }
    }

    /// What root may not map: the host's own accounts (root included), the owner band, uids
    /// and gids on different ranges. Each fails create naming the field; nothing is left.
    @Test func rootRefusesWhatItMayNotMap() throws {
        for (uid, gid, field) in [(Self.range(0, 65536), Self.range(0, 65536), "linux.uidMappings"),
                                  (Self.range(1000, 1), Self.range(1000, 1), "linux.uidMappings"),
                                  (Self.range(4_200_000_000, 65536), Self.range(4_200_000_000, 65536), "linux.uidMappings"),
                                  // One line of several on the host's own accounts.
                                  (Self.range(3_000_000_000, 1) + [["containerID": 1, "hostID": 1000, "size": 1]], Self.range(3_000_000_000, 65536), "linux.uidMappings[1]"),
                                  // Overlap on the host side, and on the container side.
                                  (Self.range(3_000_000_000, 65536), Self.range(3_000_000_000, 10) + [["containerID": 10, "hostID": 3_000_000_005, "size": 10]], "linux.gidMappings"),
                                  (Self.range(3_000_000_000, 10) + [["containerID": 5, "hostID": 3_100_000_000, "size": 10]], Self.range(3_000_000_000, 65536), "linux.uidMappings"),
                                  // containerID + size past the last id (checked, not wrapped).
                                  (Self.range(3_000_000_000, 10) + [["containerID": 4_294_967_290, "hostID": 3_100_000_000, "size": 10]], Self.range(3_000_000_000, 65536), "linux.uidMappings")] {
            let b = try Bundle(args: ["/bin/true"], edit: Self.userNamespace(uid: uid, gid: gid))
            let id = "c" + token()
            let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot)
            if r.status == 0 { _ = try OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot) }
            #expect(r.status == 1 && (r.stderr.contains(field + ":") || r.stderr.contains(field + "[")), "\(uid) \(gid): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + id))
        }
    }

    /// bulkhead-runc run as `nobody` (setpriv), as rootless podman calls the runtime: a copy of
    /// the binary nobody can execute, and a state directory `--root` of nobody's own.
    final class NobodyRuntime {
        let dir: String
        var state: String { dir + "/state" }
        init() throws {
            dir = NSTemporaryDirectory() + "bh-oci-rl-\(token())"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o755)
            try FileManager.default.copyItem(atPath: OCIRuntimeTests.runtime, toPath: dir + "/bulkhead-runc")
            mkdir(dir + "/state", 0o700)
            chown(dir + "/state", 65534, 65534)
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ args: [String]) throws -> Bulkhead.Result {
            try OCIRuntimeTests.rt(args, root: state, env: [:], binary: "/usr/bin/setpriv",
                                   prefix: ["--reuid", "65534", "--regid", "65534", "--clear-groups", dir + "/bulkhead-runc"])
        }
        /// create (expected to succeed: `what` says why), start, wait for the workload's
        /// /out/ran, delete --force.
        func createStartDelete(_ b: OCIRuntimeTests.Bundle, id: String, _ what: String) throws {
            let c = try run(["create", "--bundle", b.dir, id])
            #expect(c.status == 0, "\(what): \(c.stderr)")
            guard c.status == 0 else { return }
            let s = try run(["start", id])
            #expect(s.status == 0, "\(s.stderr)")
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: b.out + "/ran") { usleep(25_000) }
            let d = try run(["delete", "--force", id])
            #expect(d.status == 0, "\(d.stderr)")
        }
        /// A file the workload wrote to /out, trimmed; empty when absent.
        static func read(_ b: OCIRuntimeTests.Bundle, _ f: String) -> String {
            ((try? String(contentsOfFile: b.out + "/" + f, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// What `runc spec --rootless` changes: the caller's own ids (nobody's), no gid= on
    /// devpts, no cgroup mount; then `resources` and `capabilities` as given.
    static func rootless(resources: [String: Any]?, capabilities: [String]? = nil) -> (inout [String: Any]) -> Void {
        { config in
            userNamespace(uid: range(65534, 1), gid: range(65534, 1))(&config)
            config["mounts"] = (config["mounts"] as! [[String: Any]]).compactMap { m -> [String: Any]? in
                guard m["type"] as? String != "cgroup" else { return nil }
                var m = m
                m["options"] = (m["options"] as? [String])?.filter { !$0.hasPrefix("gid=") }
                return m
            }
            if let caps = capabilities {
                var p = config["process"] as! [String: Any]
                p["capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
                config["process"] = p
            }
            var l = config["linux"] as! [String: Any]
            l["resources"] = resources
            config["linux"] = l
        }
    }

    /// As `nobody`, as rootless podman calls the runtime (here through setpriv, the state
    /// directory `--root` nobody's own): mapping more than its own ids is refused naming
    /// newuidmap. A config mapping only its own ids and setting no resources is created,
    /// started and deleted without a cgroup of its own (this host delegates none to nobody), as
    /// runc rootless runs it: the workload ran as the namespace's root on nobody's host id, in
    /// a user namespace that is not the host's. The same config with a pids limit is refused at
    /// create, naming the cgroup, the errno and the fix; nothing is left.
    @Test func rootlessCreateStartDelete() throws {
        let nobody = try NobodyRuntime()
        let state = nobody.state
        func asNobody(_ args: [String]) throws -> Bulkhead.Result { try nobody.run(args) }
        let wide = try Bundle(args: ["/bin/true"], edit: Self.userNamespace(uid: Self.range(100_000, 65536), gid: Self.range(100_000, 65536)))
        let w = try asNobody(["create", "--bundle", wide.dir, "c" + token()])
        #expect(w.status == 1 && w.stderr.contains("linux.uidMappings") && w.stderr.contains("newuidmap"), "\(w.stderr)")

        // No resources (nothing to enforce them with), then a pids limit.
        func rootless(pids: Int?) -> (inout [String: Any]) -> Void { Self.rootless(resources: pids.map { ["pids": ["limit": $0]] }) }
        let script = "cat /proc/self/uid_map > /out/uid_map; readlink /proc/self/ns/user > /out/userns; cat /proc/self/cgroup > /out/cgroup; echo ran > /out/ran"
        let b = try Bundle(args: ["/bin/sh", "-c", script], edit: rootless(pids: nil))
        let id = "c" + token()
        try nobody.createStartDelete(b, id: id, "create without a delegated cgroup and without resources")
        let read = { (f: String) in NobodyRuntime.read(b, f) }
        #expect(read("ran") == "ran")
        #expect(read("uid_map").split(separator: " ").map(String.init) == ["0", "65534", "1"], "\(read("uid_map"))")
        let hostNS = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")) ?? ""
        #expect(read("userns").hasPrefix("user:[") && read("userns") != hostNS, "\(read("userns")) vs the host's \(hostNS)")
        #expect(!FileManager.default.fileExists(atPath: state + "/" + id), "delete removed its state")

        let limited = try Bundle(args: ["/bin/true"], edit: rootless(pids: 50))
        let lid = "c" + token()
        let r = try asNobody(["create", "--bundle", limited.dir, lid])
        if r.status == 0 { _ = try asNobody(["delete", "--force", lid]) }
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("cgroup") && r.stderr.contains("linux.resources") && r.stderr.contains("Delegate=yes"), "names the cgroup and the fix: \(r.stderr)")
        #expect(["EACCES", "EPERM", "EROFS"].contains { r.stderr.contains($0) }, "names the errno: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state + "/" + lid))
    }

    /// Rootless podman sends a `linux.resources.devices` list (deny all, then the defaults' allow
    /// rules) with every container, also where nothing is delegated to the user. Without root
    /// the rules are skipped where they cannot be applied, as runc's rootless mode does (a
    /// failed create before): the container runs without a cgroup of its own, and what the rules
    /// would refuse is refused by the user namespace anyway: mknod of a device fails (EPERM),
    /// while the engine's /dev/null works. Resources other than devices are still refused.
    @Test func rootlessDeviceRulesAsPodmanSendsThem() throws {
        let nobody = try NobodyRuntime()
        let state = nobody.state
        func asNobody(_ args: [String]) throws -> Bulkhead.Result { try nobody.run(args) }
        // podman's list: deny all, then the default device set's allow rules.
        let devices: [[String: Any]] = [["allow": false, "access": "rwm"]]
            + [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)].map { ["allow": true, "type": "c", "major": $0.0, "minor": $0.1, "access": "rwm"] }
        func rootless(_ resources: [String: Any]) -> (inout [String: Any]) -> Void {
            Self.rootless(resources: resources, capabilities: ["CAP_MKNOD", "CAP_CHOWN", "CAP_DAC_OVERRIDE"])
        }
        let script = "busybox mknod /out/zero2 c 1 5 2> /out/mknod; echo $? > /out/mknodrc; echo ok > /dev/null && echo nullok > /out/null; echo ran > /out/ran"
        let b = try Bundle(args: ["/bin/sh", "-c", script], edit: rootless(["devices": devices]))
        let id = "c" + token()
        try nobody.createStartDelete(b, id: id, "create with podman's device list, no delegated cgroup")
        let read = { (f: String) in NobodyRuntime.read(b, f) }
        #expect(read("ran") == "ran")
        #expect(read("null") == "nullok")
        #expect(!read("mknodrc").isEmpty && read("mknodrc") != "0", "mknod of a device in the user namespace fails: \(read("mknod"))")
        #expect(read("mknod").contains("ermitted"), "\(read("mknod"))")
        #expect(!FileManager.default.fileExists(atPath: state + "/" + id))

        // Devices and a pids limit: the limit still needs a cgroup, refused as before.
        let limited = try Bundle(args: ["/bin/true"], edit: rootless(["devices": devices, "pids": ["limit": 50]]))
        let lid = "c" + token()
        let r = try asNobody(["create", "--bundle", limited.dir, lid])
        if r.status == 0 { _ = try asNobody(["delete", "--force", lid]) }
        #expect(r.status == 1 && r.stderr.contains("linux.resources") && r.stderr.contains("Delegate=yes"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state + "/" + lid))
    }

    /// Rootless podman calls its runtime as uid 0 of a user namespace of its own, which is not
    /// the host's root: refused by name before root's checks of what that namespace shows (on
    /// the code before, `list` listed the host's state root and `state` named only the id),
    /// naming what is missing and what to do.
    /// `features` and `spec` need no root and still answer.
    @Test func uidZeroOfAUserNamespaceIsRefusedByName() throws {
        #expect(UserNamespaceProbe.isInitial(uidMap: "         0          0 4294967295\n"))
        #expect(!UserNamespaceProbe.isInitial(uidMap: "         0          0          1\n"))
        #expect(!UserNamespaceProbe.isInitial(uidMap: "0 0 4294967295\n0 0 1\n"))
        #expect(!UserNamespaceProbe.isInitial(uidMap: ""))
        #expect(UserNamespaceProbe.currentIsInitial() == true, "the test runs in the host's user namespace")
        let b = try Bundle(args: ["/bin/true"])
        let id = "c" + token()
        let inUserNS = ["--user", "--map-root-user", OCIRuntimeTests.runtime]
        for args in [["state", id], ["list"], ["delete", id], ["kill", id, "KILL"]] {
            let r = try OCIRuntimeTests.rt(args, root: b.stateRoot, binary: "/usr/bin/unshare", prefix: inUserNS)
            #expect(r.status == 1 && r.stderr.contains("uid 0 of a user namespace that is not the host's"), "\(args[0]): \(r.status) \(r.stderr)")
            // What is missing, and what to do instead.
            for words in ["what is missing is checking the state root, the bundle, cgroups and id maps", "Run the engine as root",
                          "as an ordinary user in the host's user namespace", "keep runc or crun for rootless podman"] {
                #expect(r.stderr.contains(words), "\(args[0]): names \"\(words)\": \(r.stderr)")
            }
        }
        let f = try OCIRuntimeTests.rt(["features"], root: b.stateRoot, binary: "/usr/bin/unshare", prefix: inUserNS)
        #expect(f.status == 0 && f.stdout.contains("ociVersionMin"), "\(f.stderr)")
        // The host's root is not refused: its `list` answers.
        let h = try OCIRuntimeTests.rt(["list"], root: b.stateRoot)
        #expect(h.status == 0 && !h.stderr.contains("user namespace"), "\(h.stderr)")
    }
}
