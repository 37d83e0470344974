@testable import BulkheadModel
import Foundation
import Testing

/// A minimal x86_64 ELF shared object, built byte by byte: .text (the code given), .dynsym with
/// imports and one export, .dynstr, .dynamic (DT_NEEDED, DT_RUNPATH) and .shstrtab.
enum TinyELF {
    static func build(code: [UInt8], imports: [String], needed: [String], runPath: String? = nil, marker: String = "") -> [UInt8] {
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        var dynstr: [UInt8] = [0]
        func str(_ s: String) -> UInt32 { let o = UInt32(dynstr.count); dynstr += Array(s.utf8) + [0]; return o }
        var dynsym = [UInt8](repeating: 0, count: 24)
        for i in imports { dynsym += le(UInt64(str(i)), 4) + [0x12, 0] + le(0, 2) + le(0, 8) + le(0, 8) }  // GLOBAL FUNC, undefined
        dynsym += le(UInt64(str("exported" + marker)), 4) + [0x12, 0] + le(1, 2) + le(0x1000, 8) + le(UInt64(code.count), 8)
        var dynamic: [UInt8] = []
        for n in needed { dynamic += le(1, 8) + le(UInt64(str(n)), 8) }
        if let runPath { dynamic += le(29, 8) + le(UInt64(str(runPath)), 8) }
        dynamic += le(0, 16)
        var shstr: [UInt8] = [0]
        func sname(_ s: String) -> UInt32 { let o = UInt32(shstr.count); shstr += Array(s.utf8) + [0]; return o }
        let names = [sname(".text"), sname(".dynsym"), sname(".dynstr"), sname(".dynamic"), sname(".shstrtab")]
        var body: [UInt8] = []
        var offsets: [Int] = []
        for blob in [code, dynsym, dynstr, dynamic, shstr] { offsets.append(64 + body.count); body += blob; while body.count % 8 != 0 { body.append(0) } }
        let shoff = 64 + body.count
        var header: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        header += le(3, 2) + le(62, 2) + le(1, 4) + le(0, 8) + le(0, 8) + le(UInt64(shoff), 8) + le(0, 4)
        header += le(64, 2) + le(56, 2) + le(0, 2) + le(64, 2) + le(6, 2) + le(5, 2)
        func sh(_ name: UInt32, _ type: UInt32, _ flags: UInt64, _ off: Int, _ size: Int, _ link: UInt32, _ entsize: UInt64) -> [UInt8] {
            le(UInt64(name), 4) + le(UInt64(type), 4) + le(flags, 8) + le(0x1000, 8) + le(UInt64(off), 8) + le(UInt64(size), 8)
                + le(UInt64(link), 4) + le(0, 4) + le(1, 8) + le(entsize, 8)
        }
        var shdrs = [UInt8](repeating: 0, count: 64)
        shdrs += sh(names[0], 1, 0x6, offsets[0], code.count, 0, 0)
        shdrs += sh(names[1], 11, 0x2, offsets[1], dynsym.count, 3, 24)
        shdrs += sh(names[2], 3, 0x2, offsets[2], dynstr.count, 0, 0)
        shdrs += sh(names[3], 6, 0x3, offsets[3], dynamic.count, 3, 16)
        shdrs += sh(names[4], 3, 0, offsets[4], shstr.count, 0, 0)
        return header + body + shdrs
    }
}

@Suite struct SyscallScanTests {
    static let getpid: [UInt8] = [0xB8, 39, 0, 0, 0, 0x0F, 0x05]

