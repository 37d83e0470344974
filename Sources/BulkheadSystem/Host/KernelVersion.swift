import Glibc

/// A kernel release's numeric part, e.g. 6.18.44 from "6.18.44-fc-v669" (uname(2)).
public struct KernelVersion: Sendable, Equatable, Comparable, Codable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Parses the leading `MAJOR.MINOR[.PATCH]` of a release string; nil if absent.
    public init?(release: String) {
        let numeric = release.prefix { $0.isNumber || $0 == "." }
        let parts = numeric.split(separator: ".", omittingEmptySubsequences: false).prefix(3).map { Int($0) }
        guard parts.count >= 2, let major = parts[0], let minor = parts[1] else { return nil }
        self.init(major, minor, parts.count > 2 ? (parts[2] ?? 0) : 0)
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}

extension KernelVersion {
    /// The running kernel's version (uname(2)); nil if its release has no MAJOR.MINOR.
    public static var running: KernelVersion? {
        var u = utsname()
        guard uname(&u) == 0 else { return nil }
        let release = withUnsafePointer(to: u.release) {
            $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: u.release)) { String(cString: $0) }
        }
        return KernelVersion(release: release)
    }
}
