import SluiceKafka

/// One connector's configuration file, in Kafka Connect's REST shape:
///
/// ```json
/// { "name": "credit-source", "config": { "connector.class": "sqlserver-source", "topic.prefix": "credit", … } }
/// ```
///
/// Values are strings, numbers or booleans (numbers and booleans are read as their text). A value may
/// reference the environment as `${NAME}` or `${NAME:-default}`; `$${` is a literal `${`; `${…}` whose name
/// is not an environment variable name (e.g. `${source.table}`) is kept as written. A reference to a
/// variable that is not set, with no default, is a problem reported by `validate`, naming the variable.
///
/// `${file:PATH}` is replaced by the content of the file at PATH, without one trailing newline — the way
/// to hand a connector a secret from a credential file instead of the environment. PATH may itself
/// reference the environment, e.g. `${file:${CREDENTIALS_DIRECTORY}/staging-password}` under systemd's
/// `LoadCredential=`. A file that cannot be read is a problem naming the path and the reason.
public struct ConnectorProperties: Sendable {
    public let name: String
    /// The file the properties came from, for messages.
    public let origin: String
    private var values: [String: String]
    /// Problems found while reading: unset environment variables, wrong types, unknown keys, bad values.
    public private(set) var problems: [ConfigurationProblem] = []
    private var read: Set<String> = []

    public init(name: String, origin: String, values: [String: String]) {
        self.name = name
        self.origin = origin
        self.values = values
    }

