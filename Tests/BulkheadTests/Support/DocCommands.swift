import Foundation

/// The commands the documentation shows, extracted from the files themselves (README.md,
/// docs/*.md, Examples/*), so a doc example that stops working fails `DocCommandTests`.
///
/// The rule, for Markdown:
/// - in a ```` ```sh ```` or ```` ```console ```` block, every line is a command (a line
///   ending in `\` continues on the next); if some lines start with the prompt `$ `, only
///   those are commands and the lines after each, up to the next prompt, are its output;
/// - in a plain ```` ``` ```` or ```` ```text ```` block, only `$ ` lines are commands, with
///   their output after them;
/// - a ```` ```yaml ```` block whose first line is `# NAME.yaml` (or `# NAME.yaml: …`) is a
///   file: it is written into the scratch directory before the file's commands run;
/// - `<!-- doc-test: skip REASON -->` on the line before a block: its commands are not run;
///   `<!-- doc-test: syntax-only REASON -->`: they are checked with `bash -n`, and every
///   script they name must exist (install and build commands: the suite is their result).
///   A marker without a reason is an error;
/// - a plain block that starts with a command word (`bulkhead …`, `swift …`, a script) is an
///   error: write it as ```` ```sh ```` or with `$ ` prompts (```` ```text ```` for a synopsis).
///
/// For Examples/* (YAML): a comment line `# $ CMD` is a command, run from the repository's
/// copy (`Examples/…` paths), and the comment lines `# > TEXT` right after it are its output.
///
/// Shown output is compared with what the command writes to stdout and stderr together:
/// `…` in a line matches any text, a line of only `…` any number of lines (none included).
/// A command passes when it exits 0 and its output matches; a command shown with its output
/// may exit non-zero (it shows a failure) when that output matches.
struct DocCommand: Sendable, CustomStringConvertible {
    enum Mode: Sendable { case run, syntaxOnly }
    let file: String        // relative to the package root
    let line: Int           // 1-based, the command's first line
    let text: String
    let expected: [String]? // nil: no output shown, not compared
    let mode: Mode
    var description: String { "\(file):\(line): \(text)" }
}

struct DocFile: Sendable {
    let path: String
    var commands: [DocCommand] = []
    var files: [(name: String, text: String)] = []
    var errors: [String] = []
}

enum DocCommands {
    /// README.md, docs/*.md and Examples/*, relative to `root`.
    static func documents(root: String) -> [String] {
        let fm = FileManager.default
        var out = ["README.md"]
        for dir in ["docs", "Examples"] {
            let names = ((try? fm.contentsOfDirectory(atPath: root + "/" + dir)) ?? []).sorted()
            for n in names where !n.hasPrefix(".") {
                if dir == "docs" && !n.hasSuffix(".md") { continue }
                out.append(dir + "/" + n)
            }
        }
        return out
    }

    static func parse(root: String, path: String) -> DocFile {
        let text = (try? String(contentsOfFile: root + "/" + path, encoding: .utf8)) ?? ""
        let lines = text.components(separatedBy: "\n")
        return path.hasSuffix(".md") ? markdown(path, lines) : example(path, lines)
    }

    static let commandWords: Set<String> = ["bulkhead", "swift", "sudo", "install", "hyperfine", "nsenter", "bwrap", "runc", "sh", "bash"]
    static let marker = "<!-- doc-test:"

