/// Where a value is in a configuration document: the file, the field's path and, for a parsed
/// document, its line and column. A parsed node gives its place (`ConfigNode.place`); checks in
/// the model that run on parsed and built values alike (`SeccompPolicyValidation`) throw at it.
public struct ConfigPlace: Sendable, Equatable {
    public var file: String
    public var path: String
    public var line: Int?
    public var column: Int?

    public init(file: String, path: String, line: Int? = nil, column: Int? = nil) {
        self.file = file; self.path = path; self.line = line; self.column = column
    }

    public func error(_ message: String) -> ConfigError {
        ConfigError(file: file, field: path, line: line, column: column, message: message)
    }
}