    @Test func decoderFindsConstantNumbers() {
        // mov $39,%eax; syscall
        #expect(X86SyscallDecoder.scan(Self.getpid[...]).numbers == [39: 1])
        // mov $0x3c,%eax; mov %rdi,%rsi; mov $0,%edx (BA); lea 8(%rsp),%r10; syscall
        let exit: [UInt8] = [0xB8, 60, 0, 0, 0, 0x48, 0x89, 0xFE, 0xBA, 0, 0, 0, 0, 0x4C, 0x8D, 0x54, 0x24, 0x08, 0x0F, 0x05]
        #expect(X86SyscallDecoder.scan(exit[...]).numbers == [60: 1])
        // mov $231,%rax (48 C7 C0); endbr64; syscall
        let rax: [UInt8] = [0x48, 0xC7, 0xC0, 231, 0, 0, 0, 0xF3, 0x0F, 0x1E, 0xFA, 0x0F, 0x05]
        #expect(X86SyscallDecoder.scan(rax[...]).numbers == [231: 1])
        // ld.so's set_robust_list: mov $0x111,%eax; movq %rdi,%xmm0; punpcklqdq %xmm0,%xmm0;
        // movups %xmm0,0x2d8(%rbx); syscall
        let robust: [UInt8] = [0xB8, 0x11, 0x01, 0, 0, 0x66, 0x48, 0x0F, 0x6E, 0xC7, 0x66, 0x0F, 0x6C, 0xC0,
                               0x0F, 0x11, 0x83, 0xD8, 0x02, 0, 0, 0x0F, 0x05]
        #expect(X86SyscallDecoder.scan(robust[...]).numbers == [0x111: 1])
        // xor %eax,%eax; syscall: read
        #expect(X86SyscallDecoder.scan([0x31, 0xC0, 0x0F, 0x05][...]).numbers == [0: 1])
    }

    @Test func decoderRefusesWhatItCannotProve() {
        // mov $39,%eax; mov (%rdi),%eax; syscall: eax was overwritten.
        let r1 = X86SyscallDecoder.scan([0xB8, 39, 0, 0, 0, 0x8B, 0x07, 0x0F, 0x05][...])
        #expect(r1.numbers.isEmpty && r1.unresolved == 1)
        // mov $5,%r8d (41 B8): not eax.
        let r2 = X86SyscallDecoder.scan([0x41, 0xB8, 5, 0, 0, 0, 0x0F, 0x05][...])
        #expect(r2.numbers.isEmpty && r2.unresolved == 1)
        // mov %rdi,%rax; syscall (glibc's syscall()): no constant.
        let r3 = X86SyscallDecoder.scan([0x48, 0x89, 0xF8, 0x0F, 0x05][...])
        #expect(r3.numbers.isEmpty && r3.unresolved == 1)
        // movd %xmm0,%eax (66 0F 7E C0) writes eax: unresolved.
        let r5 = X86SyscallDecoder.scan([0xB8, 39, 0, 0, 0, 0x66, 0x0F, 0x7E, 0xC0, 0x0F, 0x05][...])
        #expect(r5.numbers.isEmpty && r5.unresolved == 1)
        // A call in between (E8 rel32) is not in the list: unresolved.
        let r4 = X86SyscallDecoder.scan([0xB8, 39, 0, 0, 0, 0xE8, 0, 0, 0, 0, 0x0F, 0x05][...])
        #expect(r4.numbers.isEmpty && r4.unresolved == 1)
    }

    @Test func parsesTheTinyELF() throws {
        let bytes = TinyELF.build(code: Self.getpid + [0xC3], imports: ["getuid", "fopen", "nosuchfunction"], needed: ["libc.so.6"], runPath: "$ORIGIN/lib")
        let elf = try ELFFile.parse(bytes)
        #expect(elf.machine == .x86_64)
        #expect(elf.needed == ["libc.so.6"])
        #expect(elf.runPath == ["$ORIGIN/lib"])
        #expect(Set(elf.imports) == ["getuid", "fopen", "nosuchfunction"])
        let s = try ELFSyscallSummary.scan(elf, bytes: bytes)
        #expect(s.direct == [39: 1])
    }

    /// The scan of an in-memory file set: direct calls, libc imports through the table, the
    /// library closure, and `--merge`'s marks.
    @Test func scannerMarksSeenScannedAndBoth() throws {
        let prog = TinyELF.build(code: Self.getpid, imports: ["getuid", "fopen"], needed: ["libfoo.so.1", "libmissing.so"])
        let foo = TinyELF.build(code: [0xB8, 0x9F, 0, 0, 0, 0x0F, 0x05], imports: [], needed: [])  // 159 adjtimex
        let files = ["/bin/prog": prog, "/lib/libfoo.so.1": foo]
        let scanner = SyscallScanner(read: { p in
            guard let b = files[p] else { throw ELFError("no such file") }
            return b
        }, resolve: { name, _, _ in files["/lib/" + name] == nil ? nil : "/lib/" + name })
        let r = try scanner.scan(["/bin/prog"], seen: ["getuid", "mount"])
        func source(_ n: String) -> SyscallScanReport.Source? { r.calls.first { $0.name == n }?.source }
        #expect(source("getpid") == .scanned)
        #expect(source("adjtimex") == .scanned)
        #expect(source("getuid") == .both)
        #expect(source("mount") == .seen)
        #expect(source("openat") == .scanned)  // fopen reaches openat
        #expect(r.calls.first { $0.name == "getpid" }?.foundIn.first == "direct: prog")
        #expect(r.missingLibraries == ["libmissing.so"])
        #expect(r.files.map(\.path) == ["/bin/prog", "/lib/libfoo.so.1"])
        let json = r.jsonText()
        #expect(json.contains("{\"name\": \"getuid\", \"source\": \"both\""))
        #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
    }

