/// Plain text columns, as kubectl prints them: each column as wide as its widest cell, two
/// spaces apart, no trailing blanks.
///
/// Cells are data others chose (the command line of a sandbox someone else started, which
/// root's `ps` lists): every control character, format character (bidi overrides) and line
/// or paragraph separator is shown escaped (`\n`, `\u{1B}`), so no cell moves the reader's
/// terminal, rewrites its title or forges a row.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(printable) }
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - cell.count + 2) }
            }
            return line
        }.joined(separator: "\n") + "\n"
    }

    /// `text` with every scalar a terminal would act on escaped; the rest unchanged.
    static func printable(_ text: String) -> String {
        let named: [Unicode.Scalar: String] = ["\n": "\\n", "\r": "\\r", "\t": "\\t"]
        let acted: Set<Unicode.GeneralCategory> = [.control, .format, .lineSeparator, .paragraphSeparator]
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            guard acted.contains(s.properties.generalCategory) else { out.append(s); continue }
            out.append(contentsOf: (named[s] ?? "\\u{\(String(s.value, radix: 16, uppercase: true))}").unicodeScalars)
        }
        return String(out)
    }
}
