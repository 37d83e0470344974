import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The container layer's attack-surface controls, asserted on /proc, mountinfo and errno.
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct SecurityControlTests {
    @Test("Capabilities: every set empty under container; --cap-add keeps exactly that one")
    func capabilities() throws {
        let r = try Bulkhead.sh("cat /proc/self/status")
        for f in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            #expect(statusField(r.stdout, f) == "0000000000000000", "\(f) in \(r.stdout)")
        }
        let k = try Bulkhead.sh("cat /proc/self/status", ["--cap-add", "NET_BIND_SERVICE"])
        #expect(statusField(k.stdout, "CapBnd") == "0000000000000400")
        #expect(statusField(k.stdout, "CapEff") == "0000000000000400")
        #expect(statusField(k.stdout, "CapInh") == "0000000000000000")
        #expect(statusField(k.stdout, "CapAmb") == "0000000000000000")
        // The control: unconfined keeps the full set, so the checks above can fail.
        let u = try Bulkhead.sh("cat /proc/self/status", ["--profile", "unconfined"])
        #expect(statusField(u.stdout, "CapEff") != "0000000000000000")
    }

    @Test("no_new_privs and seccomp mode: NoNewPrivs 1, Seccomp 2 under container; 0 and 0 under unconfined")
    func noNewPrivsAndSeccompMode() throws {
        let r = try Bulkhead.sh("cat /proc/self/status")
        #expect(statusField(r.stdout, "NoNewPrivs") == "1")
        #expect(statusField(r.stdout, "Seccomp") == "2")
        let u = try Bulkhead.sh("cat /proc/self/status", ["--profile", "unconfined"])
        #expect(statusField(u.stdout, "NoNewPrivs") == "0")
        #expect(statusField(u.stdout, "Seccomp") == "0")
    }

    /// Makes raw syscalls from python3 (ctypes) and prints "name errno" per call. Bad pointers
    /// and fds make an allowed call fail harmlessly (EFAULT/EBADF); a filtered one fails with
    /// the filter's errno.
    static let syscallProbe = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def call(name, nr, *args):
            ctypes.set_errno(0)
            r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
            print(name, 0 if r >= 0 else ctypes.get_errno())
        call("clone3", 435, 1, 88)                 # bad pointer: EFAULT if allowed
        call("mount", 165, 0, 0, 0, 0, 0)          # NULL target
        call("unshare_user", 272, 0x10000000)
        call("keyctl", 250, 0, 0, 0, 0, 0)
        call("bpf", 321, 5, 0, 0)
        call("perf_event_open", 298, 0, 0, -1, -1, 0)
        call("io_uring_setup", 425, 1, 0)
        call("getppid", 110)
        call("ioctl_tiocsti", 16, -1, 0x5412, 0)
        call("ioctl_tiocsti_high", 16, -1, 0x100005412, 0)
        call("ioctl_tcgets", 16, -1, 0x5401, 0)
        """

    @Test("Seccomp: filtered syscalls get EPERM, clone3 ENOSYS, allowed ones pass the filter")
    func seccompFilter() throws {
        let r = try Bulkhead.run(["run", "--", "python3", "-c", Self.syscallProbe])
        #expect(r.status == 0, "\(r.stderr)")
        var got: [String: Int32] = [:]
        for line in r.stdout.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2 { got[String(f[0])] = Int32(f[1]) }
        }
        #expect(got["clone3"] == ENOSYS, "glibc falls back to clone only on ENOSYS")
        for name in ["mount", "unshare_user", "keyctl", "bpf", "perf_event_open", "io_uring_setup", "ioctl_tiocsti", "ioctl_tiocsti_high"] {
            #expect(got[name] == EPERM, "\(name): \(String(describing: got[name]))")
        }
        #expect(got["getppid"] == 0)
        #expect(got["ioctl_tcgets"] == EBADF, "an allowed ioctl fails on the bad fd, not on the filter")
        // The control: without the filter the same calls get past it (EFAULT/EINVAL/EBADF...).
        let u = try Bulkhead.run(["run", "--profile", "unconfined", "--", "python3", "-c", Self.syscallProbe])
        #expect(u.stdout.contains("clone3 14"), "clone3 with a bad pointer gets EFAULT when allowed: \(u.stdout)")
        #expect(u.stdout.contains("ioctl_tiocsti 9"), "EBADF without the filter: \(u.stdout)")
    }

    @Test("tmpfs quota: writing past ephemeral-storage gives ENOSPC")
    func tmpfsQuota() throws {
        let r = try Bulkhead.sh("dd if=/dev/zero of=/tmp/fill bs=1M count=8 2>&1; df -k /tmp | tail -1", ["--ephemeral-storage", "2Mi"])
        #expect(r.stdout.contains("No space left on device"), "\(r.stdout)")
        let size = r.stdout.split(separator: "\n").last?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        #expect(size == 2048, "a 2 MiB /tmp: \(r.stdout)")
    }

    @Test("Masked and read-only paths: masks are mounts over the paths, /proc/sys is EROFS")
    func maskedAndReadOnlyPaths() throws {
        let r = try Bulkhead.sh("cat /proc/self/mountinfo; { echo x > /proc/sys/kernel/hostname; } 2>&1; { echo x > /proc/sys/vm/drop_caches; } 2>&1; cat /proc/keys | wc -c; ls /sys/firmware | wc -l; true")
        let mounts = r.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
            let f = line.split(separator: " ")
            return f.count > 5 ? (String(f[4]), String(f[5])) : nil
        }
        for path in ["/proc/keys", "/proc/timer_list", "/proc/interrupts", "/sys/firmware"] where FileManager.default.fileExists(atPath: path) {
            #expect(mounts.contains { $0.0 == path }, "\(path) is masked by a mount")
        }
        // Only paths this kernel has (e.g. /proc/sysrq-trigger needs CONFIG_MAGIC_SYSRQ).
        for path in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"] where FileManager.default.fileExists(atPath: path) {
            #expect(mounts.contains { $0.0 == path && $0.1.hasPrefix("ro") }, "\(path) is a read-only mount")
        }
        #expect(r.stdout.components(separatedBy: "Read-only file system").count - 1 == 2, "\(r.stdout)")
        #expect(r.stdout.contains("\n0\n0\n"), "masked /proc/keys and /sys/firmware read as empty")
        // The control: unconfined masks nothing.
        let u = try Bulkhead.sh("cat /proc/self/mountinfo", ["--profile", "unconfined"])
        #expect(!u.stdout.contains(" /proc/keys "))
    }

    @Test("File descriptors: only 0, 1, 2 reach the workload, plus --preserve-fd; the cwd is inside")
    func fileDescriptors() throws {
        // The launcher inherits fds 5 and 7 from its caller; only 7 is declared.
        let script = "ls /proc/self/fd | tr '\\n' ' '; echo; readlink /proc/self/cwd"
        let prefix = ["/bin/sh", "-c", "exec 5</etc/hostname 7</etc/passwd; exec \"$0\" \"$@\""]
        let r = try Bulkhead.run(["run", "--", "/bin/sh", "-c", script], prefix: prefix)
        // ls itself holds one directory fd (3) while it lists.
        let fds = r.stdout.split(separator: "\n").first?.split(separator: " ").compactMap { Int($0) } ?? []
        #expect(fds == [0, 1, 2, 3], "\(fds)")
        #expect(!fds.contains(5) && !fds.contains(7), "undeclared fds leaked: \(fds)")
        #expect(Set(fds).isSuperset(of: [0, 1, 2]))
        #expect(r.stdout.split(separator: "\n").last == "/")
        let p = try Bulkhead.run(["run", "--preserve-fd", "7", "--", "/bin/sh", "-c", script], prefix: prefix)
        let pfds = p.stdout.split(separator: "\n").first?.split(separator: " ").compactMap { Int($0) } ?? []
        #expect(pfds.contains(7) && !pfds.contains(5), "\(pfds) \(p.stderr)")
    }
}
