#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BulkheadModel
import CShims

/// `linux.resources.devices` on cgroup v2: attaches the device program OCIDeviceProgram built
/// to a container's cgroup2 leaf (bpf BPF_PROG_LOAD then BPF_PROG_ATTACH with
/// BPF_F_ALLOW_MULTI, in CShims/cgroup_device_bpf.c). The cgroup holds the program; removing the
/// cgroup (`delete`) removes it.
public enum CgroupDeviceProgram {
    static let cgroup2Magic: Int = 0x6367_7270 // CGROUP2_SUPER_MAGIC

    /// The cgroup2 directory among `directories` (the container's leaves), nil on a host whose
    /// leaves are all v1.
    public static func cgroup2Leaf(_ directories: [String]) -> String? {
        directories.first { d in
            let fd = open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var type: Int = 0
            return bh_fstatfs_type(fd, &type) == 0 && type == cgroup2Magic
        }
    }

    /// Loads `program` and attaches it to the cgroup2 directory `directory` (a leaf the runtime
    /// made: opened without following a symlink, checked to be a cgroup2 directory).
    public static func attach(_ program: [BPFInstruction], to directory: String) throws(SystemError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open the container's cgroup \(directory) for the device program", errno: .current) }
        defer { close(fd) }
        var type: Int = 0
        guard bh_fstatfs_type(fd, &type) == 0 else { throw SystemError("fstatfs the container's cgroup \(directory)", errno: .current) }
        guard type == cgroup2Magic else {
            throw SystemError("the container's cgroup \(directory) is not on cgroup2: no device program attached", errno: Errno(EINVAL))
        }
        let insns = program.map { bh_bpf_insn(code: $0.code, regs: ($0.dst & 0x0F) | (($0.src & 0x0F) << 4), off: $0.off, imm: $0.imm) }
        var step: UnsafePointer<CChar>?
        var log = [CChar](repeating: 0, count: 1 << 14)
        let err = insns.withUnsafeBufferPointer { b in
            bh_cgroup_device_attach(fd, b.baseAddress, UInt32(b.count), &step, &log, UInt32(log.count))
        }
        guard err == 0 else {
            let verifier = String(decoding: log.prefix { $0 != 0 }.suffix(400).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let hint: String
            switch err {
            case EPERM: hint = "loading and attaching a cgroup device program needs root (CAP_SYS_ADMIN, or CAP_BPF and CAP_NET_ADMIN)"
            case EINVAL where verifier.isEmpty: hint = "the kernel lacks cgroup device programs (CONFIG_CGROUP_BPF, Linux 4.15 or later): run the container on a kernel with them"
            default: hint = verifier.isEmpty ? "check that the kernel has CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF" : "the verifier said: \(verifier)"
            }
            throw SystemError(step.map { String(cString: $0) } ?? "attach the device program", errno: Errno(err), hint: hint)
        }
    }
}