    @Test func libcTableKnowsCommonFunctions() {
        #expect(LibcSyscalls.calls(of: "getuid") == ["getuid"])
        #expect(LibcSyscalls.calls(of: "socket") == ["socket"])
        #expect(LibcSyscalls.calls(of: "fopen")?.contains("openat") == true)
        #expect(LibcSyscalls.calls(of: "pthread_create")?.contains("clone3") == true)
        #expect(LibcSyscalls.calls(of: "strlen") == nil)
        #expect(LibcSyscalls.sets.count > 100 && LibcSyscalls.table.count > 1000)
        for set in LibcSyscalls.sets { for n in set { #expect(SyscallTable.number(of: n, on: .x86_64) != nil, "\(n)") } }
    }

    /// Hostile input: a structure-aware fuzz of the tiny ELF (bit flips, overwritten header and
    /// section fields with extreme values, truncation) and of random bytes. Every input parses
    /// or throws ELFError; no crash, no trap; an error never carries the file's bytes (a marker
    /// planted in its strings never appears in a message).
    @Test func malformedELFIsRefusedCleanly() {
        let marker = "SECRETMARKER"
        let base = TinyELF.build(code: Self.getpid + [0xC3], imports: ["getuid", marker], needed: ["lib\(marker).so"], marker: marker)
        var rng = SplitMix64(seed: 0xE1F5_EED5)
        var parsed = 0, refused = 0
        let extremes: [UInt64] = [0, 1, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, UInt64.max, UInt64(base.count), UInt64(base.count - 1)]
        for iteration in 0..<3000 {
            var b = base
            switch iteration % 4 {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8(1 << Int.random(in: 0...7, using: &rng)) }
            case 1:
                // An 8-byte field anywhere (headers, section headers, symbols, dynamic entries) set to an extreme.
                let at = Int.random(in: 0..<(b.count - 8), using: &rng) & ~3
                let v = extremes.randomElement(using: &rng)!
                for i in 0..<8 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            case 2:
                b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
            default:
                b = (0..<Int.random(in: 0...512, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if b.count >= 6 { b[0...5] = [0x7F, 0x45, 0x4C, 0x46, 2, 1] }
            }
            do {
                let elf = try ELFFile.parse(b)
                _ = try ELFSyscallSummary.scan(elf, bytes: b)
                parsed += 1
            } catch {
                refused += 1
                #expect(!error.message.contains(marker), "iteration \(iteration)")
                #expect(error.message.count < 200)
            }
        }
        #expect(parsed > 100 && refused > 100, "parsed \(parsed), refused \(refused)")
    }

    @Test func ldSoCacheParsesAndSurvivesFuzz() throws {
        func le(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
        var b = Array("glibc-ld.so.cache1.1".utf8) + le(2) + le(0) + [UInt8](repeating: 0, count: 20)
        let strings = 48 + 2 * 24
        let s1 = Array("libfoo.so.1\0/usr/lib/x86_64-linux-gnu/libfoo.so.1\0libbar.so\0/lib32/libbar.so\0".utf8)
        b += le(0x0303) + le(UInt32(strings)) + le(UInt32(strings + 12)) + le(0) + [UInt8](repeating: 0, count: 8)
        b += le(0x0003) + le(UInt32(strings + 50)) + le(UInt32(strings + 60)) + le(0) + [UInt8](repeating: 0, count: 8)  // i386: skipped
        b += s1
        #expect(try LdSoCache.parse(b) == ["libfoo.so.1": "/usr/lib/x86_64-linux-gnu/libfoo.so.1"])
        var rng = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var m = b
            for _ in 0..<4 { m[Int.random(in: 20..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng) { m = Array(m.prefix(Int.random(in: 0..<m.count, using: &rng))) }
            _ = try? LdSoCache.parse(m)
        }
    }
}
