import Foundation
import Glibc
import Testing
import BulkheadSystem

/// Each namespace of the container layer, checked from inside against the host.
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct NamespaceTests {
    @Test("PID namespace: the workload is PID 2 under bulkhead's init, and no host process is visible")
    func pidNamespace() throws {
        let me = getpid()
        let r = try Bulkhead.sh("echo self=$$; cat /proc/1/comm; ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; test -e /proc/\(me) && echo HOSTPID-VISIBLE; true")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("self=2"))
        #expect(r.stdout.contains("bulkhead"), "PID 1 is bulkhead's init: \(r.stdout)")
        #expect(!r.stdout.contains("HOSTPID-VISIBLE"))
        let pids = r.stdout.split(separator: "\n").last?.split(separator: " ").compactMap { Int($0) } ?? []
        // The list is the sandbox's own: the init (1) and the shell (2) are in it, nothing else
        // but the pipeline's few, so an empty or unreadable /proc cannot pass.
        #expect(pids.contains(1) && pids.contains(2), "the init and the shell are listed: \(pids)")
        #expect(pids.count <= 8 && pids.allSatisfy { $0 < 50 }, "only the sandbox's own few processes: \(pids)")
    }

    @Test("Mount namespace: a mount made inside is invisible outside; the root is read-only")
    func mountNamespace() throws {
        let marker = token()
        // The unconfined profile keeps CAP_SYS_ADMIN in the user namespace, so it may mount.
        let r = try Bulkhead.sh("mount -t tmpfs \(marker) /mnt && grep -c \(marker) /proc/self/mountinfo; sleep 0.2; touch /usr/\(marker) 2>&1; true",
                                ["--profile", "unconfined"])
        #expect(r.stdout.hasPrefix("1"), "\(r.stdout) \(r.stderr)")
        #expect(!(FileIO.read("/proc/self/mountinfo")?.contains(marker) ?? true))
        let ro = try Bulkhead.sh("touch /usr/\(marker) 2>&1; echo > /etc/\(marker) 2>&1; true")
        #expect(ro.stdout.contains("Read-only file system"), "\(ro.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "/usr/\(marker)"))
        let info = try Bulkhead.sh("cat /proc/self/mountinfo")
        let rootLine = info.stdout.split(separator: "\n").first { $0.split(separator: " ")[4] == "/" }
        #expect(rootLine?.split(separator: " ")[5].hasPrefix("ro") == true, "root mount options: \(rootLine ?? "none")")
    }

    @Test("UTS namespace: the sandbox's hostname is its own")
    func utsNamespace() throws {
        let host = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)
        let r = try Bulkhead.sh("hostname", ["--hostname", "probe-host"])
        #expect(r.stdout == "probe-host\n")
        let d = try Bulkhead.sh("hostname")
        #expect(d.stdout == "sandbox\n")
        #expect(try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8) == host)
    }

    @Test("IPC namespace: a host SysV shared memory segment is not visible inside")
    func ipcNamespace() throws {
        let key = Int32.random(in: 0x1000_0000...0x7fff_0000)
        let id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0o600)
        try #require(id >= 0, "shmget failed: \(errno)")
        defer { shmctl(id, IPC_RMID, nil) }
        let hostHas = FileIO.read("/proc/sysvipc/shm")?.contains(String(key)) ?? false
        #expect(hostHas, "the host sees its own segment (the check below would prove nothing otherwise)")
        let r = try Bulkhead.sh("cat /proc/sysvipc/shm; readlink /proc/self/ns/ipc")
        // The sandbox did read the table (its header) and its namespace: an empty output, which
        // shows no segment either, fails.
        #expect(r.status == 0 && r.stdout.contains("key") && r.stdout.contains("shmid"), "the sandbox's shm table: \(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains(String(key)), "\(r.stdout)")
        let hostNS = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/ipc")
        let sandboxNS = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(sandboxNS.hasPrefix("ipc:[") && sandboxNS != hostNS, "sandbox \(sandboxNS), host \(hostNS)")
    }

    @Test("Network namespace: only lo, and it is up; the host's loopback services are unreachable")
    func networkNamespace() throws {
        // A listener on the host's loopback: from inside, 127.0.0.1 is the sandbox's own lo.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        try #require(bound)
        let port = UInt16(bigEndian: addr.sin_port)
        let r = try Bulkhead.sh("""
            cat /proc/net/dev | awk -F: 'NR>2 {print $1}' | tr -d ' '; cat /sys/class/net/lo/flags
            python3 -c 'import socket,sys
            s=socket.socket(); s.settimeout(2)
            try:
                s.connect(("127.0.0.1", \(port))); print("CONNECTED")
            except OSError as e: print("refused", e.errno)'
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first == "lo", "only loopback: \(r.stdout)")
        #expect(lines.count > 1 && (Int(lines[1].dropFirst(2), radix: 16) ?? 0) & 1 == 1, "lo is IFF_UP: \(r.stdout)")
        #expect(r.stdout.contains("refused 111"), "ECONNREFUSED from the sandbox's own loopback: \(r.stdout)")
        #expect(!r.stdout.contains("CONNECTED"))
    }

    @Test("User namespace: uid 0 inside is the first id of the unprivileged host range; no host account is mapped")
    func userNamespace() throws {
        let r = try Bulkhead.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /etc/passwd")
        let fields = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(fields.count == 4)
        #expect(fields[0] == ["0", "2000000000", "65536"], "\(r.stdout)")
        #expect(fields[1] == ["0", "2000000000", "65536"])
        #expect(fields[2] == ["0"])
        #expect(fields[3] == ["65534"], "host root's files belong to the overflow uid inside")
    }

    @Test("Time namespace: off by default, its own when the profile switches it on")
    func timeNamespace() throws {
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/time")
        let path = NSTemporaryDirectory() + "bh-timens-\(token()).yaml"
        try "extends: container\nnamespaces:\n  time: true\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let on = try Bulkhead.sh("readlink /proc/self/ns/time", ["--profile", path])
        #expect(on.status == 0, "\(on.stderr)")
        #expect(on.stdout.hasPrefix("time:[") && !on.stdout.contains(host), "\(on.stdout) vs host \(host)")
        let off = try Bulkhead.sh("readlink /proc/self/ns/time")
        #expect(off.stdout.contains(host), "the default shares the host's clocks: \(off.stdout)")
    }
}
