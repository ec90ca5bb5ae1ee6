import SluiceCore
import SluiceSQLServerSource

/// Derives the ``LineageGraph`` from parsed connector configurations, the live schemas and dbt's
/// manifest: a pure function, so the unit tests give it configurations and JSON and check the graph.
///
/// - Source tables: the live source catalog's tables (`sourceColumns`, keyed by ``TableID``) that a
///   source connector's `table.include.list` / `table.exclude.list` select; without a catalog (staging
///   unreachable) the include list's plain names.
/// - Topics: ``TopicNamer`` of the source's `topic.prefix`.
/// - Replica tables: each Postgres sink's subscription (`topics` or `topics.regex`) and its
///   `table.name.format`; columns from the live replica schema, each traced to the source column of the
///   same name (the sink copies columns one to one; `__sluice_*` columns are the sink's own).
/// - Warehouse tables: the warehouse sink's topics mapped as the warehouse sink maps them
///   (customers → `dim_customer`; credit_applications → `dim_application`, `fact_credit_application`;
///   repayments → `fact_repayment`) in its `warehouse.schema`.
/// - dbt models: the manifest's sources whose schema and table are a replica table, and every model
///   that depends on them (directly or through other models), layered by depth.
public enum LineageDerivation {
    public struct Inputs: Sendable {
        public var sources: [SQLServerSourceConfiguration] = []
        public var replicaSinks: [PostgresSinkConfiguration] = []
        public var warehouseSinks: [WarehouseSinkConfiguration] = []
        /// Live source catalog: table → its columns in order (empty when unknown).
        public var sourceColumns: [TableID: [String]] = [:]
        /// Live replica schema: `schema.table` → its columns in order.
        public var replicaColumns: [String: [String]] = [:]
        /// dbt's `manifest.json`, parsed.
        public var manifest: JSONValue?
        public var problems: [String] = []

        public init() {}
    }

    /// The warehouse tables the warehouse sink writes for a source table (see WarehouseTarget).
    public static let warehouseTables: [String: [String]] = [
        "customers": ["dim_customer"],
        "credit_applications": ["dim_application", "fact_credit_application"],
        "repayments": ["fact_repayment"],
    ]

    public static func sourceID(_ t: TableID) -> String { "mssql:\(t.database).\(t.schema).\(t.table)" }
    public static func topicID(_ topic: String) -> String { "kafka:\(topic)" }
    public static func replicaID(database: String, schema: String, table: String) -> String { "postgres:\(database).\(schema).\(table)" }
    public static func warehouseID(database: String, schema: String, table: String) -> String { "mssql:\(database).\(schema).\(table)" }

    public static func derive(_ inputs: Inputs) -> LineageGraph {
        var graph = LineageGraph()
        graph.problems = inputs.problems
        // Topic → the source table it carries.
        var topics: [(topic: String, table: TableID)] = []
        for source in inputs.sources {
            let filter = TableFilter(include: source.tableIncludeList, exclude: source.tableExcludeList)
            let namer = TopicNamer(prefix: source.topicPrefix)
            for database in source.databases {
                var tables = inputs.sourceColumns.keys.filter { $0.database.caseInsensitiveCompare(database) == .orderedSame && filter.matches($0) }.sorted()
                if tables.isEmpty {
                    tables = source.tableIncludeList.compactMap { entry in
                        let parts = entry.split(separator: ".")
                        guard parts.count == 2, entry.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else { return nil }
                        return TableID(database: database, schema: String(parts[0]), table: String(parts[1]))
                    }.filter(filter.matches)
                }
                for table in tables {
                    let topic = namer.dataTopic(table)
                    topics.append((topic, table))
                    graph.add(.init(id: sourceID(table), kind: .sourceTable, name: "\(table.database).\(table.qualifiedName)", layer: 0, via: nil))
                    graph.add(.init(id: topicID(topic), kind: .topic, name: topic, layer: 1, via: source.name))
                    graph.connect(sourceID(table), topicID(topic), via: source.name)
                }
            }
        }

        // Replica tables.
        var replicaBySchemaTable: [String: String] = [:]
        for sink in inputs.replicaSinks {
            for (topic, table) in topics where subscribes(sink.subscription, topic) {
                let target = sink.targetTable(for: table, topic: topic)
                let id = replicaID(database: sink.database, schema: target.schema, table: target.table)
                let sourceColumns = inputs.sourceColumns[table] ?? []
                let live = inputs.replicaColumns["\(target.schema).\(target.table)"]
                let columns = live.map { names in
                    names.filter { !$0.hasPrefix("__sluice") }.map { name -> LineageGraph.Column in
                        let origin = sourceColumns.first { $0.caseInsensitiveCompare(name) == .orderedSame }
                        return .init(name: name, originNode: origin == nil ? nil : sourceID(table), originColumn: origin)
                    }
                }
                graph.add(.init(id: id, kind: .replicaTable, name: "\(target.schema).\(target.table)", layer: 2, via: sink.name, columns: columns))
                graph.connect(topicID(topic), id, via: sink.name)
                replicaBySchemaTable["\(target.schema).\(target.table)".lowercased()] = id
            }
        }

        // Warehouse tables.
        for sink in inputs.warehouseSinks {
            for (topic, table) in topics where sink.topics.contains(topic) {
                for name in warehouseTables[table.table] ?? [] {
                    let id = warehouseID(database: sink.database, schema: sink.warehouseSchema, table: name)
                    graph.add(.init(id: id, kind: .warehouseTable, name: "\(sink.database).\(sink.warehouseSchema).\(name)", layer: 2, via: sink.name))
                    graph.connect(topicID(topic), id, via: sink.name)
                }
            }
        }

        if let manifest = inputs.manifest { addModels(manifest, replicaBySchemaTable, &graph) }
        return graph
    }

