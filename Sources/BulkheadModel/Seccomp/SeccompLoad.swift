/// What to do with a system-call name bulkhead does not know.
public enum SeccompUnknownNames: Sendable, Hashable {
    /// A `ConfigError` naming the field, with the closest known name.
    case refuse
    /// Leave the name out, with a note: what runc does ("unknown seccomp syscall ignored"), so
    /// that a profile written for a newer kernel still loads.
    case skip
}

/// Something the loader changed to read a profile as runc does: the rule (by its place in the
/// file) and the system calls concerned. It never carries the file's text: a name is given
/// only when it is spelled as a system-call name is (lower-case letters, digits, '_', at most
/// 64 characters), else the note says where it is.
public struct SeccompLoadNote: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A name bulkhead does not know, left out.
        case unknownName
        /// A rule ignored or replaced for one call because of another rule.
        case conflict
        /// A rule with the default action, skipped.
        case sameAsDefault
        /// A rule with two conditions on one argument, loaded as one rule per condition.
        case conditionsSplit
    }

    public var kind: Kind
    /// The system calls concerned, each shown only if it is spelled as a system-call name.
    public var names: [String]
    public var file: String
    /// `syscalls[i]` (or `syscalls[i].names[j]` for an unknown name).
    public var field: String
    public var line: Int?
    public var message: String
    /// The names are withheld (the file is not readable by everyone).
    public var hidden = false

    package init(kind: Kind, names: [String], file: String, field: String, line: Int?, message: String) {
        self.kind = kind
        self.names = names
        self.file = file
        self.field = field
        self.line = line
        self.message = message
    }


    /// Whether `s` can be shown as a system-call name (any other text is not echoed).
    public static func isPrintableName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// The names, printable ones as they are, others as "(not a system-call name)".
    public var shownNames: String {
        if hidden { return "(a name, not shown: the file is not readable by everyone)" }
        return names.map { Self.isPrintableName($0) ? $0 : "(not a system-call name)" }.joined(separator: ", ")
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": \(field): "
        switch kind {
        case .unknownName: s += "unknown system call \(shownNames) skipped, as runc does (pass --strict to refuse it)"
        default: s += "\(shownNames): \(message)"
        }
        return s
    }

    /// The note without anything read from the file but its place: for a file not everyone can read.
    public func withoutContent() -> SeccompLoadNote {
        var n = self
        n.names = []
        n.hidden = true
        return n
    }
}

/// A parsed policy and what the loader changed to read it as runc does.
public struct SeccompLoad: Sendable {
    public var policy: SeccompPolicy
    public var notes: [SeccompLoadNote]

    package init(policy: SeccompPolicy, notes: [SeccompLoadNote]) {
        self.policy = policy; self.notes = notes
    }

    /// The lines to print for `notes`: at most `limit`, then one line saying how many more, so
    /// a hostile file of a hundred thousand unknown names prints a screenful, not the file.
    public static func warnings(_ notes: [SeccompLoadNote], limit: Int = 20) -> [String] {
        var out = notes.prefix(limit).map { "warning: seccomp: \($0)" }
        if notes.count > limit, let file = notes.first?.file {
            out.append("warning: seccomp: \(file): \(notes.count - limit) more changes of the same kinds not listed (pass --strict to see the first as an error)")
        }
        return out
    }
}
