import BulkheadSystem
import Foundation
import Glibc
import Testing

/// A root filesystem directory instead of the host's root, and the refusal of one whose mount
/// targets are symlinks (CVE-2019-19921, CVE-2023-27561: a rootfs that redirects /proc).
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct RootfsTests {
    /// A minimal rootfs: busybox-static and the mount points bulkhead needs.
    static func makeRootfs() throws -> String {
        let root = NSTemporaryDirectory() + "bh-rootfs-\(token())"
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
        chmod(root, 0o755)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: "\(root)/bin/busybox")
        for tool in ["sh", "ls", "cat", "echo", "id", "touch", "readlink"] { symlink("busybox", "\(root)/bin/\(tool)") }
        try "rootfs-marker\n".write(toFile: "\(root)/etc/marker", atomically: true, encoding: .utf8)
        return root
    }

    @Test("A busybox rootfs runs as the sandbox's root, read-only")
    func rootfsRuns() throws {
        let root = try Self.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try Bulkhead.run(["run", "--rootfs", root, "--env", "PATH=/bin", "--", "/bin/sh", "-c", "cat /etc/marker; ls /; touch /x 2>&1; echo $$"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("rootfs-marker"))
        #expect(!r.stdout.contains("usr"), "only the rootfs is visible: \(r.stdout)")
        #expect(r.stdout.contains("Read-only file system"))
    }

    @Test("A rootfs whose /proc, /dev, /tmp or a bind target is a symlink is refused before anything runs", arguments: ["proc", "tmp", "dev", "sys"])
    func symlinkedMountTargetIsRefused(_ target: String) throws {
        let root = try Self.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let outside = NSTemporaryDirectory() + "bh-evil-\(token())"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.removeItem(atPath: "\(root)/\(target)")
        symlink(outside, "\(root)/\(target)")
        let r = try Bulkhead.run(["run", "--rootfs", root, "--env", "PATH=/bin", "--", "/bin/echo", "RAN"])
        #expect(r.status == 125, "\(r.stderr)")
        #expect(r.stderr.contains("ELOOP") && r.stderr.contains("symlink"), "\(r.stderr)")
        #expect(!r.stdout.contains("RAN"))
        #expect(FileIO.listDirectory(outside).isEmpty, "nothing was mounted or written through the link")
    }
}
