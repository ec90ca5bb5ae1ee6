import Foundation
import NIOConcurrencyHelpers
import SluiceCore
import SluiceLineage
import SluicePostgresSink
import SluiceWarehouseSink
import Testing

@Suite struct LineageNamingTests {
    @Test("SQL Server, Postgres and Kafka datasets use OpenLineage's namespaces and names")
    func naming() {
        let table = LineageDataset.sqlServerTable(host: "db1", port: 1433, database: "CreditStaging", schema: "dbo", table: "customers")
        #expect(table.namespace == "mssql://db1:1433" && table.name == "CreditStaging.dbo.customers")
        let replica = LineageDataset.postgresTable(host: "pg", port: 5432, database: "credit_app", schema: "dbo", table: "customers")
        #expect(replica.namespace == "postgres://pg:5432" && replica.name == "credit_app.dbo.customers")
        let topic = LineageDataset.kafkaTopic(bootstrapServers: "k1:9093,k2:9093", topic: "credit.CreditStaging.dbo.customers")
        #expect(topic.namespace == "kafka://k1:9093" && topic.name == "credit.CreditStaging.dbo.customers")
    }

    @Test("the Kafka namespace is the first bootstrap server, with Kafka's default port and without a listener prefix")
    func kafkaNamespace() {
        #expect(LineageDataset.kafkaNamespace(bootstrapServers: "broker") == "kafka://broker:9092")
        #expect(LineageDataset.kafkaNamespace(bootstrapServers: " PLAINTEXT://b1:29092 , b2:29092") == "kafka://b1:29092")
        #expect(LineageDataset.kafkaNamespace(bootstrapServers: "[::1]:9092") == "kafka://[::1]:9092")
        #expect(LineageDataset.kafkaNamespace(bootstrapServers: "[::1]") == "kafka://[::1]:9092")
    }

    @Test("the Postgres sink names each listed topic's replica table by table.name.format; topics.regex names none up front")
    func postgresSinkDatasets() throws {
        let configuration = try PostgresSinkConfiguration(ConnectorProperties(name: "replica", origin: "t.json", values: [
            "connector.class": "postgres-sink", "topics": "credit.CreditStaging.dbo.customers",
            "connection.url": "postgres://u:p@pg:5433/credit_app", "kafka.bootstrap.servers": "k:9092",
            "table.name.format": "replica.${source.table}",
        ]))
        let datasets = PostgresSinkConnector.lineageDatasets(configuration)
        #expect(datasets.inputs.map(\.namespace) == ["kafka://k:9092"])
        #expect(datasets.outputs.map { "\($0.namespace) \($0.name)" } == ["postgres://pg:5433 credit_app.replica.customers"])
        let regex = try PostgresSinkConfiguration(ConnectorProperties(name: "replica", origin: "t.json", values: [
            "connector.class": "postgres-sink", "topics.regex": "credit\\..*",
            "connection.url": "postgres://u:p@pg:5433/credit_app", "kafka.bootstrap.servers": "k:9092",
        ]))
        #expect(PostgresSinkConnector.lineageDatasets(regex).outputs.isEmpty)
    }

    @Test("the Postgres sink's learned tables carry their columns, __sluice_position, and identity lineage from the topic")
    func postgresSinkLearnedTables() throws {
        let configuration = try PostgresSinkConfiguration(ConnectorProperties(name: "replica", origin: "t.json", values: [
            "connector.class": "postgres-sink", "topics.regex": "credit\\..*",
            "connection.url": "postgres://u:p@pg:5433/credit_app", "kafka.bootstrap.servers": "k:9092",
        ]))
        let source = TableID(database: "CreditStaging", schema: "dbo", table: "customers")
        let layout = try PostgresTableLayout.wanted(schema: "dbo", table: "customers", from: [TableSchema(
            table: source, columns: [FieldSchema(field: "customer_id", type: .int32, optional: false),
                                     FieldSchema(field: "full_name", type: .string, optional: true)],
            keyColumns: ["customer_id"])])
        let topic = "credit.CreditStaging.dbo.customers"
        let datasets = PostgresSinkConnector.lineageDatasets(configuration, tables: [(topics: [topic], layout: layout)])
        #expect(datasets.inputs.map { "\($0.namespace) \($0.name)" } == ["kafka://k:9092 \(topic)"])
        let table = try #require(datasets.outputs.first)
        #expect("\(table.namespace) \(table.name)" == "postgres://pg:5433 credit_app.dbo.customers")
        #expect(table.fields == layout.columns.map { LineageField($0.name, $0.type.sql) } + [LineageField("__sluice_position", "text")])
        #expect(table.fields.first == LineageField("customer_id", "integer"))
        #expect(table.columnLineage.map(\.field) == ["customer_id", "full_name"])
        #expect(table.columnLineage.last?.inputs == [LineageInputField(namespace: "kafka://k:9092", name: topic, field: "full_name")])
    }

