import Foundation
import Glibc
import Testing

/// Every command README.md, docs/*.md and Examples/* show runs, extracted from the files (the
/// rule is in Support/DocCommands.swift), and its shown output is compared. A doc command that
/// fails, or whose output no longer matches, fails here with the file and line.
///
/// Each document's commands run in order, as root, in a scratch directory of their own that
/// holds a copy of Examples/ and the yaml files the document names, with this build's
/// `bulkhead` first on PATH. Pods use global state: run under `flock /tmp/bh-podtests.lock`.
/// BULKHEAD_DOC_ROOT reads the documents from another tree (to see a broken doc fail).
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct DocCommandTests {
    static let root = ProcessInfo.processInfo.environment["BULKHEAD_DOC_ROOT"] ?? Bulkhead.packageRoot
    static let documents = DocCommands.documents(root: root)

    /// The rule finds the commands it must: a guard against an extractor that finds nothing.
    @Test func theRuleFindsTheCommands() throws {
        let all = Self.documents.map { DocCommands.parse(root: Self.root, path: $0) }
        let commands = all.flatMap(\.commands)
        #expect(commands.contains { $0.file == "README.md" && $0.text.hasPrefix("bulkhead profile list") && $0.expected != nil })
        #expect(commands.contains { $0.file == "README.md" && $0.text.hasPrefix("./scripts/quickstart.sh") && $0.mode == .syntaxOnly })
        #expect(commands.contains { $0.file.hasPrefix("Examples/") })
        #expect(commands.contains { $0.file == "docs/seccomp.md" })
        // The extractor itself, on text made here.
        let doc = DocCommands.markdown("t.md", [
            "<!-- doc-test: skip -->", "```sh", "false", "```",
            "```", "$ echo a \\", "  b", "a b", "$ true", "```",
            "```", "bulkhead run -- id", "```",
            "```yaml", "# p.yaml: a profile", "kind: LayerProfile", "```",
        ])
        #expect(doc.errors.count == 2, "a marker without a reason and an unmarked command block: \(doc.errors)")
        #expect(doc.commands.map(\.text) == ["echo a \\\n  b", "true"])
        #expect(doc.commands.first?.line == 6)
        #expect(doc.commands.first?.expected == ["a b"])
        #expect(doc.files.map(\.name) == ["p.yaml"])
        #expect(DocCommands.matches(shown: ["x …", "…", "z"], actual: ["x 1 2", "y", "y", "z"]))
        #expect(!DocCommands.matches(shown: ["x …", "z"], actual: ["x 1", "y", "z"]))
        #expect(!DocCommands.matches(shown: ["a"], actual: ["b"]))
    }

    @Test(arguments: documents)
    func everyShownCommandRuns(_ path: String) throws {
        let doc = DocCommands.parse(root: Self.root, path: path)
        for e in doc.errors { Issue.record(Comment(rawValue: e)) }
        guard !doc.commands.isEmpty || !doc.files.isEmpty else { return }
        let fm = FileManager.default
        let scratch = NSTemporaryDirectory() + "bh-doc-\(token())"
        try fm.createDirectory(atPath: scratch + "/bin", withIntermediateDirectories: true)
        defer { if ProcessInfo.processInfo.environment["BULKHEAD_DOC_KEEP"] == nil { try? fm.removeItem(atPath: scratch) } }
        try fm.createSymbolicLink(atPath: scratch + "/bin/bulkhead", withDestinationPath: Bulkhead.binary)
        try fm.copyItem(atPath: Self.root + "/Examples", toPath: scratch + "/Examples")
        for f in doc.files { try f.text.write(toFile: scratch + "/" + f.name, atomically: true, encoding: .utf8) }
        let before = leftovers(scratch)
        for c in doc.commands {
            switch c.mode {
            case .syntaxOnly: checkSyntax(c)
            case .run: run(c, in: scratch)
            }
        }
        // A doc ends what it starts: a pod still running or a policy still stored would change
        // what the next document (or a reader's next command) sees. Removed here either way.
        for (kind, ns, name) in leftovers(scratch).subtracting(before).map({ ($0.kind, $0.namespace, $0.name) }) {
            Issue.record(Comment(rawValue: "\(path): leaves \(kind) \(ns)/\(name) behind"))
            let cmd = kind == "pod" ? "bulkhead pod stop \(name) -n \(ns) --grace 1" : "bulkhead policy delete -n \(ns) \(name)"
            _ = shell(["bash", "-c", cmd], cwd: scratch, path: scratch + "/bin")
        }
    }

    struct Leftover: Hashable { let kind: String, namespace: String, name: String }

    /// The running pods and stored policies, from `pod ls` and `policy ls`.
    func leftovers(_ scratch: String) -> Set<Leftover> {
        var out: Set<Leftover> = []
        for kind in ["pod", "policy"] {
            let r = shell(["bulkhead", kind, "ls"], cwd: scratch, path: scratch + "/bin")
            for line in r.output.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                if f.count >= 2 { out.insert(Leftover(kind: kind, namespace: f[0], name: f[1])) }
            }
        }
        return out
    }

    /// `bash -n`, and every script the command names exists (relative to the package root).
    func checkSyntax(_ c: DocCommand) {
        let r = shell(["bash", "-n", "-c", c.text], cwd: Self.root)
        if r.status != 0 { Issue.record(Comment(rawValue: "\(c.file):\(c.line): bash -n: \(r.output)")) }
        for word in c.text.split(whereSeparator: { " \n\t".contains($0) }) where word.hasSuffix(".sh") {
            let p = word.hasPrefix("/") ? String(word) : Self.root + "/" + word
            if !FileManager.default.isExecutableFile(atPath: p) {
                Issue.record(Comment(rawValue: "\(c.file):\(c.line): \(word) does not exist or is not executable"))
            } else if shell(["bash", "-n", p], cwd: Self.root).status != 0 {
                Issue.record(Comment(rawValue: "\(c.file):\(c.line): bash -n \(word) fails"))
            }
        }
    }

    func run(_ c: DocCommand, in scratch: String) {
        let started = Date()
        defer {
            if ProcessInfo.processInfo.environment["BULKHEAD_DOC_KEEP"] != nil {
                FileHandle.standardError.write(Data("doc-test \(c.file):\(c.line) \(Int(Date().timeIntervalSince(started) * 1000)) ms in \(scratch)\n".utf8))
            }
        }
        let r = shell(["timeout", "-k", "5", "60", "bash", "-c", c.text], cwd: scratch, path: scratch + "/bin")
        let actual = r.output.components(separatedBy: "\n")
        if let shown = c.expected {
            if !DocCommands.matches(shown: shown, actual: actual) {
                Issue.record(Comment(rawValue: """
                    \(c.file):\(c.line): the output of `\(c.text)` (exit \(r.status)) is not what the doc shows.
                    shown:
                    \(shown.joined(separator: "\n"))
                    actual:
                    \(r.output)
                    """))
            } else if r.status != 0 && shown.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                Issue.record(Comment(rawValue: "\(c.file):\(c.line): `\(c.text)` exits \(r.status):\n\(r.output)"))
            }
        } else if r.status != 0 {
            Issue.record(Comment(rawValue: "\(c.file):\(c.line): `\(c.text)` exits \(r.status):\n\(r.output)"))
        }
    }

    /// Runs argv with stdout and stderr into one file, stdin /dev/null, and waits for argv's
    /// own process only: a command may leave a process in the background holding its output
    /// (Foundation's Process waits for that one too).
    func shell(_ argv: [String], cwd: String, path: String? = nil) -> (status: Int32, output: String) {
        let out = NSTemporaryDirectory() + "bh-doc-out-\(token())"
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return (-1, "cannot open \(out): errno \(errno)") }
        defer { unlink(out) }
        var env = ProcessInfo.processInfo.environment
        if let path { env["PATH"] = path + ":" + (env["PATH"] ?? "/usr/bin:/bin") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, 1)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)
        let args = (["/usr/bin/env", "-C", cwd] + argv).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { args.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/env", &actions, nil, args, envp)
        close(fd)
        guard rc == 0 else { return (-1, "cannot start \(argv): errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, text)
    }
}
