import Testing
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// The one errno table (`Errno`), the signal names, and how each subsystem's error reads as a
/// `SystemError`: what a report's `error.errno` and a launch error's text are made of.
@Suite("errno table")
struct ErrnoTests {
    /// The Linux (x86_64, asm-generic) numbers, written out rather than taken from Glibc, so a
    /// table that pairs a name with the wrong constant fails.
    @Test(arguments: [
        (Int32(1), "EPERM"), (2, "ENOENT"), (3, "ESRCH"), (4, "EINTR"), (9, "EBADF"), (11, "EAGAIN"),
        (12, "ENOMEM"), (13, "EACCES"), (16, "EBUSY"), (17, "EEXIST"), (19, "ENODEV"), (20, "ENOTDIR"),
        (22, "EINVAL"), (24, "EMFILE"), (28, "ENOSPC"), (30, "EROFS"), (32, "EPIPE"), (38, "ENOSYS"),
        (39, "ENOTEMPTY"), (40, "ELOOP"), (95, "EOPNOTSUPP"), (101, "ENETUNREACH"), (110, "ETIMEDOUT"),
        (111, "ECONNREFUSED"), (125, "ECANCELED"),
    ])
    func namesOfLinuxNumbers(raw: Int32, name: String) throws {
        #expect(Errno(raw).name == name)
        #expect(try #require(Errno(name: name)).rawValue == raw)
    }

    @Test func everyEntryRoundTrips() {
        #expect(Errno.names.count >= 40, "the table shrank to \(Errno.names.count) names")
        // One name per number and one number per name: `Errno(name:)` is unambiguous.
        // (A list since launch-cpu, so numbers are checked here, as the dictionary literal did.)
        #expect(Set(Errno.names.map(\.1)).count == Errno.names.count)
        #expect(Set(Errno.names.map(\.0)).count == Errno.names.count)
        for (raw, name) in Errno.names {
            #expect(name.hasPrefix("E") && name.allSatisfy { $0.isUppercase || $0.isNumber }, "\(raw): \(name)")
            #expect(Errno(name: name) == Errno(raw), "\(name)")
            #expect(Errno(raw).text == String(cString: strerror(raw)))
        }
    }

    @Test func unknownNumbersAndNames() {
        #expect(Errno(4242).name == "errno 4242")
        #expect(Errno(4242).description.hasPrefix("errno 4242 ("))
        #expect(Errno(name: "EFOO") == nil)
        #expect(Errno(name: "eperm") == nil, "names are the kernel's spelling")
        #expect(Errno(name: "errno 1") == nil)
        #expect(Errno(EINVAL).description == "EINVAL (Invalid argument)")
    }

    @Test func signalNames() {
        #expect(SignalName.name(SIGTERM) == "SIGTERM")
        #expect(SignalName.name(9) == "SIGKILL")
        #expect(SignalName.name(31) == "SIGSYS")
        #expect(SignalName.name(64) == "SIG64")
        #expect(Set(SignalName.names.values).count == SignalName.names.count)
    }

    @Test func systemErrorText() {
        #expect(SystemError("open /x").description == "open /x")
        #expect(SystemError("open /x", path: "/x", errno: Errno(ENOENT)).description == "open /x: ENOENT (No such file or directory)",
                "the path is a field, not part of the text")
        #expect(SystemError("open /x", errno: Errno(EACCES), hint: "chmod o+r /x").description
                == "open /x: EACCES (Permission denied) — chmod o+r /x")
    }

    /// The subsystems' errors keep their own texts and hand the launcher the same operation,
    /// path, errno and hint as one `SystemError`.
    @Test func subsystemErrorsReadAsSystemErrors() {
        let c = CgroupError(code: .writeFailed, operation: "write memory.max", path: "/sys/fs/cgroup/x/memory.max",
                            errno: Errno(EBUSY), fix: "")
        #expect(c.description == "cannot write memory.max (/sys/fs/cgroup/x/memory.max): EBUSY (Device or resource busy)")
        let cs = c.systemError
        #expect(cs.operation == "write memory.max" && cs.path == "/sys/fs/cgroup/x/memory.max")
        #expect(cs.errno == Errno(EBUSY) && cs.hint == nil, "an empty fix is no hint")
        #expect(CgroupError(code: .invalidArgument, operation: "o", path: "p", fix: "f").systemError.hint == "f")

        let n = NetworkError(code: .netlink, operation: "create veth v0", namespace: "/run/bulkhead/netns/pod-1-2-3",
                             errno: Errno(EEXIST), detail: "File exists", fix: "delete it")
        let ns = n.systemError
        #expect(ns.operation == "create veth v0: File exists", "the kernel's extended ack stays in the operation")
        #expect(ns.path == "/run/bulkhead/netns/pod-1-2-3" && ns.errno == Errno(EEXIST) && ns.hint == "delete it")
        let bare = NetworkError(code: .invalidArgument, operation: "parse 10.0.0.300").systemError
        #expect(bare.operation == "parse 10.0.0.300" && bare.path == nil && bare.errno == nil && bare.hint == nil)

        let s = SeccompCompileError(operation: "load the filter", errno: Errno(EINVAL), message: "bad").systemError
        #expect(s.operation == "seccomp load the filter: bad" && s.errno == Errno(EINVAL))
    }
}