    @Test("the warehouse sink's dimensions carry identity lineage and SCD2 validity as a transformation of the commit time")
    func warehouseDatasets() throws {
        let configuration = try WarehouseSinkConfiguration(ConnectorProperties(name: "dw", origin: "t.json", values: [
            "connector.class": "warehouse-sink", "connection.url": "mssql://u:p@wh:1444/CreditWarehouse",
            "kafka.bootstrap.servers": "k:9092",
        ]))
        let datasets = WarehouseSinkConnector.lineageDatasets(configuration)
        #expect(datasets.inputs.count == 3)
        #expect(datasets.outputs.map(\.name) == ["CreditWarehouse.dw.dim_customer", "CreditWarehouse.dw.dim_application",
                                                 "CreditWarehouse.dw.fact_credit_application", "CreditWarehouse.dw.fact_repayment"])
        let dim = try #require(datasets.outputs.first)
        #expect(dim.namespace == "mssql://wh:1444")
        #expect(dim.fields.contains(LineageField("valid_from", "datetime2(3)")))
        let lineage = Dictionary(uniqueKeysWithValues: dim.columnLineage.map { ($0.field, $0.inputs) })
        #expect(lineage["full_name"]?.first?.transformation == .identity)
        #expect(lineage["full_name"]?.first?.name == "credit.CreditStaging.dbo.customers")
        guard case .transformation = lineage["valid_from"]?.first?.transformation else {
            Issue.record("valid_from is not a transformation: \(String(describing: lineage["valid_from"]))")
            return
        }
        #expect(lineage["valid_from"]?.first?.field == "source.ts_ms")
        #expect(lineage["customer_version_key"] == nil, "the surrogate key comes from no input")
    }
}

@Suite struct LineageEventTests {
    static func event(_ type: LineageEvent.EventType = .start, error: String? = nil) -> LineageEvent {
        let source = LineageDataset.sqlServerTable(host: "db", port: 1433, database: "D", schema: "dbo", table: "t",
                                                   fields: [LineageField("id", "int")])
        var topic = LineageDataset.kafkaTopic(bootstrapServers: "k:9092", topic: "p.D.dbo.t", fields: [LineageField("id", "int32")])
        topic.columnLineage = [("id", [LineageInputField(source, field: "id")])]
        return LineageEvent(eventType: type, eventTime: "2026-12-01T10:00:00.000Z", runID: "0b5a3c3e-8f1e-4c1e-9a59-2f3c2e7d0a11",
                            jobNamespace: "sluice", jobName: "src", inputs: [source], outputs: [topic], errorMessage: error)
    }

    @Test("a run event carries OpenLineage's fields, schema URLs and facets")
    func json() throws {
        let json = Self.event().json
        #expect(json["eventType"] == .string("START"))
        #expect(json["schemaURL"] == .string("https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"))
        #expect(json["producer"] == .string("https://github.com/sluice-cdc/sluice/tree/v\(SluiceVersion.current)"))
        #expect(json["run"]?["runId"] == .string("0b5a3c3e-8f1e-4c1e-9a59-2f3c2e7d0a11"))
        #expect(json["run"]?["facets"] == nil)
        let jobType = try #require(json["job"]?["facets"]?["jobType"])
        #expect(jobType["processingType"] == .string("STREAMING") && jobType["integration"] == .string("SLUICE"))
        #expect(jobType["_schemaURL"] == .string("https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"))
        let input = try #require(json["inputs"]?.arrayValue?.first)
        #expect(input["namespace"] == .string("mssql://db:1433") && input["name"] == .string("D.dbo.t"))
        #expect(input["facets"]?["schema"]?["fields"] == .array([.object(["name": .string("id"), "type": .string("int")])]))
        #expect(input["facets"]?["columnLineage"] == nil, "inputs carry no column lineage")
        let output = try #require(json["outputs"]?.arrayValue?.first)
        let lineage = try #require(output["facets"]?["columnLineage"])
        #expect(lineage["_schemaURL"] == .string("https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"))
        #expect(lineage["fields"]?["id"]?["inputFields"] == .array([.object([
            "namespace": .string("mssql://db:1433"), "name": .string("D.dbo.t"), "field": .string("id"),
            "transformations": .array([.object(["type": .string("DIRECT"), "subtype": .string("IDENTITY"), "masking": .bool(false)])]),
        ])]))
    }

    @Test("FAIL carries the errorMessage run facet")
    func fail() {
        let facet = Self.event(.fail, error: "boom").json["run"]?["facets"]?["errorMessage"]
        #expect(facet?["message"] == .string("boom"))
        #expect(facet?["_schemaURL"] == .string("https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"))
    }
}

