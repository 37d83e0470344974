import BulkheadModel
import Foundation
import Glibc
import Testing

/// bulkhead-runc without root skips `linux.resources.devices` where the user cannot apply them,
/// as runc's rootless mode does (session 9, oci-podman). `OCIUserNamespaceTests` covers the
/// case with no cgroup of its own; these cover the two with one, on a cgroup delegated to
/// `nobody` here (a directory chowned to it, the runtime started inside it):
/// - a v1 devices cgroup: writing devices.deny/allow needs CAP_SYS_ADMIN of the host's user
///   namespace (EPERM as nobody), so the rules are skipped and the container still runs in it;
/// - a cgroup2 leaf: loading a BPF_PROG_TYPE_CGROUP_DEVICE program needs CAP_BPF/CAP_SYS_ADMIN
///   (the kernel answers EPERM), so the attach's EPERM/EACCES is taken as "skip".
/// In both the container's mknod still fails (its user namespace) and /dev/null works. With the
/// skip removed (v1: the rules written for a rootless caller too; v2: the EPERM catch gone),
/// `create` fails and so do these tests.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIRootlessDeviceRulesTests {
    typealias Bundle = OCIRuntimeTests.Bundle

    /// A cgroup of `hierarchy` (a directory below /sys/fs/cgroup) delegated to nobody: the
    /// directory and its membership files chowned, as systemd's Delegate=yes does.
    final class Delegated {
        let dir: String
        init(_ hierarchy: String) throws {
            dir = hierarchy + "/bh-dl-\(token())"
            #expect(mkdir(dir, 0o755) == 0, "mkdir \(dir): \(errno)")
            for f in ["", "/cgroup.procs", "/tasks", "/cgroup.subtree_control", "/cgroup.threads"] where access(dir + f, F_OK) == 0 {
                chown(dir + f, 65534, 65534)
            }
        }
        deinit {
            // delete --force removed the container's leaf; bulkhead's directories the runtime made remain.
            for d in [dir + "/bulkhead/oci", dir + "/bulkhead", dir] { rmdir(d) }
        }
    }

    /// `bulkhead-runc ARGS` as nobody, started inside `cgroup` (root moves the shell there, then
    /// setpriv drops to nobody), with nobody's own state directory.
    static func asNobody(_ args: [String], _ rt: OCIUserNamespaceTests.NobodyRuntime, in cgroup: Delegated) throws -> Bulkhead.Result {
        let script = "echo $$ > \(cgroup.dir)/cgroup.procs && exec /usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups \"$0\" \"$@\""
        return try OCIRuntimeTests.rt(args, root: rt.state, binary: "/bin/sh", prefix: ["-c", script, rt.dir + "/bulkhead-runc"])
    }

    /// podman's device list (deny all, then the default device set), a rootless config.
    static func bundle() throws -> Bundle {
        let devices: [[String: Any]] = [["allow": false, "access": "rwm"]]
            + [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)].map { ["allow": true, "type": "c", "major": $0.0, "minor": $0.1, "access": "rwm"] }
        let script = "busybox mknod /out/zero2 c 1 5 2> /out/mknod; echo $? > /out/mknodrc; echo ok > /dev/null && echo nullok > /out/null; echo ran > /out/ran"
        return try Bundle(args: ["/bin/sh", "-c", script],
                          edit: OCIUserNamespaceTests.rootless(resources: ["devices": devices], capabilities: ["CAP_MKNOD", "CAP_CHOWN", "CAP_DAC_OVERRIDE"]))
    }

    static func runSkipped(hierarchy: String, cgroupLine: (String) -> Bool) throws {
        guard FileManager.default.fileExists(atPath: hierarchy) else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "\(hierarchy) is absent on this host")
            return
        }
        let rt = try OCIUserNamespaceTests.NobodyRuntime()
        let cg = try Delegated(hierarchy)
        let b = try bundle()
        let id = "c" + token()
        let pidFile = b.out + "/init.pid"
        let c = try asNobody(["create", "--bundle", b.dir, "--pid-file", pidFile, id], rt, in: cg)
        #expect(c.status == 0, "create with podman's device list in a delegated cgroup: \(c.stderr)")
        guard c.status == 0 else { return }
        let leaf = cg.dir + "/bulkhead/oci/" + id
        #expect(FileManager.default.fileExists(atPath: leaf), "the container has a cgroup of its own at \(leaf)")
        // Seen from the host (the workload's own view is its cgroup namespace's root).
        let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        let hostView = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
        let rel = String(cg.dir.split(separator: "/").last!) + "/bulkhead/oci/" + id
        #expect(pid > 0 && hostView.split(separator: "\n").contains { cgroupLine(String($0)) && $0.hasSuffix(rel) }, "the init is in the delegated leaf: \(hostView)")
        #expect(try asNobody(["start", id], rt, in: cg).status == 0)
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: b.out + "/ran") { usleep(25_000) }
        let read = { (f: String) in OCIUserNamespaceTests.NobodyRuntime.read(b, f) }
        #expect(read("ran") == "ran")
        #expect(read("null") == "nullok")
        #expect(!read("mknodrc").isEmpty && read("mknodrc") != "0" && read("mknod").contains("ermitted"), "mknod refused: \(read("mknod"))")
        let d = try asNobody(["delete", "--force", id], rt, in: cg)
        #expect(d.status == 0, "\(d.stderr)")
        #expect(!FileManager.default.fileExists(atPath: leaf), "delete removed the leaf")
    }

    /// A delegated v1 devices cgroup: the rules are not written (EPERM for nobody), the
    /// container runs in its own devices leaf.
    @Test func v1DevicesCgroupSkipsTheRules() throws {
        try Self.runSkipped(hierarchy: "/sys/fs/cgroup/devices") { $0.contains(":devices:") }
    }

    /// A delegated cgroup2 subtree (hybrid host: /sys/fs/cgroup/unified): the device program's
    /// load is refused to nobody (EPERM) and skipped; the container runs in its cgroup2 leaf.
    @Test func cgroup2DeviceProgramRefusedIsSkipped() throws {
        let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup"
        try Self.runSkipped(hierarchy: unified) { $0.hasPrefix("0::") }
    }
}
