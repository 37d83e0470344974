@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import CShims
import Foundation
import Glibc
import Testing

/// Issue 17: a pooled sandbox's init loads the workload's filter before it waits for its request
/// when the filter provably lets every later call of the init and the workload run
/// (`SeccompAllowProof`, `SeccompBeforePoolRequest`).
@Suite struct SeccompAllowProofTests {
    static let x86_64: UInt32 = 0xC000_003E, i386: UInt32 = 0x4000_0003
    static let allow: UInt32 = 0x7fff_0000

    static func programs() throws -> [(String, [UInt8])] {
        let p = try SeccompNativeOnlyTests.policy()
        return [("container, native", try SeccompCompiler.compile(p, nativeOnly: true)), ("container, three architectures", try SeccompCompiler.compile(p))]
    }

    static func data(_ nr: UInt32, arch: UInt32, _ a: [UInt64]) -> bh_seccomp_data {
        bh_seccomp_data(nr: Int32(bitPattern: nr), arch: arch, instruction_pointer: 0, args: (a[0], a[1], a[2], a[3], a[4], a[5]))
    }

    /// Arguments that reach the policy's argument rules: zero, small values, clone's namespace
    /// bits, personality's values, anything.
    static func randomArgs<G: RandomNumberGenerator>(_ g: inout G) -> [UInt64] {
        (0..<6).map { _ in
            switch UInt8.random(in: 0..<5, using: &g) {
            case 0: return 0
            case 1: return UInt64.random(in: 0..<64, using: &g)
            case 2: return [0x4111, 0x10000000, 0x20000, 0x0008, 0xffffffff, 0x7E020000].randomElement(using: &g)!
            case 3: return UInt64(UInt32.random(in: .min ... .max, using: &g))
            default: return UInt64.random(in: .min ... .max, using: &g)
            }
        }
    }

