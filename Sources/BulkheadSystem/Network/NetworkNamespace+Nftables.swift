import BulkheadModel
import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The nft program bulkhead runs for nftables (Debian package nftables): a fixed path, checked
/// by `TrustedFile.openProgram` (root-owned, not writable by group or others, a regular file)
/// and executed from the checked fd. Not libnftables: the release build is a static
/// executable, and a static glibc cannot load a library that needs the shared libc.
public enum NftProgram {
    public static let path = "/usr/sbin/nft"
    /// How long one `nft -f -` may take before it is killed.
    public static let timeoutMilliseconds: Int32 = 30_000

    /// Opens the program through the checks (the caller closes the fd).
    public static func open() throws(SystemError) -> Int32 {
        try TrustedFile.openProgram(path, what: "nft program")
    }

    /// nft's stderr as bulkhead shows it: printable ASCII and line feeds (anything else becomes `?`), at
    /// most `limit` bytes, trailing newlines dropped. nft quotes the rules it rejects; the
    /// rules are bulkhead's, but a name in them may come from a manifest.
    public static func shown(_ bytes: some Sequence<UInt8>, limit: Int = 2048) -> String {
        var out: [UInt8] = []
        for b in bytes {
            if out.count >= limit { out.append(contentsOf: Array("…".utf8)); break }
            out.append(b == 0x0a || (b >= 0x20 && b < 0x7f) ? b : UInt8(ascii: "?"))
        }
        while out.last == 0x0a { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}

extension NetworkNamespace {
    /// Runs nft commands (the nft(8) language, applied as one transaction) inside this
    /// namespace with the nft program (`NftProgram`), and returns nft's output (for `list …`).
    /// The program runs in a child that joined the namespace (CShims bh_nft_exec).
    @discardableResult
    public func runNftables(_ commands: String) throws(NetworkError) -> String {
        guard let nsfd = fileDescriptor else { throw NetworkError(code: .closed, operation: "run nft", namespace: path) }
        let first = commands.split(separator: "\n").first.map(String.init) ?? ""
        let operation = "run nft \"\(NftProgram.shown(first.utf8, limit: 80))…\""
        let program: Int32
        do { program = try NftProgram.open() } catch {
            throw NetworkError(code: .nftables, operation: operation, namespace: path, errno: error.errno,
                               detail: error.operation,
                               fix: error.errno == Errno(ENOENT) ? "pods' node network and NetworkPolicies run \(NftProgram.path): apt-get install nftables" : error.hint ?? "")
        }
        defer { Glibc.close(program) }
        let outCap = 1 << 18, errCap = 1 << 14
        var out = [CChar](repeating: 0, count: outCap)
        var err = [CChar](repeating: 0, count: errCap)
        var result = bh_nft_result()
        let length = commands.utf8.count
        let rc = commands.withCString { c in
            out.withUnsafeMutableBufferPointer { o in
                err.withUnsafeMutableBufferPointer { e in
                    bh_nft_exec(program, nsfd, c, length, NftProgram.timeoutMilliseconds,
                                o.baseAddress!, outCap, e.baseAddress!, errCap, &result)
                }
            }
        }
        let errText = NftProgram.shown(err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
        guard rc == 0 else {
            throw NetworkError(code: .nftables, operation: operation, namespace: path, errno: Errno(rc),
                               detail: rc == ETIMEDOUT ? "nft ran longer than \(NftProgram.timeoutMilliseconds / 1000) s and was killed" : errText,
                               fix: "")
        }
        if result.step != BH_NFT_STEP_NONE {
            let step = result.step == BH_NFT_STEP_SETNS ? "setns(CLONE_NEWNET) in nft's child"
                : result.step == BH_NFT_STEP_EXEC ? "execveat \(NftProgram.path)" : "prepare nft's child (prctl, dup2, close_range)"
            throw NetworkError(code: .nftables, operation: "\(operation): \(step)", namespace: path, errno: Errno(result.child_errno),
                               fix: result.step == BH_NFT_STEP_EXEC ? "check that \(NftProgram.path) runs: \(NftProgram.path) --version" : "")
        }
        let status = result.status
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            let how = status & 0x7f == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
            throw NetworkError(code: .nftables, operation: operation, namespace: path,
                               detail: errText.isEmpty ? "nft \(how)" : "nft \(how): \(errText)")
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes the node's policy table (`NodeFirewall.table`); fine when there is none.
    public func removeBridgeFilter() throws(NetworkError) {
        try runNftables(NodeFirewall.deleteScript)
    }

    /// `list ruleset` of this namespace, as nft prints it.
    public func nftRuleset() throws(NetworkError) -> String {
        try runNftables("list ruleset")
    }
}
