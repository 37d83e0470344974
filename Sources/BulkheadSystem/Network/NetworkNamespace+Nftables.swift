import BulkheadModel
import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension NetworkNamespace {
    /// Runs nft commands (the nft(8) language, applied as one transaction) inside this
    /// namespace with libnftables, and returns nft's output (for `list …`). libnftables opens
    /// its own netlink socket, so the whole call runs on a helper thread that joined the
    /// namespace first (see CShims/include/bh_netlink.h).
    @discardableResult
    public func runNftables(_ commands: String) throws(NetworkError) -> String {
        guard let nsfd = fileDescriptor else { throw NetworkError(code: .closed, operation: "run nft", namespace: path) }
        let outCap = 1 << 18, errCap = 1 << 14
        var out = [CChar](repeating: 0, count: outCap)
        var err = [CChar](repeating: 0, count: errCap)
        let rc = out.withUnsafeMutableBufferPointer { o in
            err.withUnsafeMutableBufferPointer { e in
                bh_nft_run(nsfd, commands, o.baseAddress!, outCap, e.baseAddress!, errCap)
            }
        }
        let errText = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard rc == 0 else {
            let first = commands.split(separator: "\n").first.map(String.init) ?? ""
            throw NetworkError(code: .nftables, operation: "run nft \"\(first)…\"", namespace: path, errno: Errno(rc),
                               detail: errText.trimmingTrailingNewlines(),
                               fix: rc == ELIBACC ? "install libnftables1 (apt-get install libnftables1)" : "")
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

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var s = self
        while s.last == "\n" { s.removeLast() }
        return s
    }
}
