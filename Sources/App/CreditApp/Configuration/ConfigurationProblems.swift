/// Configuration problems, one line each.
public struct ConfigurationProblems: Error, CustomStringConvertible {
    public let lines: [String]
    public var description: String { lines.joined(separator: "\n") }
}