final class RecordingEmitter: LineageEmitter {
    let events = NIOLockedValueBox<[LineageEvent]>([])
    func emit(_ event: LineageEvent) { events.withLockedValue { $0.append(event) } }
    var types: [String] { events.withLockedValue { $0.map(\.eventType.rawValue) } }
}

@Suite struct LineageRunTests {
    static func run(_ emitter: RecordingEmitter) -> LineageRun {
        LineageRun(jobNamespace: "sluice", connectorName: "c", runID: "id", emitter: emitter, now: { "2026-12-01T10:00:00.000Z" })
    }
    static let a = LineageDataset(namespace: "n", name: "a", fields: [LineageField("x", "int")])
    static let a2 = LineageDataset(namespace: "n", name: "a", fields: [LineageField("x", "int"), LineageField("y", "int")])
    static let b = LineageDataset(namespace: "n", name: "b")

    @Test("START once, RUNNING only when the datasets change, COMPLETE at the end and nothing after")
    func lifecycle() {
        let emitter = RecordingEmitter()
        let run = Self.run(emitter)
        run.report(part: "db1", inputs: [Self.a], outputs: [])
        run.report(part: "db1", inputs: [Self.a], outputs: [])
        run.report(part: "db2", inputs: [Self.b], outputs: [])
        run.report(part: "db1", inputs: [Self.a2], outputs: [])
        run.complete()
        run.report(part: "db1", inputs: [Self.a], outputs: [])
        run.fail("late")
        #expect(emitter.types == ["START", "RUNNING", "RUNNING", "COMPLETE"])
        let last = emitter.events.withLockedValue { $0.last! }
        #expect(last.inputs == [Self.a2, Self.b], "every part, each dataset once")
        #expect(emitter.events.withLockedValue { Set($0.map(\.runID)) } == ["id"])
    }

    @Test("a run stopped before it knew its datasets still sends START before FAIL")
    func failBeforeStart() {
        let emitter = RecordingEmitter()
        let run = Self.run(emitter)
        run.fail("cannot connect")
        run.complete()
        #expect(emitter.types == ["START", "FAIL"])
        #expect(emitter.events.withLockedValue { $0.last?.errorMessage } == "cannot connect")
    }
}

@Suite struct LineageTransportTests {
    @Test("the file transport appends one line per event")
    func fileAppends() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lineage-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let transport = FileLineageTransport(path: path)
        try await transport.send(Array(#"{"a":1}"#.utf8))
        try await transport.send(Array(#"{"b":2}"#.utf8))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"a\":1}\n{\"b\":2}\n")
    }

    @Test("the HTTP transport posts to <url>/api/v1/lineage, once")
    func httpURL() {
        #expect(HTTPLineageTransport(baseURL: "http://marquez:5000").url == "http://marquez:5000/api/v1/lineage")
        #expect(HTTPLineageTransport(baseURL: "http://marquez:5000/").url == "http://marquez:5000/api/v1/lineage")
        #expect(HTTPLineageTransport(baseURL: "http://m/api/v1/lineage").url == "http://m/api/v1/lineage")
    }

    @Test("lineage is off without SLUICE_OPENLINEAGE_URL or _FILE; a URL that is not http(s) is refused with the fix")
    func setup() throws {
        #expect(try LineageSetup.fromEnvironment([:], logger: .init(label: "t")) == nil)
        #expect(throws: LineageSetup.Problem.self) { try LineageSetup.fromEnvironment(["SLUICE_OPENLINEAGE_URL": "marquez:5000"], logger: .init(label: "t")) }
        let setup = try #require(try LineageSetup.fromEnvironment(["SLUICE_OPENLINEAGE_FILE": "/tmp/x", "SLUICE_OPENLINEAGE_NAMESPACE": "prod"], logger: .init(label: "t")))
        let run = setup.run(connector: "c")
        #expect(run.jobNamespace == "prod" && UUID(uuidString: run.runID) != nil)
        #expect(setup.run(connector: "c").runID != run.runID)
    }
}
