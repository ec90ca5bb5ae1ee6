import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// What an operator sees of a running `sluice run`: every metric README documents on `/metrics`, for
/// the source and both sinks, and a clear message when the operations port is already taken.
@Suite("Operations endpoints of a running sluice run", .serialized)
struct OperationsEndpointTests {
    static let customersColumns = WarehouseEndToEndTests.customersColumns

    @Test("every metric README documents is on /metrics of a process running the source and both sinks; a second process on its port fails naming the address and --http-port / SLUICE_HTTP_PORT")
    func everyDocumentedMetricIsServed() async throws {
        let documented = try Self.documentedMetricNames()
        #expect(documented.count >= 20, "README's metric table: \(documented)")

        let world = try await SourceTestWorld.make("opsmetrics", tables: [("customers", Self.customersColumns)])
        // A key no other test uses: the warehouse is shared, and an older position for a key is ignored.
        let customer = Int32(WarehouseTestWorld.keyBase() / 1000)
        try await world.withConnection { connection in
            try await connection.execute("""
                INSERT INTO dbo.customers (customer_id, full_name, national_id, date_of_birth, monthly_income)
                VALUES (\(customer), N'Ada Example', \("N\(customer)"), '1980-02-03', 3000.00)
                """)
        }
        let directory = try SluiceProcess.scratchDirectory("opsmetrics-\(world.prefix)")
        let source = try SluiceProcess.writeConnectorFile(name: "source-\(world.prefix)", config: try world.properties(), in: directory)
        let replica = try SluiceProcess.writeSinkConnectorFile(name: "replica-\(world.prefix)", config: [
            "connector.class": "postgres-sink", "topics": world.topic("customers"),
            "connection.url": try LocalWorld.env("SLUICE_PG_URL"), "table.name.format": "ops_\(world.prefix).${source.table}",
        ], in: directory)
        let warehouse = try SluiceProcess.writeSinkConnectorFile(name: "warehouse-\(world.prefix)", config: [
            "connector.class": "warehouse-sink", "topics": world.topic("customers"),
            "connection.url": try LocalWorld.env("SLUICE_WAREHOUSE_URL"),
        ], in: directory)
        let process = SluiceProcess(connectorFiles: [source, replica, warehouse], log: directory.appendingPathComponent("sluice.log"))
        try process.start()
        defer { process.stop() }
        let port = try await process.operationsPort()

        // Both sinks applied the snapshot row, so every path that records a metric has run once; the
        // consumer lag gauge follows at the sink's next lag check (every 10 s).
        var body = ""
        var missing: [String] = documented
        let applied = try await eventually(timeout: .seconds(90)) {
            body = try await Self.get(port: port, path: "/metrics")
            let served = Set(body.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("# TYPE ") else { return nil }
                return line.split(separator: " ").dropFirst(2).first.map(String.init)
            })
            missing = documented.filter { !served.contains($0) }
            return body.contains("sluice_sink_events_applied_total{connector=\"replica-\(world.prefix)\"")
                && body.contains("sluice_sink_events_applied_total{connector=\"warehouse-\(world.prefix)\"")
                && missing.isEmpty
        }
        #expect(missing.isEmpty, "documented in README but not on /metrics: \(missing)")
        try #require(applied, "the sinks applied nothing; log tail:\n\(process.logText.suffix(3000))\nmetrics:\n\(body)")

        // A second process on the same operations port stops before starting anything.
        let second = SluiceProcess(connectorFiles: [source], log: directory.appendingPathComponent("second.log"), httpPort: port)
        try second.start()
        let status = try await second.waitForExit(timeout: .seconds(30))
        #expect(status == 1, "exit status \(String(describing: status)); log:\n\(second.logText)")
        let message = second.logText
        #expect(message.contains("127.0.0.1:\(port)"), "\(message)")
        #expect(message.contains("--http-port") && message.contains("SLUICE_HTTP_PORT"), "\(message)")
        #expect(!message.contains("errno") && !message.contains("bind(descriptor"), "\(message)")
        #expect(!message.contains("Snapshot"), "nothing starts before the port check: \(message)")
        // The first process is unaffected.
        #expect(try await Self.get(port: port, path: "/health/live").contains("up"))
    }

    /// The metric names in README's "Metrics and health" table, `a_{x,y}` expanded, labels dropped.
    static func documentedMetricNames() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "## Metrics and health") else { throw SluiceProcessFailure("README has no \"Metrics and health\" section") }
        let section = readme[start.upperBound...]
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        var names: [String] = []
        for line in section[..<end].split(separator: "\n") where line.hasPrefix("| `sluice_") {
            let cell = line.split(separator: "|").first.map(String.init) ?? ""
            for token in cell.split(separator: "`") where token.hasPrefix("sluice_") {
                let name = String(token)
                var expanded: [String] = [name]
                // `name_{a,b}` is two names; `name{label,label}` lists labels.
                if let open = name.firstIndex(of: "{"), open > name.startIndex, name[name.index(before: open)] == "_",
                   let close = name[open...].firstIndex(of: "}") {
                    let head = String(name[..<open]), tail = String(name[name.index(after: close)...])
                    expanded = name[name.index(after: open)..<close].split(separator: ",").map { head + $0 + tail }
                }
                for var item in expanded {
                    if let brace = item.firstIndex(of: "{") { item = String(item[..<brace]) }
                    names.append(item)
                }
            }
        }
        return names
    }

    static func get(port: Int, path: String) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return String(decoding: data, as: UTF8.self)
    }
}
