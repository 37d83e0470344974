extension EmbeddedProfiles {
    /// A text that is, byte for byte, one of the compiled-in files: which one, in which form, and
    /// its SHA-256 as scripts/embed-profiles.sh computed it (`sha256`), so that a caller naming
    /// the text (the seccomp cache's key) need not hash it again.
    public struct Match: Sendable, Equatable {
        public var path: String
        /// The file as shipped, with its final newline (Profiles/, share/bulkhead/profiles);
        /// false: the compiled-in text, without it.
        public var shipped: Bool
        /// The SHA-256 of exactly these bytes, in lower-case hex.
        public var sha256: String

        public init(path: String, shipped: Bool, sha256: String) {
            self.path = path; self.shipped = shipped; self.sha256 = sha256
        }
    }

    /// The compiled-in file under `prefix` (a path prefix: "seccomp/") whose text `text` is,
    /// comparing UTF-8 bytes: `String`'s `==` is canonical equivalence (a KELVIN SIGN equals a
    /// `K`), and a text with other bytes is another text, which must be hashed, not named by
    /// this one's digest. Nil when it is none of them.
    public static func match(_ text: String, under prefix: String) -> Match? {
        var t = text
        return t.withUTF8 { bytes -> Match? in
            for d in sha256 where d.path.hasPrefix(prefix) {
                guard var e = files.first(where: { $0.path == d.path })?.text else { continue }
                let found = e.withUTF8 { own -> Match? in
                    if bytes.count == own.count, sameBytes(bytes, own) {
                        return Match(path: d.path, shipped: false, sha256: d.text)
                    }
                    if bytes.count == own.count + 1, bytes[own.count] == 0x0a,
                       sameBytes(UnsafeBufferPointer(rebasing: bytes[..<own.count]), own) {
                        return Match(path: d.path, shipped: true, sha256: d.shipped)
                    }
                    return nil
                }
                if let found { return found }
            }
            return nil
        }
    }

    /// Equal lengths assumed; eight bytes at a time (an 18 KB policy is compared at every launch).
    private static func sameBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = a.count
        guard n == b.count else { return false }
        if n == 0 { return true }
        let ra = UnsafeRawPointer(a.baseAddress!), rb = UnsafeRawPointer(b.baseAddress!)
        var i = 0
        while i + 8 <= n {
            if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < n {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }
}
