/// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource): `500m`, `2`,
/// `256Mi`, `1G`, `1e3`. Parsed exactly in integer arithmetic; values that do not fit are
/// errors, never silently rounded.
public enum Quantity {
    static let binary: [(String, UInt64)] = [
        ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50), ("Ei", 1 << 60),
    ]
    static let decimal: [(String, UInt64)] = [
        ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000), ("E", 1_000_000_000_000_000_000),
    ]

    /// A quantity in thousandths (`500m` → 500, `2` → 2000, `1.5` → 1500). Used for CPU.
    public static func milli(_ text: String) -> UInt64? {
        // ASCII only (ExactName): `hasSuffix` and Character compare by canonical equivalence.
        guard ExactName.isASCII(text) else { return nil }
        if text.hasSuffix("m") {
            guard let v = UInt64(text.dropLast()) else { return nil }
            return v
        }
        guard let (whole, frac, fracDigits) = splitDecimal(text), fracDigits <= 3 else { return nil }
        var f = frac
        for _ in fracDigits..<3 { f *= 10 }
        let (w, o) = whole.multipliedReportingOverflow(by: 1000)
        let (sum, o2) = w.addingReportingOverflow(f)
        guard !o, !o2 else { return nil }
        return sum
    }

    /// A quantity in whole units (bytes for memory and storage, a count for pids): `256Mi`,
    /// `1G`, `128`, `1e6`. A fractional result is an error.
    public static func integer(_ text: String) -> UInt64? {
        // ASCII only (ExactName): "1\u{212A}i" (KELVIN SIGN) has the suffix "Ki" for `hasSuffix`.
        guard ExactName.isASCII(text) else { return nil }
        var number = Substring(text)
        var multiplier: UInt64 = 1
        if let (s, m) = binary.first(where: { text.hasSuffix($0.0) }) {
            number = number.dropLast(s.count); multiplier = m
        } else if let (s, m) = decimal.first(where: { text.hasSuffix($0.0) }) {
            number = number.dropLast(s.count); multiplier = m
        } else if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let exp = Int(text[text.index(after: e)...]), (0...18).contains(exp) else { return nil }
            number = text[..<e]
            multiplier = (0..<exp).reduce(1) { acc, _ in acc * 10 }
        }
        guard let (whole, frac, digits) = splitDecimal(String(number)) else { return nil }
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let (fm, o1) = frac.multipliedReportingOverflow(by: multiplier)
        guard !o1, fm % scale == 0 else { return nil }
        let (wm, o2) = whole.multipliedReportingOverflow(by: multiplier)
        guard !o2 else { return nil }
        let (sum, o3) = wm.addingReportingOverflow(fm / scale)
        return o3 ? nil : sum
    }

    /// Formats bytes the Kubernetes way, exactly: `268435456` → `256Mi`.
    public static func formatBytes(_ v: UInt64) -> String {
        for (s, m) in binary.reversed() where v >= m && v % m == 0 { return "\(v / m)\(s)" }
        return "\(v)"
    }

    /// Formats thousandths of a CPU: 500 → `500m`, 2000 → `2`.
    public static func formatMilli(_ v: UInt64) -> String {
        v % 1000 == 0 ? "\(v / 1000)" : "\(v)m"
    }

    static func splitDecimal(_ s: String) -> (UInt64, UInt64, Int)? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let w = parts[0].isEmpty && parts.count == 2 ? 0 : UInt64(parts[0]) else { return nil }
        if parts.count == 1 { return (w, 0, 0) }
        guard !parts[1].isEmpty, parts[1].count <= 18, let f = UInt64(parts[1]) else { return nil }
        return (w, f, parts[1].count)
    }
}
