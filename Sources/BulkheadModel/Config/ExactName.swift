/// The one rule for matching a name that the kernel, libseccomp, runc and Kubernetes define
/// (an action, an operator, a capability, a signal, an rlimit, an enum value of a manifest):
/// **byte for byte, ASCII only**, as Go and C compare them.
///
/// Swift's `String ==` (and `switch`, `Set.contains`, `init(rawValue:)`, dictionary keys) is
/// canonical equivalence: `"SCMP_ACT_\u{212A}ILL" == "SCMP_ACT_KILL"` (U+212A KELVIN SIGN is
/// canonically K). And `uppercased()` is Unicode's: `"\u{17F}ys_admin".uppercased()` (U+017F
/// LATIN SMALL LETTER LONG S) is `"SYS_ADMIN"`. Either way bulkhead took a name that runc and
/// libseccomp refuse as unknown, so the policy bulkhead checked and tested was not the one a
/// cluster would load from the same file. Every name from a profile, a manifest, an OCI config
/// or a flag is matched through here.
public enum ExactName {
    /// `a` and `b` have the same bytes (not canonical equivalence).
    public static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    /// Every byte of `text` is ASCII: then Character, `hasSuffix` and `==` are byte operations.
    public static func isASCII(_ text: String) -> Bool { text.utf8.allSatisfy { $0 < 0x80 } }

    /// `text` with ASCII a-z made A-Z; nil when any byte is not ASCII (no Unicode case mapping).
    public static func asciiUppercased(_ text: String) -> String? {
        mapASCII(text) { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
    }

    /// `text` with ASCII A-Z made a-z; nil when any byte is not ASCII.
    public static func asciiLowercased(_ text: String) -> String? {
        mapASCII(text) { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
    }

    /// Whether `text` equals `name` ignoring ASCII case only (`"all"`, `"All"` for `"ALL"`).
    public static func sameIgnoringASCIICase(_ text: String, _ name: String) -> Bool {
        guard let u = asciiUppercased(text), let n = asciiUppercased(name) else { return false }
        return same(u, n)
    }

    /// `path`'s components as the kernel walks it: split at every `/` byte, empty ones dropped.
    /// Not `split(separator: "/")`: that splits Characters, and a Prepend scalar (U+0600 ARABIC
    /// NUMBER SIGN) joins the `/` after it into one Character, so `"x\u{600}/.."` was one
    /// component there, its `..` unseen, and a walk handed `x\u{600}/..` to openat(2) whole.
    public static func pathComponents(_ path: String) -> [String] {
        path.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the kernel walks a `..` component of `path` (`pathComponents`).
    public static func hasDotDot(_ path: String) -> Bool { pathComponents(path).contains { same($0, "..") } }

    private static func mapASCII(_ text: String, _ f: (UInt8) -> UInt8) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            guard b < 0x80 else { return nil }
            out.append(f(b))
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension CaseIterable where Self: RawRepresentable, Self.RawValue == String {
    /// The case whose raw value has exactly `text`'s bytes (`ExactName`): unlike
    /// `init(rawValue:)`, a canonically equivalent spelling is not that case.
    public init?(exactly text: String) {
        guard let c = Self.allCases.first(where: { ExactName.same($0.rawValue, text) }) else { return nil }
        self = c
    }
}