    @Test("With every argument known, the proof answers what the kernel's interpreter answers, for every call number of the shipped policy's programs")
    func agreesWithTheInterpreter() throws {
        var g = SystemRandomNumberGenerator()
        var proven = 0, unknownArgsProven = 0
        for (name, program) in try Self.programs() {
            for arch in [Self.x86_64, Self.i386] {
                for nr in Array(UInt32(0)..<UInt32(480)) + [0x4000_0000, 0x4000_0001, 0x4000_0200, 0xffff_ffff] {
                    for _ in 0..<3 {
                        let a = Self.randomArgs(&g)
                        let kernel = SeccompNotifyProgram.evaluate(program, Self.data(nr, arch: arch, a)).raw == Self.allow
                        let known = Dictionary(uniqueKeysWithValues: a.enumerated().map { ($0.offset, $0.element) })
                        let proof = SeccompAllowProof.allows(program, auditArch: arch, number: nr, args: known)
                        #expect(proof == kernel, "\(name): call \(nr) on 0x\(String(arch, radix: 16)) with \(a): proof \(proof), interpreter \(kernel)")
                        if proof { proven += 1 }
                    }
                    // Arguments unknown: proven means allowed whatever they are.
                    if SeccompAllowProof.allows(program, auditArch: arch, number: nr) {
                        unknownArgsProven += 1
                        for _ in 0..<8 {
                            let a = Self.randomArgs(&g)
                            #expect(SeccompNotifyProgram.evaluate(program, Self.data(nr, arch: arch, a)).raw == Self.allow,
                                    "\(name): call \(nr) proven for any arguments, refused with \(a)")
                        }
                    }
                }
            }
        }
        // The comparison covered both answers.
        #expect(proven > 500 && unknownArgsProven > 500, "proven \(proven), proven with unknown arguments \(unknownArgsProven)")
    }

    @Test("The shipped policy is proven for the pooled init's calls; clone only with the flags the init passes")
    func shippedPolicy() throws {
        let program = try Self.programs()[0].1
        #expect(SeccompBeforePoolRequest.unproven(program: program, arch: .x86_64, auditArch: Self.x86_64) == nil)
        let clone = UInt32(try #require(SyscallTable.number(of: "clone", on: .x86_64)))
        // The policy looks at clone's flags: with them unknown nothing is proven; a new user
        // namespace is refused; the init's own flags are allowed.
        #expect(!SeccompAllowProof.allows(program, auditArch: Self.x86_64, number: clone))
        #expect(!SeccompAllowProof.allows(program, auditArch: Self.x86_64, number: clone, args: [0: 0x1000_0000 | 17]))
        #expect(SeccompAllowProof.allows(program, auditArch: Self.x86_64, number: clone, args: [0: 0x4000 | 0x100 | 17]))
        // Another architecture's numbers are refused in the first instructions.
        #expect(!SeccompAllowProof.allows(program, auditArch: Self.i386, number: 3))
    }

    /// A program from (code, jt, jf, k) rows.
    static func program(_ rows: [(UInt16, UInt8, UInt8, UInt32)]) -> [UInt8] {
        rows.flatMap { r in [UInt8(r.0 & 0xff), UInt8(r.0 >> 8), r.1, r.2] + withUnsafeBytes(of: r.3.littleEndian) { Array($0) } }
    }

    @Test("Hand-made programs: an unknown argument, the instruction pointer, RET A, a jump out of the program, a division by zero are not proven; scratch memory and X are followed")
    func handMade() {
        let ldAbs: UInt16 = 0x20, jeq: UInt16 = 0x15, ret: UInt16 = 0x06, retA: UInt16 = 0x16, ldImm: UInt16 = 0x00
        let errno: UInt32 = 0x0005_0001
        // Call 7 allowed only when its first argument is 5; every other call allowed.
        let fixed = Self.program([(ldAbs, 0, 0, 0), (jeq, 0, 3, 7), (ldAbs, 0, 0, 16), (jeq, 1, 0, 5), (ret, 0, 0, errno), (ret, 0, 0, Self.allow)])
        #expect(SeccompAllowProof.allows(fixed, auditArch: Self.x86_64, number: 8))
        #expect(!SeccompAllowProof.allows(fixed, auditArch: Self.x86_64, number: 7))
        #expect(SeccompAllowProof.allows(fixed, auditArch: Self.x86_64, number: 7, args: [0: 5]))
        #expect(!SeccompAllowProof.allows(fixed, auditArch: Self.x86_64, number: 7, args: [0: 6]))
        // The high word of an argument is its own field: this program compares the low one only.
        #expect(SeccompAllowProof.allows(fixed, auditArch: Self.x86_64, number: 7, args: [0: 5 | 1 << 32]))
        // The instruction pointer is never known.
        let byIP = Self.program([(ldAbs, 0, 0, 8), (jeq, 0, 1, 0), (ret, 0, 0, Self.allow), (ret, 0, 0, Self.allow)])
        #expect(SeccompAllowProof.allows(byIP, auditArch: Self.x86_64, number: 1), "both branches allow")
        let byIPRefusing = Self.program([(ldAbs, 0, 0, 8), (jeq, 0, 1, 0), (ret, 0, 0, Self.allow), (ret, 0, 0, errno)])
        #expect(!SeccompAllowProof.allows(byIPRefusing, auditArch: Self.x86_64, number: 1))
        // RET A: known A is followed, unknown A is not proven.
        #expect(SeccompAllowProof.allows(Self.program([(ldImm, 0, 0, Self.allow), (retA, 0, 0, 0)]), auditArch: Self.x86_64, number: 1))
        #expect(!SeccompAllowProof.allows(Self.program([(ldAbs, 0, 0, 16), (retA, 0, 0, 0)]), auditArch: Self.x86_64, number: 1))
        // A jump past the end, a program without a RET, a division by zero, a misaligned load.
        #expect(!SeccompAllowProof.allows(Self.program([(jeq, 5, 5, 0), (ret, 0, 0, Self.allow)]), auditArch: Self.x86_64, number: 0))
        #expect(!SeccompAllowProof.allows(Self.program([(ldImm, 0, 0, 1)]), auditArch: Self.x86_64, number: 0))
        #expect(!SeccompAllowProof.allows(Self.program([(ldImm, 0, 0, 1), (0x34, 0, 0, 0), (ret, 0, 0, Self.allow)]), auditArch: Self.x86_64, number: 0))
        #expect(!SeccompAllowProof.allows(Self.program([(ldAbs, 0, 0, 2), (ret, 0, 0, Self.allow)]), auditArch: Self.x86_64, number: 0))
        // ST/LD MEM and TAX/TXA carry values: nr through M[3] and X into A, then compared.
        let viaMemory = Self.program([(ldAbs, 0, 0, 0), (0x02, 0, 0, 3), (ldImm, 0, 0, 0), (0x61, 0, 0, 3), (0x87, 0, 0, 0), (jeq, 0, 1, 9), (ret, 0, 0, errno), (ret, 0, 0, Self.allow)])
        #expect(!SeccompAllowProof.allows(viaMemory, auditArch: Self.x86_64, number: 9))
        #expect(SeccompAllowProof.allows(viaMemory, auditArch: Self.x86_64, number: 10))
        // A call missing from a policy names it.
        let wait4 = UInt32(SyscallTable.number(of: "wait4", on: .x86_64)!)
        let noWait4 = Self.program([(ldAbs, 0, 0, 0), (jeq, 0, 1, wait4), (ret, 0, 0, errno), (ret, 0, 0, Self.allow)])
        #expect(SeccompBeforePoolRequest.unproven(program: noWait4, arch: .x86_64, auditArch: Self.x86_64) == "wait4")
        #expect(SeccompBeforePoolRequest.unproven(program: Self.program([(ret, 0, 0, Self.allow)]), arch: .x86_64, auditArch: Self.x86_64) == nil)
    }
}