    /// Parses a connector file's bytes, substituting environment variables.
    public static func parse(_ bytes: [UInt8], origin: String, environment: [String: String]) throws(ConfigurationError)
        -> ConnectorProperties
    {
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes)
        } catch {
            throw ConfigurationError(origin: origin, problems: [.init(key: nil, message: "\(error); fix the JSON syntax")])
        }
        guard let object = root.objectValue else {
            throw ConfigurationError(origin: origin, problems: [.init(key: nil, message: "the file must hold a JSON object {\"name\": …, \"config\": {…}}")])
        }
        guard let name = object["name"]?.stringValue, !name.isEmpty else {
            throw ConfigurationError(origin: origin, problems: [.init(key: "name", message: "missing: every connector needs a unique \"name\"")])
        }
        guard let config = object["config"]?.objectValue else {
            throw ConfigurationError(origin: origin, problems: [.init(key: "config", message: "missing: put the connector's properties in a \"config\" object")])
        }
        var problems: [ConfigurationProblem] = []
        var values: [String: String] = [:]
        for (key, value) in config {
            let text: String
            switch value {
            case .string(let s): text = s
            case .number(let n): text = n
            case .bool(let b): text = b ? "true" : "false"
            case .null: continue
            default:
                problems.append(.init(key: key, message: "must be a string, number or boolean"))
                continue
            }
            switch substitute(text, environment: environment) {
            case .success(let s): values[key] = s
            case .failure(let failure): problems.append(.init(key: key, message: failure.message))
            }
        }
        var properties = ConnectorProperties(name: name, origin: origin, values: values)
        properties.problems = problems
        return properties
    }

    /// Why a value's references could not be substituted.
    public struct SubstitutionFailure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }

        static func missingVariable(_ variable: String) -> SubstitutionFailure {
            SubstitutionFailure(message: "references ${\(variable)}, which is not set in the environment; export it (e.g. eval \"$(scripts/services env)\") or write ${\(variable):-default}")
        }
    }

    /// One value with its `${NAME}`, `${NAME:-default}` and `${file:PATH}` references substituted, as in
    /// connector files; for other configuration files (`sluice app --config`).
    public static func substitutingReferences(in text: String, environment: [String: String]) throws(SubstitutionFailure) -> String {
        try substitute(text, environment: environment).get()
    }

    /// The file-reference prefix: `${file:PATH}`.
    static let fileReferencePrefix = "{file:"

    static func substitute(_ text: String, environment: [String: String]) -> Result<String, SubstitutionFailure> {
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.hasPrefix("${") {  // $${ → literal ${
                out += "${"
                rest = after.dropFirst(2)
                continue
            }
            if after.hasPrefix(fileReferencePrefix) {
                switch fileReference(after, environment: environment) {
                case .success(let (content, remainder)):
                    out += content
                    rest = remainder
                    continue
                case .failure(let failure):
                    return .failure(failure)
                }
            }
            guard after.hasPrefix("{"), let close = after.firstIndex(of: "}") else {
                out += "$"
                rest = after
                continue
            }
            let reference = after[after.index(after: after.startIndex)..<close]
            let name: Substring
            let fallback: Substring?
            if let colon = reference.indices.first(where: {
                reference[$0] == ":" && reference.index(after: $0) < reference.endIndex
                    && reference[reference.index(after: $0)] == "-"
            }) {
                name = reference[..<colon]
                fallback = reference[reference.index(colon, offsetBy: 2)...]
            } else {
                name = reference
                fallback = nil
            }
            // Not a variable name (e.g. `${source.table}`, a placeholder of table.name.format): kept as written.
            if name.isEmpty || !name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) }) {
                out += "${" + reference + "}"
                rest = after[after.index(after: close)...]
                continue
            }
            if let value = environment[String(name)], !value.isEmpty {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                return .failure(.missingVariable(String(name)))
            }
            rest = after[after.index(after: close)...]
        }
        out += rest
        return .success(out)
    }

    /// `text` starts with `{file:`: finds the matching `}` (the path may hold `${NAME}` references),
    /// substitutes the path, reads the file. Returns its content without one trailing newline, and the
    /// text after the reference.
    static func fileReference(_ text: Substring, environment: [String: String]) -> Result<(String, Substring), SubstitutionFailure> {
        var depth = 0
        var close: Substring.Index?
        for index in text.indices {
            if text[index] == "{" { depth += 1 }
            if text[index] == "}" {
                depth -= 1
                if depth == 0 { close = index; break }
            }
        }
        guard let close else {
            return .failure(SubstitutionFailure(message: "has an unterminated ${file:…} reference; write ${file:/path/to/secret}"))
        }
        let rawPath = text[text.index(text.startIndex, offsetBy: fileReferencePrefix.count)..<close]
        let path: String
        switch substitute(String(rawPath), environment: environment) {
        case .success(let p): path = p
        case .failure(let failure): return .failure(failure)
        }
        guard !path.isEmpty else {
            return .failure(SubstitutionFailure(message: "has an empty ${file:} reference; write ${file:/path/to/secret}"))
        }
        let bytes: [UInt8]
        do {
            bytes = try ConnectorFile.readAll(path)
        } catch {
            var message = "references the file \(path) (${file:\(rawPath)}), which cannot be read: \(error.description)"
            if rawPath.contains("CREDENTIALS_DIRECTORY") {
                message += "; under systemd, the unit needs LoadCredential=\(path.split(separator: "/").last.map(String.init) ?? "NAME"):/path/to/the/secret"
            } else {
                message += "; create it (readable by the user sluice runs as) or fix the path"
            }
            return .failure(SubstitutionFailure(message: message))
        }
        var content = bytes[...]
        if content.last == UInt8(ascii: "\n") { content = content.dropLast() }
        if content.last == UInt8(ascii: "\r") { content = content.dropLast() }
        return .success((String(decoding: content, as: UTF8.self), text[text.index(after: close)...]))
    }

    // MARK: Typed reads (each records the key as known, and a problem when the value is bad)

    public mutating func string(_ key: String, default defaultValue: String? = nil, required: Bool = false) -> String? {
        read.insert(key)
        if let v = values[key], !v.isEmpty { return v }
        if required && defaultValue == nil { problems.append(.init(key: key, message: "missing: this key is required")) }
        return defaultValue
    }

    public mutating func secret(_ key: String, required: Bool = false) -> Secret? {
        string(key, required: required).map(Secret.init)
    }

    public mutating func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>? = nil) -> Int {
        read.insert(key)
        guard let text = values[key], !text.isEmpty else { return defaultValue }
        guard let value = Int(text) else {
            problems.append(.init(key: key, message: "\"\(text)\" is not a whole number"))
            return defaultValue
        }
        if let range, !range.contains(value) {
            problems.append(.init(key: key, message: "\(value) is out of range \(range.lowerBound)…\(range.upperBound)"))
            return defaultValue
        }
        return value
    }

    public mutating func bool(_ key: String, default defaultValue: Bool) -> Bool {
        read.insert(key)
        guard let text = values[key], !text.isEmpty else { return defaultValue }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default:
            problems.append(.init(key: key, message: "\"\(text)\" is not true or false"))
            return defaultValue
        }
    }

    /// A value from a fixed set (case-insensitive); the problem lists the allowed values.
    public mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: E) -> E
        where E.RawValue == String
    {
        read.insert(key)
        guard let text = values[key], !text.isEmpty else { return defaultValue }
        if let value = E.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) { return value }
        problems.append(.init(key: key, message: "\"\(text)\" is not one of: \(E.allCases.map(\.rawValue).joined(separator: ", "))"))
        return defaultValue
    }

    /// A comma-separated list, entries trimmed, empty entries dropped.
    public mutating func list(_ key: String) -> [String] {
        read.insert(key)
        guard let text = values[key] else { return [] }
        return text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    public mutating func addProblem(key: String?, _ message: String) {
        problems.append(.init(key: key, message: message))
    }

    /// Keys present in the file that no typed read asked for: likely typos.
    public func unknownKeys(ignoring prefixes: [String] = []) -> [String] {
        values.keys.filter { key in !read.contains(key) && !prefixes.contains(where: { key.hasPrefix($0) }) }.sorted()
    }

    /// Throws every problem found so far (plus unknown keys) at once, or returns.
    public func validate(allowingPrefixes prefixes: [String] = []) throws(ConfigurationError) {
        var all = problems
        for key in unknownKeys(ignoring: prefixes) {
            all.append(.init(key: key, message: "unknown key for this connector; check the spelling (see README \"Configuration\")"))
        }
        if !all.isEmpty { throw ConfigurationError(origin: origin, problems: all) }
    }

    /// The raw value, for pass-through properties (e.g. `kafka.*` given to librdkafka).
    public mutating func raw(prefix: String) -> [(String, String)] {
        let keys = values.keys.filter { $0.hasPrefix(prefix) }.sorted()
        keys.forEach { read.insert($0) }
        return keys.map { (String($0.dropFirst(prefix.count)), values[$0]!) }
    }
}

public struct ConfigurationProblem: Hashable, Sendable, CustomStringConvertible {
    public let key: String?
    public let message: String
    public init(key: String?, message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { key.map { "\($0): \(message)" } ?? message }
}

/// A connector file that cannot be used, with one line per problem.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let origin: String
    public let problems: [ConfigurationProblem]
    public init(origin: String, problems: [ConfigurationProblem]) {
        self.origin = origin
        self.problems = problems
    }
    public var description: String {
        "\(origin): \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        var s = self
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
