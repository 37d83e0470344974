import BulkheadModel
import PropertyBased
import Testing

/// Properties of the ELF parser and the decoder on generated input (x-sheep/swift-property-based,
/// shrinking to the smallest failing input): whatever the bytes, parsing returns or throws
/// ELFError, never traps; an error never carries the file's strings; the decoder never reports
/// more constant sites than there are `syscall` instructions.
@Suite struct SyscallScanPropertyTests {
    static let marker = "PROPERTYMARKER"
    static let base = TinyELF.build(code: [0xB8, 39, 0, 0, 0, 0x0F, 0x05, 0xC3], imports: ["getuid", marker], needed: ["lib\(marker).so"])

    /// Any bytes after a valid ELF identification.
    @Test func arbitraryBytesAreParsedOrRefused() async {
        await propertyCheck(count: 1000, input: Gen.uint8().array(of: 0...600)) { tail in
            let bytes: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1] + tail
            do {
                let elf = try ELFFile.parse(bytes)
                _ = try ELFSyscallSummary.scan(elf, bytes: bytes)
            } catch let error as ELFError {
                #expect(!error.message.isEmpty)
            } catch {
                Issue.record("not an ELFError: \(error)")
            }
        }
    }

    /// The tiny ELF with up to eight bytes anywhere replaced: parsed, or refused without the
    /// planted marker in the message.
    @Test func mutatedELFNeverLeaksItsStrings() async {
        let size = Self.base.count
        await propertyCheck(count: 1000, input: Gen.int(in: 0..<size).array(of: 1...8), Gen.uint8().array(of: 8)) { positions, values in
            var b = Self.base
            for (i, p) in positions.enumerated() { b[p] = values[i % values.count] }
            do {
                let elf = try ELFFile.parse(b)
                _ = try ELFSyscallSummary.scan(elf, bytes: b)
            } catch let error as ELFError {
                #expect(!error.message.contains(Self.marker))
            } catch {
                Issue.record("not an ELFError: \(error)")
            }
        }
    }

    /// Truncated at any length: refused or parsed, never a read past the end.
    @Test func truncatedELFIsRefused() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0..<Self.base.count)) { n in
            #expect(throws: ELFError.self) { try ELFFile.parse(Array(Self.base.prefix(n))) }
        }
    }

    @Test func decoderCountsAtMostTheSyscallInstructions() async {
        await propertyCheck(count: 1000, input: Gen.uint8().array(of: 0...256)) { code in
            let r = X86SyscallDecoder.scan(code[...])
            var sites = 0, i = 0
            while i + 1 < code.count { if code[i] == 0x0F, code[i + 1] == 0x05 { sites += 1; i += 2 } else { i += 1 } }
            #expect(r.numbers.values.reduce(0, +) + r.unresolved == sites)
        }
    }
}
