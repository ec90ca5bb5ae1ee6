#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A connector file on disk: read, and classified by `connector.class` among the connectors a caller
/// knows (``ConnectorRegistry`` for `sluice run`/`validate`/`offsets`).
public enum ConnectorFile {
    /// Reads `path` and substitutes the environment.
    public static func read(path: String, environment: [String: String]) throws(ConfigurationError) -> ConnectorProperties {
        let bytes: [UInt8]
        do {
            bytes = try readAll(path)
        } catch {
            throw ConfigurationError(origin: path, problems: [.init(key: nil, message: "cannot read the file: \(error)")])
        }
        return try ConnectorProperties.parse(bytes, origin: path, environment: environment)
    }

    /// Reads `path` and validates it as the one of `types` whose ``ConnectorConfiguration/connectorClasses``
    /// hold its `connector.class`.
    public static func load(path: String, environment: [String: String],
                            as types: [any ConnectorConfiguration.Type]) throws(ConfigurationError) -> any ConnectorConfiguration {
        let properties = try read(path: path, environment: environment)
        return try select(properties, among: types.map { ($0, $0) }).init(properties)
    }

    /// The entry whose configuration type takes the file's `connector.class`; the problem names the known ones.
    static func select<T>(_ properties: ConnectorProperties,
                          among candidates: [(T, any ConnectorConfiguration.Type)]) throws(ConfigurationError) -> T {
        var p = properties
        let cls = p.string("connector.class") ?? ""
        if let match = candidates.first(where: { $0.1.connectorClasses.contains(cls) }) { return match.0 }
        let known = candidates.map { $0.1.kind }.joined(separator: ", ")
        throw ConfigurationError(origin: properties.origin, problems: [.init(
            key: "connector.class",
            message: cls.isEmpty ? "missing: set it to one of \(known)" : "\"\(cls)\" is not a connector this Sluice runs (\(known))")])
    }

    struct ReadError: Error, CustomStringConvertible {
        let description: String
    }

    static func readAll(_ path: String) throws(ReadError) -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw ReadError(description: String(cString: strerror(errno))) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { bytes += buffer[0..<n] }
            if n < buffer.count {
                if ferror(file) != 0 { throw ReadError(description: String(cString: strerror(errno))) }
                break
            }
        }
        return bytes
    }
}
