/// Kubernetes label rules and label selectors (k8s.io/apimachinery `metav1.LabelSelector`):
/// `matchLabels` and `matchExpressions` with In, NotIn, Exists and DoesNotExist, ANDed.
/// An empty selector (`{}`) selects everything; NotIn and DoesNotExist also match objects
/// that lack the key, as Kubernetes defines them.
public struct LabelSelector: Sendable, Equatable, Hashable {
    public var matchLabels: [String: String]
    public var matchExpressions: [Requirement]

    public init(matchLabels: [String: String] = [:], matchExpressions: [Requirement] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// `{}`: selects every object.
    public static let everything = LabelSelector()

    public var isEmpty: Bool { matchLabels.isEmpty && matchExpressions.isEmpty }

    public struct Requirement: Sendable, Equatable, Hashable {
        public var key: String
        public var `operator`: Operator
        public var values: [String]
        public init(key: String, operator: Operator, values: [String] = []) {
            self.key = key; self.operator = `operator`; self.values = values
        }
    }

    public enum Operator: String, Sendable, CaseIterable, Hashable {
        case `in` = "In", notIn = "NotIn", exists = "Exists", doesNotExist = "DoesNotExist"
    }

    /// Whether an object with `labels` is selected (every term must hold).
    public func matches(_ labels: [String: String]) -> Bool {
        for (k, v) in matchLabels where labels[k] != v { return false }
        for r in matchExpressions {
            let have = labels[r.key]
            switch r.operator {
            case .in: guard let have, r.values.contains(have) else { return false }
            case .notIn: if let have, r.values.contains(have) { return false }
            case .exists: if have == nil { return false }
            case .doesNotExist: if have != nil { return false }
            }
        }
        return true
    }

}

/// Names, label keys and label values as Kubernetes validates them
/// (k8s.io/apimachinery/pkg/util/validation).
public enum KubernetesLabels {
    /// Why `s` is not a DNS-1123 label (≤ 63 of a-z, 0-9, '-', alphanumeric at both ends), or nil.
    public static func dnsLabelProblem(_ s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if s.utf8.count > 63 { return "is longer than 63 characters" }
        guard s.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else {
            return "may contain only lower-case letters, digits and '-' (a DNS-1123 label)"
        }
        if s.first == "-" || s.last == "-" { return "must start and end with a letter or digit" }
        return nil
    }

    /// Why `s` is not a label (or annotation) key: an optional DNS-subdomain prefix and '/',
    /// then a name of ≤ 63 alphanumerics, '-', '_', '.', alphanumeric at both ends.
    public static func keyProblem(_ s: String) -> String? {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var name = Substring(s)
        if parts.count == 2 {
            if let p = KubernetesName.problem(String(parts[0])) { return "has a prefix that \(p)" }
            name = parts[1]
        }
        if name.isEmpty { return "has an empty name" }
        if name.utf8.count > 63 { return "has a name longer than 63 characters" }
        return nameCharactersProblem(name)
    }

    /// Why `s` is not a label value (≤ 63, may be empty, else like a key's name part).
    public static func valueProblem(_ s: String) -> String? {
        if s.isEmpty { return nil }
        if s.utf8.count > 63 { return "is longer than 63 characters" }
        return nameCharactersProblem(Substring(s))
    }

    static func nameCharactersProblem(_ s: Substring) -> String? {
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) }
        guard s.utf8.allSatisfy({ alnum($0) || $0 == 45 || $0 == 95 || $0 == 46 }) else {
            return "may contain only letters, digits, '-', '_' and '.'"
        }
        guard let f = s.utf8.first, let l = s.utf8.last, alnum(f), alnum(l) else {
            return "must start and end with a letter or digit"
        }
        return nil
    }


}
