/// An error in a configuration document (a layer profile, a seccomp profile, a pod manifest):
/// it names the file, the field path inside it, the line where known, and what is allowed.
///
/// Example: `Profiles/container.yaml:12: securityContext.capabilities.drop[1]: unknown capability
/// "CAP_SYS_ADMN"; did you mean "CAP_SYS_ADMIN"?`
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The document's path, or `<embedded:NAME>` for a profile compiled into the binary.
    public var file: String
    /// Dotted field path with sequence indices, e.g. `syscalls[3].names[0]`; empty for the document.
    public var field: String
    /// 1-based line in the document, when the parser knows it.
    public var line: Int?
    /// What is wrong and what is allowed.
    public var message: String
    /// 1-based column of the offending node, when the parser knows it.
    public var column: Int?
    /// The errno's symbolic name (`ENOENT`, `EACCES`, `ELOOP` ...) when a system call said why
    /// the input cannot be used: a file it names that cannot be opened. The report's
    /// `error.errno`; nil for an error in the document itself.
    public var errno: String?

    public init(file: String, field: String, line: Int? = nil, column: Int? = nil, errno: String? = nil, message: String) {
        self.file = file
        self.field = field
        self.line = line
        self.column = column
        self.errno = errno
        self.message = message
    }

    /// How many errors of one input are listed at most (`listing`): a hostile document cannot
    /// flood a terminal or a report with them.
    public static let listLimit = 50

    /// Errors as they are listed, one a line, in the order given (file order from the parsers),
    /// at most `limit` and then "and N more".
    public static func listing(_ errors: [ConfigError], limit: Int = listLimit) -> [String] {
        var lines = errors.prefix(limit).map(\.description)
        if errors.count > limit { lines.append("and \(errors.count - limit) more") }
        return lines
    }

    /// The same error with nothing taken from the document: for a file that root read and the
    /// reader of the error may not see (a root-only file named as a profile). It keeps the file,
    /// the line and column and the field path as far as it names the schema's fields
    /// (`schemaPart`), not keys the file's author wrote.
    public func withoutContent() -> ConfigError {
        let f = Self.schemaPart(of: field, message: message)
        var at = ""
        if let line { at = " at line \(line)" + (column.map { ", column \($0)" } ?? "") }
        return ConfigError(file: file, field: f, line: line, column: column, errno: errno,
                           message: "the file is not a valid document of this kind\(at); nothing of its text is shown, because it is not readable by everyone (open it yourself to see what is wrong there)")
    }

    /// The part of a field path that names the schema's fields: less the key the error is
    /// about when it is the path's end (an unknown, duplicate or unsupported key, a label key,
    /// an annotation's container: the message quotes it), then cut where the author's own keys
    /// begin: after `labels` or `annotations`, and at the first part that is not a plain field
    /// name with list indices (`containers[0]`). A collecting parser reports many errors of one
    /// file, each with its path: none may carry a key of a file the reader cannot read.
    package static func schemaPart(of field: String, message: String) -> String {
        var f = Substring(field)
        if let open = message.firstIndex(of: "\""),
           let close = message[message.index(after: open)...].firstIndex(of: "\"") {
            let quoted = message[message.index(after: open)..<close]
            if !quoted.isEmpty && f == quoted { f = "" } else if !quoted.isEmpty && f.hasSuffix("." + quoted) { f = f.dropLast(quoted.count + 1) }
        } else if message.hasPrefix("unknown field") || message.hasPrefix("duplicate key") {
            f = f.lastIndex(of: ".").map { f[..<$0] } ?? ""
        }
        // A command-line flag names no file's text.
        if f.hasPrefix("--") && f.dropFirst(2).allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "-") }) { return String(f) }
        var kept: [Substring] = []
        for part in f.split(separator: ".", omittingEmptySubsequences: false) {
            guard isFieldName(part) else { break }
            kept.append(part)
            if part == "labels" || part == "annotations" { break }
        }
        return kept.joined(separator: ".")
    }

    /// `name`, `name[0][1]` or `name[*]`: ASCII letters and digits, starting with a letter.
    static func isFieldName(_ part: Substring) -> Bool {
        let name = part.prefix { $0 != "[" }
        guard let first = name.first, first.isASCII, first.isLetter,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return false }
        var rest = part.dropFirst(name.count)
        while !rest.isEmpty {
            guard rest.first == "[", let close = rest.firstIndex(of: "]") else { return false }
            let digits = rest[rest.index(after: rest.startIndex)..<close]
            guard digits == "*" || (!digits.isEmpty && digits.allSatisfy({ $0.isASCII && $0.isNumber })) else { return false }
            rest = rest[rest.index(after: close)...]
        }
        return true
    }

    /// For an error raised after `layers` were parsed (their merge, the launch prepared from
    /// them): unchanged when every layer is readable by everyone; else `withoutContent()`, named
    /// after the private layer's file when the error names a file of its own (a root directory,
    /// a seccomp policy: paths the private file gave).
    public func withoutContent(ifAnyPrivate layers: [ProfileLayer]) -> ConfigError {
        guard let hidden = layers.last(where: \.isPrivate) else { return self }
        guard layers.contains(where: { $0.source == file }) else {
            return ConfigError(file: hidden.source, field: field, errno: errno, message: message).withoutContent()
        }
        return withoutContent()
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if !field.isEmpty { s += "\(field): " }
        return s + message
    }
}

/// Closest candidate by edit distance, for "did you mean" suggestions; nil when nothing is close.
/// `limit` is the largest distance that counts as close (default: a third of the word, at least 2).
public func closestMatch(to word: String, in candidates: some Sequence<String>, limit: Int? = nil) -> String? {
    // Names are short: a long word has no close match, and the distance is quadratic.
    guard word.utf8.count <= 64 else { return nil }
    let w = Array(word.lowercased().utf8)
    let limit = limit ?? max(2, w.count / 3)
    var best: (String, Int)?
    for c in candidates where abs(c.utf8.count - w.count) <= limit {
        let d = editDistance(w, Array(c.lowercased().utf8))
        if d <= limit, best == nil || d < best!.1 { best = (c, d) }
    }
    return best?.0
}

func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}
