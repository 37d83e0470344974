import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import CShims
import CShimsTesting
import Glibc
import Testing

private let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)  // Tests/BulkheadTests/<file>
    return parts.joined(separator: "/")
}()

private func readText(_ path: String) throws -> String {
    struct Missing: Error { var path: String }
    guard let f = fopen(path, "rb") else { throw Missing(path: path) }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n == 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

private func containerPolicy() throws -> SeccompPolicy {
    let path = repositoryRoot + "/Profiles/seccomp/container.json"
    return try SeccompPolicyParser.parse(text: try readText(path), file: path, context: SeccompContext())
}

private func nr(_ name: String) -> Int {
    Int(SyscallTable.number(of: name, on: .x86_64)!)
}

/// The outcome of one system call made in a child under `program`: "ok", an errno, or a signal.
private enum Outcome: Equatable, CustomStringConvertible {
    case ok
    case errno(Int32)
    case signal(Int32)

    var description: String {
        switch self {
        case .ok: return "success"
        case .errno(let e): return "errno \(e) (\(String(cString: strerror(e))))"
        case .signal(let s): return "killed by signal \(s)"
        }
    }
}

private func probe(_ program: [UInt8], _ name: String, _ args: UInt64...) throws -> Outcome {
    struct ProbeFailed: Error, CustomStringConvertible {
        var rc: Int32
        var errno: Int32
        var description: String { "the probe could not run: rc \(rc), errno \(errno)" }
    }
    var a = args
    a += Array(repeating: 0, count: 6 - a.count)
    var e: Int32 = 0
    var sig: Int32 = 0
    let rc = program.withUnsafeBufferPointer {
        bh_seccomp_probe_in_child($0.baseAddress!, $0.count, nr(name), a[0], a[1], a[2], a[3], a[4], a[5], &e, &sig)
    }
    guard rc == 0 else { throw ProbeFailed(rc: rc, errno: e) }
    if sig != 0 { return .signal(sig) }
    return e == 0 ? .ok : .errno(e)
}

private let TIOCSTI: UInt64 = 0x5412
private let TIOCLINUX: UInt64 = 0x541C
private let TCGETS: UInt64 = 0x5401
private let CLONE_NEWUSER: UInt64 = 0x1000_0000
private let SIGCHLD: UInt64 = 17
private let badFD = UInt64(bitPattern: -1)

@Suite struct SeccompCompilerTests {
    @Test func compilesTheContainerProfile() throws {
        let program = try SeccompCompiler.compile(try containerPolicy())
        #expect(!program.isEmpty)
        #expect(program.count % 8 == 0)
        #expect(program.count / 8 < 4096)  // BPF_MAXINSNS
        let pfc = try SeccompCompiler.pfc(try containerPolicy())
        #expect(pfc.contains("ioctl"))
        #expect(pfc.contains("if ($arch == 3221225534)"))  // AUDIT_ARCH_X86_64
        #expect(pfc.contains("if ($arch == 1073741827)"))  // AUDIT_ARCH_I386
        // Identical input, identical program (the cache a later issue adds relies on it).
        #expect(try SeccompCompiler.compile(try containerPolicy()) == program)
    }

    @Test func syscallTableAgreesWithLibseccomp() {
        for arch in SyscallTable.architecturesWithNumbers {
            let token = SeccompCompiler.token(of: arch)!
            var compared = 0
            for name in SyscallTable.allNames {
                let lib = bh_seccomp_resolve_name(token, name)
                guard lib >= 0 else { continue }  // unknown to libseccomp, or absent there
                #expect(SyscallTable.number(of: name, on: arch) == lib, "\(name) on \(arch)")
                compared += 1
            }
            #expect(compared > 300, "\(arch)")
        }
        // What bulkhead knows beyond libseccomp 2.5 is exactly the list it publishes.
        var major: UInt32 = 0, minor: UInt32 = 0, micro: UInt32 = 0
        bh_seccomp_library_version(&major, &minor, &micro)
        if (major, minor) == (2, 5) {
            let x86_64 = SeccompCompiler.token(of: .x86_64)!
            let unknown = SyscallTable.allNames.filter {
                SyscallTable.number(of: $0, on: .x86_64) != nil && bh_seccomp_resolve_name(x86_64, $0) == Int32.min
            }
            #expect(Set(unknown).isSubset(of: SyscallTable.namesUnknownToLibseccomp2_5))
        }
    }

    @Test func rejectsWhatLibseccompWouldSilentlyChange() {
        let shadowed = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, rules: [
            SeccompRule(names: ["ioctl"], action: .errno, errnoRet: 1,
                        args: [SeccompArgCondition(index: 1, value: 0xFFFF_FFFF, valueTwo: TIOCSTI, op: .maskedEqual)]),
            SeccompRule(names: ["ioctl"], action: .allow),
        ])
        do {
            _ = try SeccompCompiler.compile(shadowed)
            Issue.record("expected a validation error")
        } catch {
            #expect(error.operation == "validate")
            #expect(error.message.contains("would never apply"))
        }
        #expect(throws: SeccompCompileError.self) {
            try SeccompCompiler.compile(SeccompPolicy(defaultAction: .allow, architectures: [.riscv64]))
        }
    }

    /// libseccomp 2.5 cannot place calls newer than Linux 6.6 on x86 and x32; with an EPERM
    /// default they fall to the default there (stricter), and are still allowed on x86_64.
    @Test func namesUnknownToLibseccompAreReported() throws {
        let missing = try SeccompCompiler.unplaceable(try containerPolicy())
        var major: UInt32 = 0, minor: UInt32 = 0, micro: UInt32 = 0
        bh_seccomp_library_version(&major, &minor, &micro)
        if (major, minor) == (2, 5) {
            #expect(missing.contains { $0.0 == .x86 && $0.1 == "mseal" })
            #expect(!missing.contains { $0.0 == .x86_64 })
        }
        // A refusing rule the foreign architecture cannot take, under an allowing default: error.
        let weak = SeccompPolicy(defaultAction: .allow, architectures: [.x86_64, .x86], rules: [
            SeccompRule(names: ["mseal"], action: .errno, errnoRet: 1)
        ])
        if (major, minor) == (2, 5) {
            #expect(throws: SeccompCompileError.self) { try SeccompCompiler.compile(weak) }
        }
    }

    // MARK: Enforcement in a real child process

    /// Each probe under the container profile, and under a permissive filter where it must get
    /// past seccomp (otherwise the refusal would prove nothing).
    @Test func containerProfileIsEnforcedByTheKernel() throws {
        let strict = try SeccompCompiler.compile(try containerPolicy())
        let permissive = try SeccompCompiler.compile(SeccompPolicy(defaultAction: .allow))
        let EPERM = Outcome.errno(Glibc.EPERM)

        #expect(try probe(strict, "getppid") == .ok)
        #expect(try probe(strict, "mount") == EPERM)
        #expect(try probe(permissive, "mount") != EPERM)
        #expect(try probe(strict, "clone3") == .errno(ENOSYS))
        #expect(try probe(permissive, "clone3") == .errno(EINVAL))

        #expect(try probe(strict, "ioctl", badFD, TIOCSTI) == EPERM)
        #expect(try probe(strict, "ioctl", badFD, 0x1_0000_0000 | TIOCSTI) == EPERM)
        #expect(try probe(strict, "ioctl", badFD, TIOCLINUX) == EPERM)
        #expect(try probe(permissive, "ioctl", badFD, TIOCSTI) == .errno(EBADF))
        #expect(try probe(permissive, "ioctl", badFD, 0x1_0000_0000 | TIOCSTI) == .errno(EBADF))
        #expect(try probe(strict, "ioctl", badFD, TCGETS) == .errno(EBADF))
        #expect(try probe(strict, "ioctl", badFD, 0x5413) == .errno(EBADF))  // TIOCGWINSZ, next to TIOCSTI

        #expect(try probe(strict, "io_uring_setup", 0, 0) == EPERM)
        #expect(try probe(permissive, "io_uring_setup", 0, 0) != EPERM)
        #expect(try probe(strict, "keyctl", 9999) == EPERM)
        #expect(try probe(permissive, "keyctl", 9999) != EPERM)

        #expect(try probe(strict, "unshare", CLONE_NEWUSER) == EPERM)
        #expect(try probe(permissive, "unshare", CLONE_NEWUSER) == .ok)
        #expect(try probe(strict, "clone", CLONE_NEWUSER | SIGCHLD) == EPERM)
        #expect(try probe(permissive, "clone", CLONE_NEWUSER | SIGCHLD) == .ok)
        #expect(try probe(strict, "clone", SIGCHLD) == .ok)  // plain fork-like clone still works
    }

    /// A call the installed libseccomp does not know (mseal is Linux 6.10) is still enforced on
    /// the native architecture, because bulkhead passes its own number.
    @Test func callsNewerThanLibseccompAreEnforcedNatively() throws {
        let p = SeccompPolicy(defaultAction: .allow, architectures: [.x86_64], rules: [
            SeccompRule(names: ["mseal"], action: .errno, errnoRet: UInt32(EXDEV))
        ])
        let program = try SeccompCompiler.compile(p)
        #expect(try probe(program, "mseal", 0, 0, 0) == .errno(EXDEV))
        #expect(try probe(program, "getppid") == .ok)
    }
}
