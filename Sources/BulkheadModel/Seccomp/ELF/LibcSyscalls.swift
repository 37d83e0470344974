/// For each function glibc's libc.so.6 exports, the x86_64 system calls it can reach (generated
/// by scripts/gen-libc-syscalls.py from the Debian 12 libc it names: a call graph of libc's
/// disassembly with libc6-dbg's symbols; see that script for what it follows and what not).
public enum LibcSyscalls {
    /// The system-call names `function` can reach, or nil when the function makes none (or is
    /// not one of libc's).
    public static func calls(of function: String) -> [String]? {
        table[function].map { sets[$0] }
    }

    /// The glibc the table was generated from, e.g. "2.36-9+deb12u14".
    public static var generatedFrom: String { glibcVersion }

    /// The shared-object names whose imports the table answers for (their code is not scanned).
    public static let sonames: Set<String> = ["libc.so.6"]

    /// The sets, with each "@J" (a reference to an earlier line) replaced by that set's names.
    static let sets: [[String]] = {
        var out: [[String]] = []
        for line in setsText.split(separator: "\n", omittingEmptySubsequences: false) {
            var names = Set<String>()
            for word in line.split(separator: " ") {
                if word.first == "@", let j = Int(word.dropFirst()), j < out.count { names.formUnion(out[j]) } else { names.insert(String(word)) }
            }
            out.append(names.sorted())
        }
        return out
    }()

    static let table: [String: Int] = {
        var t: [String: Int] = [:]
        for line in functionsText.split(separator: "\n") {
            let p = line.split(separator: " ")
            if p.count == 2, let i = Int(p[1]), i < sets.count { t[String(p[0])] = i }
        }
        return t
    }()
}
