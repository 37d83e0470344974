import BulkheadConfig
import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team of `bulkhead-runc` (issue 13): attacks by the image author and the workload on the
/// real kernel, each against a copy of the runtime so that a successful attack harms nothing.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamOCIRuntimeTests {
    /// An ELF interpreter of the image's own (no libc, raw syscalls): the kernel runs it for a
    /// dynamically linked binary, so whatever binary the workload execs, this code runs with
    /// that binary as /proc/self/exe. It keeps a descriptor of /proc/self/exe as fd 3, then
    /// execs a busybox shell (`$ATTACK`, given in the environment) that waits until the runtime's
    /// binary is no longer text-busy and runs /wr, which reopens fd 3 for writing.
    static let interpreter = #"""
    #include <sys/syscall.h>
    #include <fcntl.h>
    static long sc(long n, long a, long b, long c) {
        long r;
        __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
        return r;
    }
    void _start(void) {
        long fd = sc(SYS_open, (long)"/proc/self/exe", O_RDONLY, 0);
        long lf = sc(SYS_open, (long)"/out/log", O_WRONLY | O_CREAT | O_APPEND, 0644);
        sc(SYS_write, lf, (long)"interp ran\n", 11);
        if (fd != 3) sc(SYS_dup2, fd, 3, 0);
        const char *argv[] = {"sh", "-c", "busybox readlink /proc/self/fd/3 >> /out/log; . /attack", 0};
        const char *envp[] = {"PATH=/bin", 0};
        sc(SYS_execve, (long)"/bin/busybox", (long)argv, (long)envp);
        sc(SYS_exit, 1, 0, 0);
    }
    """#

    /// The writer: reopens fd 3 (the runtime's binary as the interpreter found it) for writing
    /// and says how far it got, with the errno.
    static let writer = #"""
    #include <errno.h>
    #include <fcntl.h>
    #include <stdio.h>
    #include <unistd.h>
    int main(void) {
        int fd = open("/proc/self/fd/3", O_WRONLY | O_APPEND);
        if (fd < 0) { printf("open-errno=%d\n", errno); return 0; }
        if (write(fd, "PWNED", 5) != 5) { printf("write-errno=%d\n", errno); return 0; }
        printf("wrote\n");
        return 0;
    }
    """#

    /// CVE-2019-5736: the image's /bin/sh is a symlink to /proc/self/exe and its ELF interpreter
    /// is the attacker's. A process the runtime puts in the container is a clone of the runtime
    /// (`create`: the init; `exec`: the joiner), so the workload's execve of /bin/sh runs the
    /// runtime's binary with the image's interpreter, which keeps a descriptor of it; once
    /// the binary is no longer text-busy (create: the init killed, no pid namespace; exec
    /// --detach: the runtime has exited) the descriptor is reopened for writing, and the runtime
    /// on the host would be overwritten for the next container. The runtime runs from a
    /// read-only overlayfs view of its binary (open: EROFS) or, where the kernel cannot make
    /// one, from a sealed memfd copy (write: EPERM), never from the writable file.
    ///
    /// "ro-overlay": the binary is installed on an overlayfs with a writable upper layer whose
    /// mount is read-only (a `--read-only` container's rootfs, an admin's `remount,ro`). It is
    /// not a view no one can write: the mount can be made writable again, and a descriptor the
    /// workload holds then writes the binary. The runtime must not take it for its own sealed
    /// view; the attack remounts it read-write once `create` returned.
    ///
    /// `create-memfd`, `exec-memfd`: the same attacks with the runtime under a seccomp filter
    /// (`noOverlayView`) that makes the view's fsmount fail with ENOSYS, as on a kernel without
    /// it: the runtime falls back to the sealed memfd copy, the container still runs, and the
    /// workload's descriptor is that memfd, whose writes fail with EPERM. Without the filter
    /// (`create`, `exec`) the descriptor is the view's, never a memfd: the filter is what
    /// forces the fallback.
    @Test(arguments: ["create", "exec", "ro-overlay", "create-memfd", "exec-memfd"])
    func workloadCannotOverwriteTheRuntimeBinary(via given: String) throws {
        #if arch(x86_64)
        let memfd = given.hasSuffix("-memfd")
        let via = memfd ? String(given.dropLast("-memfd".count)) : given
        let b = try OCIRuntimeTests.Bundle(args: via != "exec" ? ["/bin/sh"] : ["/bin/busybox", "sleep", "100"]) { config in
            guard via != "exec" else { return }
            var linux = config["linux"] as! [String: Any]
            linux["namespaces"] = (linux["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "pid" }
            config["linux"] = linux
        }
        let work = b.dir + "-rt"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try Self.interpreter.write(toFile: work + "/interp.c", atomically: true, encoding: .utf8)
        try Self.writer.write(toFile: work + "/wr.c", atomically: true, encoding: .utf8)
        for (flags, src, dst) in [(["-nostdlib", "-static-pie", "-fPIE", "-O1", "-fno-stack-protector"], "/interp.c", work + "/interp"),
                                  (["-static", "-O1"], "/wr.c", b.dir + "/rootfs/wr")] {
            let cc = Process()
            cc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
            cc.arguments = flags + ["-o", dst, work + src]
            try cc.run()
            cc.waitUntilExit()
            try #require(cc.terminationStatus == 0, "gcc builds \(src)")
        }
        // create: kill the init (the shell's parent) so that nothing runs the binary any more;
        // exec --detach: the runtime is gone once exec returns.
        let attack = via != "exec"
            ? "P=$PPID; (busybox sleep 1; busybox kill -9 $P; busybox sleep 1; /wr >> /out/log) & busybox sleep 5\n"
            : "busybox sleep 2; /wr >> /out/log\n"
        try attack.write(toFile: b.dir + "/rootfs/attack", atomically: true, encoding: .utf8)
        let fm = FileManager.default
        try fm.createDirectory(atPath: b.dir + "/rootfs/lib64", withIntermediateDirectories: true)
        try fm.copyItem(atPath: work + "/interp", toPath: b.dir + "/rootfs/lib64/ld-linux-x86-64.so.2")
        try fm.removeItem(atPath: b.dir + "/rootfs/bin/sh")
        try fm.createSymbolicLink(atPath: b.dir + "/rootfs/bin/sh", withDestinationPath: "/proc/self/exe")
        // The runtime the attack aims at: a copy, root's, 0755, as an installed one is.
        var binary = work + "/bulkhead-runc"
        try fm.copyItem(atPath: OCIRuntimeTests.runtime, toPath: binary)
        chmod(binary, 0o755)
        let before = try Data(contentsOf: URL(fileURLWithPath: binary))
        let merged = work + "/merged"
        // Before the mount: a failed step below must not leave it behind.
        defer { if via == "ro-overlay" { _ = Self.mount(["-l", merged], program: "/bin/umount") } }
        if via == "ro-overlay" {
            for d in ["lower", "upper", "ovwork", "merged"] { try fm.createDirectory(atPath: work + "/" + d, withIntermediateDirectories: true) }
            try fm.moveItem(atPath: binary, toPath: work + "/lower/bulkhead-runc")
            try #require(Self.mount(["-t", "overlay", "overlay", "-o", "lowerdir=\(work)/lower,upperdir=\(work)/upper,workdir=\(work)/ovwork", merged]) == 0, "mount the overlay")
            try #require(Self.mount(["-o", "remount,bind,ro", merged]) == 0, "make its mount read-only")
            binary = merged + "/bulkhead-runc"
        }

        // Every command of the memfd cases runs under the filter (create and exec re-execute).
        let runner = memfd ? "/usr/bin/python3" : binary
        let prefix = memfd ? ["-c", Self.noOverlayView, binary] : []
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot, binary: runner, prefix: prefix)
        try #require(c.status == 0, "create: \(c.stderr)")
        if via == "ro-overlay" { try #require(Self.mount(["-o", "remount,bind,rw", merged]) == 0, "make the mount writable again") }
        #expect(try OCIRuntimeTests.rt(["start", b.id], root: b.stateRoot, binary: runner, prefix: prefix).status == 0)
        if via == "exec" {
            let e = try OCIRuntimeTests.rt(["exec", "--detach", b.id, "/bin/sh"], root: b.stateRoot, binary: runner, prefix: prefix)
            try #require(e.status == 0, "exec: \(e.stderr)")
        }
        let log = b.out + "/log"
        for _ in 0..<1000 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.contains("wrote") || text.contains("-errno=") { break }
            usleep(10_000)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        // The attack ran (not vacuous): the image's interpreter held the runtime's binary.
        #expect(text.contains("interp ran"), "log: \(text)")
        #expect(!text.contains("wrote"), "the workload wrote to the runtime's binary; log: \(text)")
        // Refused by the kernel for the reason the protection gives: EROFS (30) opening the
        // overlayfs view for writing, or EPERM (1) writing the sealed memfd copy.
        #expect(text.contains("open-errno=\(EROFS)") || text.contains("write-errno=\(EPERM)"), "log: \(text)")
        if memfd {
            // The fallback ran: the descriptor is the sealed memfd copy, and writing it fails.
            #expect(text.contains("/memfd:bulkhead-runc") && text.contains("write-errno=\(EPERM)"), "log: \(text)")
        } else if via != "ro-overlay", Self.kernelAtLeast(6, 8) {
            // Where the kernel makes the view (overlayfs "lowerdir+", 6.8): the view, not the fallback.
            #expect(!text.contains("memfd:") && text.contains("open-errno=\(EROFS)"), "the view, not the fallback, without the filter; log: \(text)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: binary)) == before, "the runtime's binary on the host is unchanged")
        #endif
    }

    /// A wrapper (`python3 -c noOverlayView RUNTIME ARGS...`) that execs the runtime under a
    /// seccomp filter built here: fsmount(ctx, FSMOUNT_CLOEXEC, RDONLY|NOSUID|NODEV), the call
    /// that makes the runtime's read-only overlayfs view of its binary (bh_self_clone.h), fails
    /// with ENOSYS, as on a kernel without it; every other call is allowed (the engine's own
    /// mounts use other attributes). Root needs no no_new_privs for it (CAP_SYS_ADMIN).
    static let noOverlayView = """
        import ctypes, os, struct, sys
        def ins(code, jt, jf, k): return struct.pack("HBBI", code, jt, jf, k)
        LD, JEQ, RET = 0x20, 0x15, 0x06
        prog = [ins(LD, 0, 0, 4), ins(JEQ, 0, 7, 0xC000003E),   # x86_64, else allow
                ins(LD, 0, 0, 0), ins(JEQ, 0, 5, 432),           # fsmount
                ins(LD, 0, 0, 24), ins(JEQ, 0, 3, 1),            # flags FSMOUNT_CLOEXEC
                ins(LD, 0, 0, 32), ins(JEQ, 0, 1, 7),            # MOUNT_ATTR_RDONLY|NOSUID|NODEV
                ins(RET, 0, 0, 0x00050000 | 38),                 # ENOSYS
                ins(RET, 0, 0, 0x7FFF0000)]                      # allow
        buf = ctypes.create_string_buffer(b"".join(prog))
        class Fprog(ctypes.Structure): _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        fp = Fprog(len(prog), ctypes.addressof(buf))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(22, 2, ctypes.byref(fp), 0, 0) != 0:
            sys.exit("prctl(PR_SET_SECCOMP): errno %d" % ctypes.get_errno())
        os.execv(sys.argv[1], sys.argv[1:])
        """

    /// Whether the running kernel is at least `major.minor` (uname's release).
    static func kernelAtLeast(_ major: Int, _ minor: Int) -> Bool {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return parts[0] > major || (parts[0] == major && parts[1] >= minor)
    }

    /// Runs mount(8) (or `program`) with `args`; its exit status.
    static func mount(_ args: [String], program: String = "/bin/mount") -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// A container id that would name a path outside --root ("./../x": the lock file is
    /// ROOT/.ID.lock, so "/." + "./.." climbs out) or is not an id at all: every command refuses
    /// it before it makes anything, in --root or elsewhere (runc: "invalid container ID format").
    @Test func idThatEscapesTheRootMakesNothing() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"])
        let base = b.dir + "-ids"
        let root = base + "/a/b/state"
        try FileManager.default.createDirectory(atPath: base + "/a/b", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        for id in ["./../../escaped", "./../escaped", "../escaped", "a/b", "\u{e9}", "a b", ".", ".."] {
            for args in [["create", "--bundle", b.dir, id], ["start", id], ["delete", "--force", id], ["kill", id, "KILL"], ["state", id]] {
                let r = try OCIRuntimeTests.rt(args, root: root)
                #expect(r.status != 0, "\(args)")
            }
        }
        // "./../escaped" would be a/escaped.lock, "./../../escaped" escaped.lock.
        #expect(!FileManager.default.fileExists(atPath: base + "/escaped.lock"), "root made a file outside --root")
        #expect(!FileManager.default.fileExists(atPath: base + "/a/escaped.lock"), "root made a file outside --root")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        #expect(left.isEmpty, "refused ids leave nothing in --root: \(left)")
        // A valid id that does not exist: refused (delete --force succeeds), nothing left either.
        for args in [["start", "nosuch"], ["delete", "nosuch"], ["kill", "nosuch", "KILL"], ["state", "nosuch"]] {
            #expect(try OCIRuntimeTests.rt(args, root: root).status != 0, "\(args)")
        }
        #expect(try OCIRuntimeTests.rt(["delete", "--force", "nosuch"], root: root).status == 0)
        let after = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        #expect(after.isEmpty, "commands on a missing container leave nothing in --root: \(after)")
    }

    /// The image author ships a device node (the host's /dev/zero, 1:5) and a setuid-root
    /// program: the rootfs is mounted nodev and nosuid, so the node cannot be opened and the
    /// program runs with the workload's uid (65534), with no_new_privs off so nosuid alone holds.
    @Test func imageDeviceNodesAndSetuidProgramsAreInert() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/sh", "-c", "head -c 1 /zero >/dev/null 2>&1 && echo dev-opened > /out/log || echo dev-refused > /out/log; /euid >> /out/log"]) { config in
            var process = config["process"] as! [String: Any]
            process["user"] = ["uid": 65534, "gid": 65534]
            process["noNewPrivileges"] = false
            config["process"] = process
        }
        for a in ["head"] { try FileManager.default.createSymbolicLink(atPath: b.dir + "/rootfs/bin/" + a, withDestinationPath: "busybox") }
        #expect(mknod(b.dir + "/rootfs/zero", S_IFCHR | 0o666, dev_t((1 << 8) | 5)) == 0, "mknod the image's device node")
        let work = b.dir + "-rt"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try "#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf(\"euid=%d\\n\", (int)geteuid()); return 0; }\n"
            .write(toFile: work + "/euid.c", atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        cc.arguments = ["-static", "-O1", "-o", b.dir + "/rootfs/euid", work + "/euid.c"]
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0, "gcc builds the setuid program")
        chown(b.dir + "/rootfs/euid", 0, 0)
        chmod(b.dir + "/rootfs/euid", 0o4755)
        let r = try OCIRuntimeTests.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        let text = (try? String(contentsOfFile: b.out + "/log", encoding: .utf8)) ?? ""
        #expect(text == "dev-refused\neuid=65534\n", "log: \(text)")
    }

    /// linux.namespaces paths that are not a network namespace file of the caller's choosing:
    /// a regular file, a magic link (/proc/1/ns/net), another type (/proc/1/ns/mnt, and
    /// joining a mount namespace at all). Each is refused by `create`, and nothing is left.
    @Test(arguments: ["regular", "/proc/1/ns/net", "/proc/self/ns/net", "/proc/1/ns/mnt"])
    func namespacePathsThatAreNotANetnsAreRefused(path: String) throws {
        var file = path
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"]) { config in
            var linux = config["linux"] as! [String: Any]
            linux["namespaces"] = (linux["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "network" } + [["type": "network", "path": "PLACEHOLDER"]]
            config["linux"] = linux
        }
        if path == "regular" {
            file = b.dir + "/netns"
            FileManager.default.createFile(atPath: file, contents: Data())
        }
        let text = try String(contentsOfFile: b.dir + "/config.json", encoding: .utf8).replacingOccurrences(of: "PLACEHOLDER", with: file)
        try text.write(toFile: b.dir + "/config.json", atomically: true, encoding: .utf8)
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(c.status != 0, "\(file)")
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/bulkhead/oci/\(b.id)") && !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/bulkhead/oci/\(b.id)"))
        // And as a mount namespace: joining one is refused when parsed.
        let mnt = text.replacingOccurrences(of: #"{"type":"mount"}"#, with: "").replacingOccurrences(of: #""type":"network","path""#, with: #""type":"mount","path""#)
        try mnt.write(toFile: b.dir + "/config.json", atomically: true, encoding: .utf8)
        #expect(try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot).status != 0)
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id))
    }

    /// Ids runc accepts that named runtime files: ".c1.lock" was the lock file of "c1", so
    /// creating it first hid a container from `list` (dot names were skipped) and made every
    /// later `create c1` fail (EISDIR). Both are created, both are listed, delete leaves nothing.
    @Test func idsCannotHideOrBlockAnotherContainer() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"])
        let lockID = ".\(b.id).lock"
        defer { _ = try? OCIRuntimeTests.rt(["delete", "--force", lockID], root: b.stateRoot) }
        let first = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, lockID], root: b.stateRoot)
        #expect(first.status == 0, "create \(lockID): \(first.stderr)")
        let second = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(second.status == 0, "create \(b.id): \(second.stderr)")
        let list = try OCIRuntimeTests.rt(["list", "--format", "json"], root: b.stateRoot)
        let ids = ((try? JSONSerialization.jsonObject(with: Data(list.stdout.utf8))) as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ids.sorted() == [lockID, b.id], "list: \(list.stdout)")
        for id in [b.id, lockID] { #expect(try OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot).status == 0) }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: b.stateRoot)) ?? []
        #expect(left.isEmpty, "delete leaves nothing in --root: \(left)")
    }

    /// CVE-2024-21626 by the image: process.cwd is "/w", and the image's /w is a symlink to
    /// /proc/self/fd/5. The working directory is opened without magic links, so the workload
    /// never runs there (held: exit status not 0, the marker is not written), and `run` says
    /// why on stderr: the working directory step and its errno, as `bulkhead run` does (the
    /// init reports a step after `start` through the exec fifo).
    @Test func imageCwdSymlinkToAMagicLinkIsRefused() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/sh", "-c", "touch /out/ran"]) { config in
            var process = config["process"] as! [String: Any]
            process["cwd"] = "/w"
            config["process"] = process
        }
        try FileManager.default.createSymbolicLink(atPath: b.dir + "/rootfs/w", withDestinationPath: "/proc/self/fd/5")
        let r = try OCIRuntimeTests.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status != 0)
        #expect(!FileManager.default.fileExists(atPath: b.out + "/ran"), "the workload ran in a directory outside the root")
        // ENOENT: fd 5 is closed by then (fd hygiene); an open one would be refused with ELOOP.
        #expect(r.stderr.contains("chdir /w") && (r.stderr.contains("ENOENT") || r.stderr.contains("ELOOP")), "stderr: \(r.stderr)")
    }

    /// A local user plants --root before root uses it (a shared directory): a symlink to a
    /// directory of theirs, a directory they own, a directory anyone can write. Every command
    /// refuses it, and nothing is written through it.
    @Test(arguments: ["symlink", "owned", "writable"])
    func plantedStateRootIsRefused(kind: String) throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"])
        let base = b.dir + "-planted"
        let theirs = base + "/theirs"
        let root = base + "/root"
        try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        chown(theirs, 65534, 65534)
        switch kind {
        case "symlink": try FileManager.default.createSymbolicLink(atPath: root, withDestinationPath: theirs)
        case "owned": try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false); chown(root, 65534, 65534); chmod(root, 0o700)
        default: try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false); chmod(root, 0o777)
        }
        for args in [["create", "--bundle", b.dir, b.id], ["start", b.id], ["delete", "--force", b.id], ["list"]] {
            let r = try OCIRuntimeTests.rt(args, root: root)
            #expect(r.status != 0, "\(kind) \(args)")
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: theirs)) ?? ["?"]).isEmpty, "nothing written through the symlink")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).isEmpty, "nothing written in the planted root")
    }
}

/// A hostile config.json's linux.sysctl: a namespaced sysctl is the host's when the container
/// has no namespace of that kind (or joins the runtime's own), and must then be refused.
@Suite struct RedTeamOCISysctlTests {
    static func config(namespaces: String, sysctl: String) -> String {
        """
        {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
         "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
         "linux": {"namespaces": [\(namespaces)], "sysctl": {\(sysctl)}}}
        """
    }

    @Test(arguments: [
        (#"{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}"#, #""net.ipv4.ip_forward": "1""#),
        (#"{"type": "pid"}, {"type": "mount"}, {"type": "network"}"#, #""kernel.shmmni": "8""#),
        (#"{"type": "pid"}, {"type": "mount"}, {"type": "network"}"#, #""fs.mqueue.msg_max": "8""#),
    ])
    func namespacedSysctlWithoutItsNamespaceIsRefused(namespaces: String, sysctl: String) {
        #expect(throws: ConfigError.self) { try OCIConfig.decode(Self.config(namespaces: namespaces, sysctl: sysctl), bundle: "/b") }
    }

    @Test func namespacedSysctlWithItsNamespaceIsKept() throws {
        let c = try OCIConfig.decode(Self.config(namespaces: #"{"type": "mount"}, {"type": "network"}, {"type": "ipc"}"#,
                                                 sysctl: #""net.ipv4.ip_forward": "1", "kernel.shmmni": "8""#), bundle: "/b")
        #expect(c.sysctls.count == 2)
    }

    /// linux.namespaces joins the host's network namespace (which is the runtime's own), bound
    /// to a file as `ip netns` and podman do, and sets a net.* sysctl: `create` refuses before
    /// the init exists. The value is the host's current one, so that a runtime without the
    /// check changes nothing on the host. (/proc/PID/ns/net itself is a magic link: refused.)
    @Test(.enabled(if: Gate.root, Gate.rootReason)) func netSysctlInTheHostsJoinedNetnsIsRefused() throws {
        let current = try String(contentsOfFile: "/proc/sys/net/ipv4/ping_group_range", encoding: .utf8)
            .split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" }).joined(separator: " ")
        let netns = NSTemporaryDirectory() + "bh-rt-netns-\(token())"
        try #require(FileManager.default.createFile(atPath: netns, contents: nil))
        try #require(mount("/proc/self/ns/net", netns, nil, UInt(MS_BIND), nil) == 0, "bind the host's netns: \(errno)")
        defer { umount2(netns, Int32(MNT_DETACH)); unlink(netns) }
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"]) { config in
            var linux = config["linux"] as! [String: Any]
            linux["namespaces"] = (linux["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "network" } + [["type": "network", "path": netns]]
            linux["sysctl"] = ["net.ipv4.ping_group_range": current]
            config["linux"] = linux
        }
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(c.status != 0)
        #expect(c.stderr.contains("host's network namespace"), "\(c.stderr)")
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id), "nothing of the refused create is left")
    }
}