/// The same on the real kernel: a pooled sandbox waits with its filter, without its listener,
/// and makes only the calls the proof covered.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SeccompBeforePoolRequestTests {
    static func readyInit(_ pool: WarmPoolTests.Pool) throws -> Int32 {
        var cgroup: String?
        for _ in 0..<500 {
            if let s = try WarmPoolTests.Pool.status(pool.socket), s.ready >= 1 { cgroup = s.cgroup; break }
            usleep(10_000)
        }
        let c = try #require(cgroup, "no sandbox of the pool became ready")
        return try #require(WarmPoolTests.newInit(of: pool, cgroup: c, besides: []), "no init of the pool found")
    }

    static func statusField(_ pid: Int32, _ name: String) -> String? {
        FileIO.read("/proc/\(pid)/status")?.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    @Test("A pooled sandbox's init waits for its request with the workload's filter loaded and no listener in its table, and makes only the listed calls from then to the workload's execve")
    func thePreloadedInitMakesOnlyTheListedCalls() throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        defer { pool.stop() }
        let initPID = try Self.readyInit(pool)
        #expect(Self.statusField(initPID, "Seccomp") == "2" && Self.statusField(initPID, "Seccomp_filters") == "1",
                "the waiting init has no filter: \(Self.statusField(initPID, "Seccomp") ?? "?")")
        let targets = WarmPoolTests.fdTargets(initPID)
        #expect(!targets.contains { $0.contains("seccomp") }, "the init keeps a seccomp listener: \(targets)")

        let out = NSTemporaryDirectory() + "bh-preload-strace-\(token()).txt"
        defer { unlink(out) }
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        strace.arguments = ["-f", "-qq", "-o", out, "-p", String(initPID)]
        try strace.run()
        // strace has attached once the init shows a tracer.
        for _ in 0..<500 where Self.statusField(initPID, "TracerPid") == "0" { usleep(10_000) }
        try #require(Self.statusField(initPID, "TracerPid") != "0", "strace did not attach")
        let r = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"])
        #expect(r.status == 0, "\(r.stderr)")
        for _ in 0..<1000 where strace.isRunning { usleep(10_000) }
        if strace.isRunning { strace.terminate() }
        strace.waitUntilExit()

        // "PID name(args) = ..." lines; the workload's calls count until its execve.
        var calls: [Int32: [String]] = [:]
        var execed: Set<Int32> = []
        for line in (FileIO.read(out) ?? "").split(separator: "\n") {
            // strace pads the pid with spaces: "884   recvmsg(...".
            guard let space = line.firstIndex(of: " "), let pid = Int32(line[..<space]) else { continue }
            let rest = line[space...].drop { $0 == " " }
            guard let paren = rest.firstIndex(of: "(") else { continue }
            let name = String(rest[..<paren])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !execed.contains(pid) else { continue }
            calls[pid, default: []].append(name)
            if name == "execve" { execed.insert(pid) }
        }
        let listed = Set(SeccompBeforePoolRequest.calls.map(\.name))
        let initCalls = Set(calls[initPID] ?? [])
        #expect(initCalls.contains("recvmsg") && initCalls.contains("clone"), "the trace missed the request: \(initCalls.sorted())")
        #expect(execed.count == 1, "the workload's execve was not traced: \(calls)")
        for (pid, names) in calls {
            let extra = Set(names).subtracting(listed)
            #expect(extra.isEmpty, "\(pid == initPID ? "the init" : "the workload") made calls the proof did not cover: \(extra.sorted())")
        }
    }

    @Test("A pooled workload's refused call is still reported when the init loaded the filter before the request: its listener reached the pool while the sandbox was prepared")
    func refusedCallsOfAPreloadedSandboxAreReported() throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        defer { pool.stop() }
        let initPID = try Self.readyInit(pool)
        try #require(Self.statusField(initPID, "Seccomp") == "2", "the init did not load the filter before its request")
        let r = try Bulkhead.sh("unshare -U true; echo rc=$?", ["--pool", pool.socket], report: true)
        #expect(r.status == 0 && r.stdout.contains("rc=1"), "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("seccomp: unshare (") && r.stderr.contains("refused 1 time with EPERM"), "\(r.stderr)")
        let v = try #require(r.report?.seccompViolations, "the pooled report names no refused call")
        #expect(v.contains { $0.name == "unshare" && $0.count == 1 }, "\(v)")
        #expect(r.report?.controls.seccomp?.violations == "reported")
    }

    @Test("A cold launch whose init loads the filter (allowPrivilegeEscalation: true, loaded before the capability drop) keeps no listener in the init for the sandbox's life (session 16's build kept it, close-on-exec, in an init that never execs)")
    func theColdInitKeepsNoListener() throws {
        let profile = NSTemporaryDirectory() + "bh-escalation-\(token()).yaml"
        try "extends: container\nsecurityContext:\n  allowPrivilegeEscalation: true\n".write(toFile: profile, atomically: true, encoding: .utf8)
        defer { unlink(profile) }
        let launcher = Process()
        launcher.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        launcher.arguments = ["run", "--profile", profile, "--", "sleep", "5"]
        try launcher.run()
        defer { if launcher.isRunning { launcher.terminate() }; launcher.waitUntilExit() }
        let pid = launcher.processIdentifier
        var initPID: Int32?
        for _ in 0..<500 {
            initPID = FileIO.listDirectory("/proc/\(pid)/task").flatMap { t in
                (FileIO.read("/proc/\(pid)/task/\(t)/children") ?? "").split(separator: " ").compactMap { Int32($0) }
            }.first { FileIO.read("/proc/\($0)/status")?.contains("Seccomp:\t2") == true }
            // The init has its filter and has forked the workload (sleep) by now.
            if let i = initPID, !(FileIO.read("/proc/\(i)/task/\(i)/children") ?? "").isEmpty { break }
            usleep(10_000)
        }
        let i = try #require(initPID, "no init with a filter under the launcher")
        #expect(Self.statusField(i, "NoNewPrivs") == "0", "the profile did not keep no_new_privs off: the filter was not the init's")
        let targets = WarmPoolTests.fdTargets(i)
        #expect(!targets.isEmpty && !targets.contains { $0.contains("seccomp") }, "the init keeps a seccomp listener: \(targets)")
    }

    @Test("With Landlock, whose steps come between the fork and execve, the workload loads the filter as in a cold launch; the pooled run has it")
    func landlockKeepsTheLoadInTheWorkload() throws {
        let profile = try LandlockTests.profile(LandlockTests.fsRules)
        defer { unlink(profile) }
        let pool = try WarmPoolTests.Pool(size: 1, profile: profile)
        defer { pool.stop() }
        let initPID = try Self.readyInit(pool)
        #expect(Self.statusField(initPID, "Seccomp") == "0", "the init loaded the filter before Landlock's steps")
        let r = try Bulkhead.sh("grep -E '^Seccomp(_filters)?:' /proc/self/status", ["--pool", pool.socket])
        #expect(r.status == 0 && r.stdout.contains("Seccomp:\t2") && r.stdout.contains("Seccomp_filters:\t1"), "\(r.stdout) \(r.stderr)")
    }
}
