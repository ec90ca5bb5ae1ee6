import Foundation

/// The lineage graph as inline SVG: one column per layer (sources → topics → replica and warehouse
/// tables → dbt models by depth), a box per node with its live figure, curves for the edges. Replica
/// tables link to `/lineage?table=…#columns` (their columns' origins). No JavaScript, no external assets.
public enum LineageDiagram {
    static let boxWidth = 230, boxHeight = 44, columnStep = 265, rowStep = 54, top = 36

    static let colours: [LineageGraph.Kind: (fill: String, stroke: String)] = [
        .sourceTable: ("#e6eef6", "#2f6690"), .topic: ("#fff1cc", "#d98c1f"), .replicaTable: ("#d7efd9", "#3a7d44"),
        .warehouseTable: ("#ece4f1", "#6c5b7b"), .dbtModel: ("#d9eef0", "#16697a"),
    ]

    static let layerTitles = ["Source tables", "Kafka topics", "Replica & warehouse"]

    /// "1,234 rows · 0.4 s behind", "lag 12 msgs", or "" when nothing live is known.
    public static func figure(_ node: LineageGraph.Node) -> String {
        var parts: [String] = []
        if let rows = node.rows { parts.append("\(grouped(rows)) rows") }
        if let lag = node.lagMilliseconds { parts.append(lag == 0 ? "up to date" : String(format: "%.1f s behind", Double(lag) / 1000)) }
        if let lag = node.consumerLag { parts.append("consumer lag \(grouped(lag))") }
        if node.kind == .warehouseTable, !parts.isEmpty, node.name.contains(".dim_") { parts.append("SCD2 versions") }
        if parts.isEmpty {
            switch node.kind {
            case .warehouseTable: parts.append("SCD2 history")
            case .dbtModel: parts.append(node.materialized.map { "dbt \($0)" + ($0 == "table" ? ", not built yet" : "") } ?? "dbt model")
            default: break
            }
        }
        return parts.joined(separator: " · ")
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }

    static func short(_ s: String, _ n: Int) -> String { s.count <= n ? s : "…" + s.suffix(n - 1) }

    /// The box's title: warehouse tables without their database (the column title says where they are).
    static func label(_ node: LineageGraph.Node) -> String {
        guard node.kind == .warehouseTable || node.kind == .dbtModel, let dot = node.name.firstIndex(of: ".") else { return node.name }
        return String(node.name[node.name.index(after: dot)...])
    }

    public static func svg(_ graph: LineageGraph, selected: String? = nil) -> String {
        let layers = Dictionary(grouping: graph.nodes, by: \.layer)
        let layerCount = (layers.keys.max() ?? 0) + 1
        var position: [String: (x: Int, y: Int)] = [:]
        for (layer, nodes) in layers {
            for (i, node) in nodes.enumerated() { position[node.id] = (layer * columnStep, top + i * rowStep) }
        }
        let tallest = layers.values.map(\.count).max() ?? 1
        let width = max(1, layerCount) * columnStep - (columnStep - boxWidth) + 2
        let height = top + tallest * rowStep + 4
        let e = SVGChart.escape
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Data lineage\" id=\"lineage-svg\" width=\"100%\" style=\"max-width: \(width)px\" viewBox=\"0 0 \(width) \(height)\">"
        svg += "<title>Data lineage: \(graph.nodes.count) datasets, \(graph.edges.count) flows</title>"
        for layer in 0..<layerCount where layers[layer] != nil {
            let title = layer < layerTitles.count ? layerTitles[layer] : "dbt models, step \(layer - 2)"
            svg += "<text x=\"\(layer * columnStep + 1)\" y=\"16\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">\(e(title))</text>"
        }
        for edge in graph.edges {
            guard let a = position[edge.from], let b = position[edge.to] else { continue }
            let x1 = a.x + boxWidth, y1 = a.y + boxHeight / 2, x2 = b.x, y2 = b.y + boxHeight / 2
            let mid = (x1 + x2) / 2
            svg += "<path class=\"edge\" d=\"M\(x1),\(y1) C\(mid),\(y1) \(mid),\(y2) \(x2),\(y2)\" fill=\"none\" stroke=\"#9aa5b1\" stroke-width=\"1.2\"><title>\(e(edge.from)) → \(e(edge.to)) (\(e(edge.via)))</title></path>"
        }
        for node in graph.nodes {
            guard let p = position[node.id] else { continue }
            let c = colours[node.kind] ?? ("#fff", "#888")
            let isSelected = node.kind == .replicaTable && node.name == selected
            var box = "<g class=\"node node-\(node.kind.rawValue)\" data-id=\"\(e(node.id))\">"
            box += "<title>\(e(node.name))\(node.via.map { " (\(e($0)))" } ?? "")</title>"
            box += "<rect x=\"\(p.x)\" y=\"\(p.y)\" width=\"\(boxWidth)\" height=\"\(boxHeight)\" rx=\"5\" fill=\"\(c.fill)\" stroke=\"\(c.stroke)\" stroke-width=\"\(isSelected ? 3 : 1.2)\"/>"
            box += "<text x=\"\(p.x + 8)\" y=\"\(p.y + 18)\" font-size=\"12\" font-weight=\"600\" fill=\"#222\">\(e(short(label(node), 28)))</text>"
            box += "<text x=\"\(p.x + 8)\" y=\"\(p.y + 35)\" font-size=\"11\" fill=\"#444\">\(e(short(figure(node), 36)))</text>"
            box += "</g>"
            if node.kind == .replicaTable {
                let query = node.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "._-"))) ?? ""
                box = "<a href=\"/lineage?table=\(query)#columns\" class=\"node-link\" id=\"link-\(e(node.name))\">\(box)</a>"
            }
            svg += box
        }
        return svg + "</svg>"
    }
}
