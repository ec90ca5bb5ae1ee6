#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A connector file on disk, read and classified by `connector.class`.
public enum ConnectorFile {
    /// The connectors this build of Sluice can run.
    public enum Kind: String, Sendable, CaseIterable {
        case sqlServerSource = "sqlserver-source"
        case warehouseSink = "warehouse-sink"
        case postgresSink = "postgres-sink"
    }

    /// Reads `path`, substitutes the environment, and returns the properties and their kind.
    public static func load(path: String, environment: [String: String]) throws(ConfigurationError) -> (Kind, ConnectorProperties) {
        let bytes: [UInt8]
        do {
            bytes = try readAll(path)
        } catch {
            throw ConfigurationError(origin: path, problems: [.init(key: nil, message: "cannot read the file: \(error)")])
        }
        var properties = try ConnectorProperties.parse(bytes, origin: path, environment: environment)
        let cls = properties.string("connector.class") ?? ""
        if SQLServerSourceConfiguration.connectorClasses.contains(cls) { return (.sqlServerSource, properties) }
        if WarehouseSinkConfiguration.connectorClasses.contains(cls) { return (.warehouseSink, properties) }
        if PostgresSinkConfiguration.connectorClasses.contains(cls) { return (.postgresSink, properties) }
        let known = Kind.allCases.map(\.rawValue).joined(separator: ", ")
        throw ConfigurationError(origin: path, problems: [.init(
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
