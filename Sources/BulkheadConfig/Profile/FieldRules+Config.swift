import BulkheadModel

extension Result where Failure == FieldRefusal {
    /// The value, or the refusal as a `ConfigError` at `node` of a profile or a manifest.
    public func at(_ node: ConfigNode) throws(ConfigError) -> Success {
        switch self {
        case .success(let v): return v
        case .failure(let r): throw node.error(r.message)
        }
    }
}

extension NumberField {
    /// Parses a scalar node; a refusal is a `ConfigError` at the node. (A flag's value:
    /// `parse(text).at(flag:)`.)
    public func parse(_ node: ConfigNode) throws(ConfigError) -> UInt64 {
        try parse(try node.scalarText()).at(node)
    }
}