    static func markdown(_ path: String, _ lines: [String]) -> DocFile {
        var doc = DocFile(path: path)
        var i = 0
        while i < lines.count {
            let line = lines[i]
            guard line.hasPrefix("```") else { i += 1; continue }
            let lang = String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces)
            var end = i + 1
            while end < lines.count && !lines[end].hasPrefix("```") { end += 1 }
            let body = Array(lines[(i + 1)..<min(end, lines.count)])
            let bodyStart = i + 2                      // 1-based line of body[0]
            // The marker, if any: the last non-blank line before the fence.
            var mode: DocCommand.Mode = .run
            var skip = false
            var j = i - 1
            while j >= 0 && lines[j].trimmingCharacters(in: .whitespaces).isEmpty { j -= 1 }
            if j >= 0, lines[j].hasPrefix(marker) {
                let inner = lines[j].dropFirst(marker.count).replacingOccurrences(of: "-->", with: "")
                    .trimmingCharacters(in: .whitespaces)
                let words = inner.split(separator: " ", maxSplits: 1).map(String.init)
                let kind = words.first ?? ""
                let reason = words.count > 1 ? words[1].trimmingCharacters(in: .whitespaces) : ""
                if reason.isEmpty { doc.errors.append("\(path):\(j + 1): doc-test marker \"\(kind)\" without a reason") }
                switch kind {
                case "skip": skip = true
                case "syntax-only": mode = .syntaxOnly
                default: doc.errors.append("\(path):\(j + 1): unknown doc-test marker \"\(kind)\" (skip or syntax-only)")
                }
            }
            defer { i = end + 1 }
            if lang == "yaml", let first = body.first, let name = fileName(first) {
                doc.files.append((name, body.joined(separator: "\n") + "\n"))
                continue
            }
            guard ["sh", "console", "", "text"].contains(lang) else { continue }
            let prompted = body.contains { $0.hasPrefix("$ ") }
            if lang.isEmpty && !prompted, let first = body.first(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                let word = first.split(separator: " ").first.map(String.init) ?? ""
                if commandWords.contains(word) || word.hasPrefix("./") || word.hasPrefix("scripts/")
                    || word.range(of: #"^[A-Z_]+="#, options: .regularExpression) != nil {
                    doc.errors.append("\(path):\(bodyStart): a block of commands without ```sh or `$ ` prompts (\(first.prefix(40))…); mark it ```sh, or ```text for a synopsis")
                }
            }
            if skip { continue }
            if prompted {
                var k = 0
                while k < body.count {
                    guard body[k].hasPrefix("$ ") else { k += 1; continue }
                    let start = k
                    var cmd = String(body[k].dropFirst(2))
                    while cmd.hasSuffix("\\") && k + 1 < body.count { k += 1; cmd += "\n" + body[k] }
                    k += 1
                    var out: [String] = []
                    while k < body.count && !body[k].hasPrefix("$ ") { out.append(body[k]); k += 1 }
                    doc.commands.append(DocCommand(file: path, line: bodyStart + start, text: cmd, expected: out, mode: mode))
                }
            } else if lang == "sh" || lang == "console" {
                var k = 0
                while k < body.count {
                    let start = k
                    var cmd = body[k]
                    while cmd.hasSuffix("\\") && k + 1 < body.count { k += 1; cmd += "\n" + body[k] }
                    k += 1
                    let t = cmd.trimmingCharacters(in: .whitespaces)
                    if t.isEmpty || t.hasPrefix("#") { continue }
                    doc.commands.append(DocCommand(file: path, line: bodyStart + start, text: cmd, expected: nil, mode: mode))
                }
            }
        }
        return doc
    }

    /// `# NAME.yaml` or `# NAME.yaml: …` names the file a yaml block is.
    static func fileName(_ line: String) -> String? {
        guard line.hasPrefix("# ") else { return nil }
        let rest = line.dropFirst(2)
        let name = String(rest.prefix { $0 != ":" && $0 != " " })
        guard name.range(of: #"^[A-Za-z0-9_-][A-Za-z0-9._-]*\.(yaml|json)$"#, options: .regularExpression) != nil else { return nil }
        return name
    }

    static func example(_ path: String, _ lines: [String]) -> DocFile {
        var doc = DocFile(path: path)
        var k = 0
        while k < lines.count {
            guard lines[k].hasPrefix("# $ ") else { k += 1; continue }
            let start = k
            let cmd = String(lines[k].dropFirst(4))
            k += 1
            var out: [String] = []
            while k < lines.count && (lines[k].hasPrefix("# > ") || lines[k] == "# >") {
                out.append(String(lines[k].dropFirst(lines[k] == "# >" ? 3 : 4))); k += 1
            }
            doc.commands.append(DocCommand(file: path, line: start + 1, text: cmd, expected: out.isEmpty ? nil : out, mode: .run))
        }
        return doc
    }

    /// Whether `actual` matches the shown lines: `…` in a line matches any text, a line of only
    /// `…` any number of whole lines. Trailing blank lines and trailing spaces are ignored.
    static func matches(shown: [String], actual: [String]) -> Bool {
        func trim(_ a: [String]) -> [String] {
            var a = a.map { String($0.reversed().drop { $0 == " " }.reversed()) }
            while a.last == "" { a.removeLast() }
            return a
        }
        let s = trim(shown), a = trim(actual)
        // memo[i][j]: s[i...] matches a[j...]
        var memo = [[Bool?]](repeating: [Bool?](repeating: nil, count: a.count + 1), count: s.count + 1)
        func go(_ i: Int, _ j: Int) -> Bool {
            if let m = memo[i][j] { return m }
            let r: Bool
            if i == s.count { r = j == a.count }
            else if s[i].trimmingCharacters(in: .whitespaces) == "…" { r = go(i + 1, j) || (j < a.count && go(i, j + 1)) }
            else { r = j < a.count && lineMatches(s[i], a[j]) && go(i + 1, j + 1) }
            memo[i][j] = r
            return r
        }
        return go(0, 0)
    }

    static func lineMatches(_ shown: String, _ actual: String) -> Bool {
        let parts = shown.components(separatedBy: "…")
        if parts.count == 1 { return shown == actual }
        var rest = Substring(actual)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for p in parts.dropFirst().dropLast() {
            guard let r = rest.range(of: p) else { return false }
            rest = rest[r.upperBound...]
        }
        return rest.hasSuffix(parts.last!)
    }
}
