import Foundation
import Hummingbird

/// `GET /api/v1/lineage` (the graph as JSON) and the `/lineage` page (the graph drawn, each node's
/// live figure, a replica table's columns and their origins, the link to the dbt docs).
public struct LineageController: Sendable {
    let lineage: LineageService
    let pages: PageRenderer
    let docsDirectory: String

    public init(lineage: LineageService, pages: PageRenderer, docsDirectory: String) {
        self.lineage = lineage
        self.pages = pages
        self.docsDirectory = docsDirectory
    }

    public func addAPIRoutes(to group: RouterGroup<CreditRequestContext>) {
        group.get("lineage", use: api)
    }

    public func addPageRoutes(to router: Router<CreditRequestContext>) {
        router.get("/lineage", use: page)
    }

    @Sendable func api(_ request: Request, context: CreditRequestContext) async throws -> Response {
        JSONResponse.make(.ok, await lineage.graph().json)
    }

    static let kindLabels: [LineageGraph.Kind: String] = [
        .sourceTable: "source table", .topic: "Kafka topic", .replicaTable: "replica table",
        .warehouseTable: "warehouse table", .dbtModel: "dbt model",
    ]

    @Sendable func page(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let graph = await lineage.graph()
        let selected = ApplicationsController.queryParameters(request)["table"].flatMap { $0.isEmpty ? nil : $0 }
        var values: [String: Any] = [
            "diagram": LineageDiagram.svg(graph, selected: selected),
            "node_count": graph.nodes.count, "edge_count": graph.edges.count,
            "nodes": graph.nodes.sorted { ($0.layer, $0.name) < ($1.layer, $1.name) }.map { n -> [String: Any] in
                var v: [String: Any] = ["name": n.name, "kind": Self.kindLabels[n.kind] ?? n.kind.rawValue, "figure": LineageDiagram.figure(n),
                                        "via": n.via ?? ""]
                if n.kind == .replicaTable { v["link"] = "/lineage?" + PagesController.urlEncoded([("table", n.name)]) + "#columns" }
                return v
            },
            "problems": graph.problems, "has_problems": !graph.problems.isEmpty,
        ]
        if !graph.nodes.contains(where: { $0.kind == .dbtModel }) { values["no_dbt"] = true }
        if let at = graph.manifestGeneratedAt { values["manifest_generated_at"] = PagesController.time(at) }
        if FileManager.default.fileExists(atPath: docsDirectory + "/index.html") {
            values["dbt_docs"] = "/lineage/dbt-docs/index.html"
        } else {
            values["dbt_docs_missing"] = docsDirectory
        }
        if let selected {
            if let node = graph.nodes.first(where: { $0.kind == .replicaTable && $0.name == selected }) {
                var table: [String: Any] = ["name": node.name, "figure": LineageDiagram.figure(node)]
                table["columns"] = (node.columns ?? []).map { c -> [String: Any] in
                    let origin = c.originNode.flatMap { graph.node($0) }
                    return ["name": c.name, "origin_table": origin?.name ?? "", "origin_column": c.originColumn ?? "",
                            "has_origin": c.originColumn != nil]
                }
                table["no_columns"] = (node.columns ?? []).isEmpty
                let incoming = graph.edges.filter { $0.to == node.id }.compactMap { graph.node($0.from)?.name }
                table["topics"] = incoming.joined(separator: ", ")
                values["table"] = table
            } else {
                values["table_missing"] = selected
            }
        }
        return pages.page("lineage", title: "Lineage", values: values, context: context)
    }
}
