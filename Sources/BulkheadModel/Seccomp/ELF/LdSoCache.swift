/// glibc's /etc/ld.so.cache (the "glibc-ld.so.cache1.1" format of glibc 2.32 and later), parsed
/// from untrusted bytes: the library name → path map the dynamic loader searches after
/// DT_RUNPATH. Only x86-64 libc6 entries are kept; the first of a name wins, as in ld.so.
public enum LdSoCache {
    public static let maxEntries = 1 << 16

    public static func parse(_ b: [UInt8]) throws(ELFError) -> [String: String] {
        let magic = Array("glibc-ld.so.cache1.1".utf8)
        guard b.count >= 48, Array(b[0..<magic.count]) == magic else { throw ELFError("not a glibc-ld.so.cache1.1 file") }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) } }
        let n = Int(u32(20))
        guard n <= maxEntries else { throw ELFError("more than \(maxEntries) entries") }
        let (size, o1) = n.multipliedReportingOverflow(by: 24)
        let (end, o2) = size.addingReportingOverflow(48)
        guard !o1, !o2, end <= b.count else { throw ELFError("the entry table lies outside the file") }
        func string(_ off: UInt32) -> String? {
            let from = Int(off)
            guard from < b.count else { return nil }
            var e = from
            while e < b.count, b[e] != 0, e - from < 4096 { e += 1 }
            guard e < b.count, b[e] == 0 else { return nil }
            return String(decoding: b[from..<e], as: UTF8.self)
        }
        var out: [String: String] = [:]
        for i in 0..<n {
            let e = 48 + i * 24
            let flags = u32(e)
            // FLAG_ELF_LIBC6 (3) with FLAG_X8664_LIB64 (0x0300).
            guard flags & 0xFF == 3, flags & 0xFF00 == 0x0300 else { continue }
            guard let key = string(u32(e + 4)), let value = string(u32(e + 8)), value.hasPrefix("/") else { continue }
            if out[key] == nil { out[key] = value }
        }
        return out
    }
}
