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

extension FieldSchema {
    /// Reads one field of a Connect struct schema (as written by `json`).
    public init(json: JSONValue) throws(EnvelopeError) {
        guard let o = json.objectValue, let field = o["field"]?.stringValue, let typeName = o["type"]?.stringValue else {
            throw EnvelopeError("a schema field needs \"field\" and \"type\"")
        }
        guard let type = ConnectType(rawValue: typeName) else {
            throw EnvelopeError("schema field \(field) has type \(typeName), which is not a Connect primitive type")
        }
        self.init(field: field, type: type, optional: o["optional"]?.boolValue ?? true, name: o["name"]?.stringValue,
                  parameters: (o["parameters"]?.objectValue ?? [:]).compactMap { k, v in v.stringValue.map { (k, $0) } },
                  version: o["version"]?.int64Value.map { Int($0) })
    }

    public func parameter(_ key: String) -> String? { parameters.first { $0.0 == key }?.1 }
}

extension DebeziumEnvelope {
    /// The row schema carried by a message written with schemas enabled (`{"schema":…,"payload":…}`):
    /// the `after` (or `before`) struct's fields, and the key columns from the key's schema when given.
    /// nil when the value has no schema block.
    public static func decodeSchema(key: [UInt8]?, value: [UInt8], table: TableID) throws -> TableSchema? {
        guard case .object(let root) = try JSONValue.parse(value), let schema = root["schema"]?.objectValue,
              root["payload"] != nil else { return nil }
        guard let fields = schema["fields"]?.arrayValue,
              let row = fields.first(where: { $0["field"]?.stringValue == "after" })
                ?? fields.first(where: { $0["field"]?.stringValue == "before" }),
              let columns = row["fields"]?.arrayValue else {
            throw EnvelopeError("the schema block has no before/after struct")
        }
        var keyColumns: [String] = []
        if let key, case .object(let k) = try JSONValue.parse(key) {
            if let keySchema = k["schema"]?.objectValue, let keyFields = keySchema["fields"]?.arrayValue {
                keyColumns = keyFields.compactMap { $0["field"]?.stringValue }
            } else {
                keyColumns = k.keys
            }
        }
        return TableSchema(table: table, columns: try columns.map(FieldSchema.init(json:)), keyColumns: keyColumns)
    }
}
