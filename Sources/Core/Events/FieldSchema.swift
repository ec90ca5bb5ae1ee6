/// The Kafka Connect schema of one field, as Debezium writes it in the optional `schema` block of a
/// JSON message (`key.converter.schemas.enable` / `value.converter.schemas.enable`).
public struct FieldSchema: Hashable, Sendable {
    /// Connect's primitive type.
    public enum ConnectType: String, Hashable, Sendable {
        case int8, int16, int32, int64, float32, float64, boolean, string, bytes
    }

    public var field: String
    public var type: ConnectType
    public var optional: Bool
    /// The logical type, e.g. `io.debezium.time.NanoTimestamp` or `org.apache.kafka.connect.data.Decimal`.
    public var name: String?
    public var parameters: [(String, String)]
    public var version: Int?

    public init(field: String, type: ConnectType, optional: Bool, name: String? = nil,
                parameters: [(String, String)] = [], version: Int? = nil) {
        self.field = field
        self.type = type
        self.optional = optional
        self.name = name
        self.parameters = parameters
        self.version = version
    }

    public static func == (lhs: FieldSchema, rhs: FieldSchema) -> Bool {
        lhs.field == rhs.field && lhs.type == rhs.type && lhs.optional == rhs.optional && lhs.name == rhs.name
            && lhs.parameters.elementsEqual(rhs.parameters, by: { $0 == $1 }) && lhs.version == rhs.version
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(field)
        hasher.combine(type)
        hasher.combine(optional)
        hasher.combine(name)
        for (k, v) in parameters { hasher.combine(k); hasher.combine(v) }
        hasher.combine(version)
    }

    /// The schema as JSON, in Connect's field order.
    public var json: JSONValue {
        var object: JSONObject = ["type": .string(type.rawValue), "optional": .bool(optional)]
        if let name { object["name"] = .string(name) }
        if let version { object["version"] = .int(version) }
        if !parameters.isEmpty {
            object["parameters"] = .object(JSONObject(parameters.map { (key: $0.0, value: .string($0.1)) }))
        }
        object["field"] = .string(field)
        return .object(object)
    }
}

/// The row schema of one table: its columns in order and which of them form the message key.
public struct TableSchema: Hashable, Sendable {
    public var table: TableID
    public var columns: [FieldSchema]
    public var keyColumns: [String]

    public init(table: TableID, columns: [FieldSchema], keyColumns: [String]) {
        self.table = table
        self.columns = columns
        self.keyColumns = keyColumns
    }

    public var keyFields: [FieldSchema] {
        keyColumns.compactMap { name in columns.first(where: { $0.field == name }) }
    }
}
