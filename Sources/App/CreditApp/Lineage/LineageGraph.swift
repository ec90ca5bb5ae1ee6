import SluiceCore

/// The data lineage of the credit pipeline: source tables → Kafka topics → replica and warehouse
/// tables → dbt models. Built by ``LineageDerivation`` from the connector files, the live schemas and
/// dbt's manifest; served as JSON by `GET /api/v1/lineage` and drawn by the `/lineage` page.
public struct LineageGraph: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case sourceTable = "source_table", topic, replicaTable = "replica_table", warehouseTable = "warehouse_table"
        case dbtModel = "dbt_model"
    }

    /// Where a replica column comes from (identity mapping: the source table's column of the same name).
    public struct Column: Sendable, Hashable {
        public var name: String
        public var originNode: String?
        public var originColumn: String?
    }

    public struct Node: Sendable, Hashable {
        /// `mssql:CreditStaging.dbo.customers`, `kafka:credit.CreditStaging.dbo.customers`,
        /// `postgres:credit_app.dbo.customers`, `mssql:CreditWarehouse.dw.dim_customer`, `dbt:model.…`.
        public var id: String
        public var kind: Kind
        /// The qualified name shown (`CreditStaging.dbo.customers`, the topic, `dbo.customers`, …).
        public var name: String
        /// The drawing column: 0 sources, 1 topics, 2 replica and warehouse, 3… dbt models by depth.
        public var layer: Int
        /// The connector that writes it (source and sink nodes), or the dbt resource path.
        public var via: String?
        public var rows: Int?
        public var lagMilliseconds: Int?
        public var consumerLag: Int?
        public var columns: [Column]?
        /// dbt models: the materialization (`table`, `view`, `incremental`, …).
        public var materialized: String?
    }

    public struct Edge: Sendable, Hashable {
        public var from: String
        public var to: String
        /// The connector (or `dbt`) that carries the data along the edge.
        public var via: String
    }

    public var nodes: [Node] = []
    public var edges: [Edge] = []
    /// Things that kept part of the graph from being derived (an unreadable connector file, a manifest
    /// that is not JSON), each naming the fix.
    public var problems: [String] = []
    /// dbt's `metadata.generated_at` of the manifest read, if one was.
    public var manifestGeneratedAt: String?

    public init() {}

    public func node(_ id: String) -> Node? { nodes.first { $0.id == id } }

    mutating func add(_ node: Node) {
        if !nodes.contains(where: { $0.id == node.id }) { nodes.append(node) }
    }

    mutating func connect(_ from: String, _ to: String, via: String) {
        let edge = Edge(from: from, to: to, via: via)
        if !edges.contains(edge) { edges.append(edge) }
    }

    public var json: JSONValue {
        func opt(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }
        func opt(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
        return .object([
            "nodes": .array(nodes.map { n in
                var o: JSONObject = [
                    "id": .string(n.id), "kind": .string(n.kind.rawValue), "name": .string(n.name), "layer": .int(n.layer),
                    "via": opt(n.via), "rows": opt(n.rows), "lag_ms": opt(n.lagMilliseconds), "consumer_lag": opt(n.consumerLag),
                ]
                if n.kind == .dbtModel { o["materialized"] = opt(n.materialized) }
                if let columns = n.columns {
                    o["columns"] = .array(columns.map { c in
                        .object(["name": .string(c.name), "origin_node": opt(c.originNode), "origin_column": opt(c.originColumn)])
                    })
                }
                return .object(o)
            }),
            "edges": .array(edges.map { .object(["from": .string($0.from), "to": .string($0.to), "via": .string($0.via)]) }),
            "problems": .array(problems.map { .string($0) }),
            "dbt_manifest_generated_at": opt(manifestGeneratedAt),
        ])
    }
}
