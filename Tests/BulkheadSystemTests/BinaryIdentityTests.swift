import Testing
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// The caches' binary identity (`ProfileLayerCache.binaryIdentity`): a build is named by its GNU
/// build-id, read from the loaded program by the running binary and from the file by the other
/// member of the launch pair (`bulkhead` and `bulkhead-cli`). Both readers must give the same
/// name for the same build, or the launch executable never hits what the full command line
/// stored; a changed id must give another name; anything that is not a readable ELF file falls
/// back to the file's identity or `none`, never to another build's name.
@Suite("binary identity")
struct BinaryIdentityTests {
    static func scratch(_ name: String) -> String { "/tmp/bh-binid-\(getpid())-\(name)" }

    static func copy(_ from: String, to: String, flippingBuildID: Bool) throws {
        let src = open(from, O_RDONLY | O_CLOEXEC)
        try #require(src >= 0)
        defer { close(src) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = read(src, &buf, buf.count)
            try #require(n >= 0)
            if n == 0 { break }
            bytes += buf[..<n]
        }
        if flippingBuildID {
            // Elf64_Nhdr {namesz 4, descsz N, type 3 = NT_GNU_BUILD_ID} and "GNU\0", then the id.
            let name: [UInt8] = [3, 0, 0, 0, 0x47, 0x4e, 0x55, 0]
            var found: Int?
            var i = 8
            while found == nil && i < bytes.count - name.count - 1 {
                if bytes[i] == 3 && bytes[i - 8] == 4 && Array(bytes[i..<(i + name.count)]) == name { found = i }
                i += 1
            }
            let at = try #require(found, "no build-id note in \(from)")
            bytes[at + name.count] ^= 0xff
        }
        let dst = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o700)
        try #require(dst >= 0)
        defer { close(dst) }
        #expect(write(dst, bytes, bytes.count) == bytes.count)
    }

    @Test("The loaded program's build-id and its file's are one name; a copy is the same build, a changed id another")
    func memoryAndFileAgree() throws {
        let own = ProfileLayerCache.runningIdentity()
        #expect(own.hasPrefix("build-id "), "this test bundle has a build-id note: \(own)")
        #expect(ProfileLayerCache.fileIdentity("/proc/self/exe") == own)
        let same = Self.scratch("same"), other = Self.scratch("other")
        defer { unlink(same); unlink(other) }
        try Self.copy("/proc/self/exe", to: same, flippingBuildID: false)
        try Self.copy("/proc/self/exe", to: other, flippingBuildID: true)
        #expect(ProfileLayerCache.fileIdentity(same) == own, "a copy is the same build")
        let changed = ProfileLayerCache.fileIdentity(other)
        #expect(changed.hasPrefix("build-id ") && changed != own, "\(changed)")
    }

    @Test("A missing file, a FIFO, a directory and a file that is not ELF are never named as a build")
    func nothingElseIsABuild() throws {
        #expect(ProfileLayerCache.fileIdentity(Self.scratch("missing")) == "none")
        let fifo = Self.scratch("fifo"), dir = Self.scratch("dir"), text = Self.scratch("text")
        defer { unlink(fifo); rmdir(dir); unlink(text) }
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(ProfileLayerCache.fileIdentity(fifo) == "none", "a FIFO is neither read nor waited on")
        #expect(mkdir(dir, 0o700) == 0)
        #expect(ProfileLayerCache.fileIdentity(dir) == "none")
        let fd = open(text, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        let elfLike: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1] + [UInt8](repeating: 0xff, count: 200)
        #expect(write(fd, elfLike, elfLike.count) == elfLike.count)
        close(fd)
        // A truncated or garbled ELF header: the file's own identity (device, inode, times), no build-id.
        #expect(!ProfileLayerCache.fileIdentity(text).hasPrefix("build-id"), "\(ProfileLayerCache.fileIdentity(text))")
        #expect(ProfileLayerCache.fileIdentity(text) != "none")
    }
}