    static func subscribes(_ subscription: TopicSubscription, _ topic: String) -> Bool {
        switch subscription {
        case .topics(let names): return names.contains(topic)
        case .regex(let pattern):
            guard let regex = try? Regex("^(?:" + pattern + ")$") else { return false }
            return topic.wholeMatch(of: regex) != nil
        }
    }

    /// dbt sources that are replica tables, and the models downstream of them.
    static func addModels(_ manifest: JSONValue, _ replica: [String: String], _ graph: inout LineageGraph) {
        graph.manifestGeneratedAt = manifest["metadata"]?["generated_at"]?.stringValue
        guard let nodes = manifest["nodes"]?.objectValue else {
            graph.problems.append("the dbt manifest has no \"nodes\": regenerate it with `make dbt` (dbt build / dbt docs generate)")
            return
        }
        // A source's unique id → the replica node it reads.
        var upstream: [String: String] = [:]
        for (uniqueID, source) in manifest["sources"]?.objectValue ?? [:] {
            guard let schema = source["schema"]?.stringValue else { continue }
            let table = source["identifier"]?.stringValue ?? source["name"]?.stringValue ?? ""
            if let node = replica["\(schema).\(table)".lowercased()] { upstream[uniqueID] = node }
        }
        var models: [String: (name: String, path: String?, dependsOn: [String], materialized: String?)] = [:]
        for (uniqueID, node) in nodes where node["resource_type"]?.stringValue == "model" {
            let schema = node["schema"]?.stringValue ?? ""
            let alias = node["alias"]?.stringValue ?? node["name"]?.stringValue ?? uniqueID
            let deps = node["depends_on"]?["nodes"]?.arrayValue?.compactMap(\.stringValue) ?? []
            models[uniqueID] = (schema.isEmpty ? alias : "\(schema).\(alias)", node["original_file_path"]?.stringValue, deps,
                                node["config"]?["materialized"]?.stringValue)
        }
        // Depth of each model that leads back to a replica table (fixed point over the dependencies).
        var depth: [String: Int] = [:]
        var changed = true
        while changed {
            changed = false
            for (id, model) in models {
                var d: Int?
                for dep in model.dependsOn {
                    if upstream[dep] != nil { d = max(d ?? 0, 0) }
                    if let dd = depth[dep] { d = max(d ?? 0, dd + 1) }
                }
                if let d, depth[id] != d, d < models.count { depth[id] = d; changed = true }
            }
        }
        for id in models.keys.sorted(by: { (depth[$0] ?? 0, models[$0]!.name) < (depth[$1] ?? 0, models[$1]!.name) }) {
            guard let d = depth[id], let model = models[id] else { continue }
            let nodeID = "dbt:" + id
            graph.add(.init(id: nodeID, kind: .dbtModel, name: model.name, layer: 3 + d, via: model.path, materialized: model.materialized))
            for dep in model.dependsOn {
                if let r = upstream[dep] { graph.connect(r, nodeID, via: "dbt") }
                if depth[dep] != nil { graph.connect("dbt:" + dep, nodeID, via: "dbt") }
            }
        }
    }
}
