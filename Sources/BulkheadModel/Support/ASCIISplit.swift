extension StringProtocol {
    /// `split(separator:)` for an ASCII separator, done on the UTF-8 bytes. For the kernel's text
    /// files (/proc, cgroup files) the result is the same; `Character`-wise splitting walks
    /// grapheme clusters and was a tenth of a launch's instructions in the parsers of
    /// mountinfo, /proc/PID/stat and /proc/self/status (BENCHMARKS.md). It differs only where
    /// the separator begins a grapheme cluster ("\r\n", or a space before a combining mark),
    /// which those files never contain unescaped.
    public func asciiSplit(_ separator: Unicode.Scalar, maxSplits: Int = .max,
                           omittingEmptySubsequences: Bool = true) -> [Substring] {
        Substring(self).utf8.split(separator: UInt8(ascii: separator), maxSplits: maxSplits,
                                   omittingEmptySubsequences: omittingEmptySubsequences).map { Substring($0) }
    }
}
