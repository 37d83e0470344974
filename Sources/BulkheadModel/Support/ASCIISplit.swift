extension StringProtocol {
    /// `split(separator:)` for an ASCII separator, done on the UTF-8 bytes. For the kernel's text
    /// files (/proc, cgroup files) the result is the same; `Character`-wise splitting walks
    /// grapheme clusters and was a tenth of a launch's instructions in the parsers of
    /// mountinfo, /proc/PID/stat and /proc/self/status (BENCHMARKS.md). It differs only where
    /// the separator begins a grapheme cluster ("\r\n", or a space before a combining mark),
    /// which those files never contain unescaped.
    public func asciiSplit(_ separator: Unicode.Scalar, maxSplits: Int = .max,
                           omittingEmptySubsequences: Bool = true) -> [Substring] {
        // The loop of `Collection.split` (same results, the same precondition), written on the
        // UTF-8 view and slicing the text itself: `utf8.split(...).map(Substring.init)` went
        // through the generic split and converted every piece (BENCHMARKS.md, launch-cpu).
        precondition(maxSplits >= 0, "Must take zero or more splits")
        let text = Substring(self)
        let bytes = text.utf8
        let sep = UInt8(ascii: separator)
        var result: [Substring] = []
        var start = bytes.startIndex
        let end = bytes.endIndex
        if maxSplits == 0 || start == end {
            if start != end || !omittingEmptySubsequences { result.append(text) }
            return result
        }
        var i = start
        while i != end {
            if bytes[i] == sep {
                let appended = i != start || !omittingEmptySubsequences
                if appended { result.append(text[start..<i]) }
                bytes.formIndex(after: &i)
                start = i
                if appended && result.count == maxSplits { break }
                continue
            }
            bytes.formIndex(after: &i)
        }
        if start != end || !omittingEmptySubsequences { result.append(text[start..<end]) }
        return result
    }
}
