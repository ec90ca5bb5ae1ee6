import Foundation
import SluiceCore
import SluicePostgresSink
import SluiceSinkKit
import SluiceSQLServerSource
import SluiceWarehouseSink
import Testing

@Suite struct ConnectorRegistryTests {
    /// The executable's list (ConnectorRegistry+Sluice.swift) holds the same three.
    let registry = ConnectorRegistry([SQLServerSourceConnector.self, PostgresSinkConnector.self, WarehouseSinkConnector.self])
    let environment = [
        "SLUICE_STAGING_URL": "mssql://sluice:pw@127.0.0.1:51433/CreditStaging",
        "SLUICE_WAREHOUSE_URL": "mssql://sluice:pw@127.0.0.1:51434/CreditWarehouse",
        "SLUICE_PG_URL": "postgres://sluice:pw@127.0.0.1:55432/credit_app",
        "SLUICE_KAFKA_BOOTSTRAP": "127.0.0.1:59092",
    ]

    func write(_ config: String) throws -> String {
        let path = "/tmp/sluice-registry-test-\(UInt64.random(in: 0...UInt64.max)).json"
        let text = #"{"name":"c1","config":{"# + config + "}}"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("each shipped connector file finds its connector by connector.class")
    func shippedFiles() throws {
        let expected = ["credit-source.json": "sqlserver-source", "replica-postgres.json": "postgres-sink",
                        "warehouse-scd2.json": "warehouse-sink"]
        for (file, kind) in expected {
            let loaded = try registry.load(path: "connectors/" + file, environment: environment)
            #expect(loaded.kind == kind, "\(file)")
        }
        #expect(try registry.load(path: "connectors/credit-source.json", environment: environment).configuration
            is SQLServerSourceConfiguration)
        #expect(try registry.load(path: "connectors/replica-postgres.json", environment: environment).lineageDatasets != nil)
        #expect(try registry.load(path: "connectors/credit-source.json", environment: environment).lineageDatasets == nil)
    }

    @Test func debeziumClassNameSelectsTheSource() throws {
        let path = try write(#""connector.class":"io.debezium.connector.sqlserver.SqlServerConnector","database.url":"mssql://u:p@db/Credit","topic.prefix":"t","kafka.bootstrap.servers":"k:9092""#)
        defer { unlink(path) }
        #expect(try registry.load(path: path, environment: [:]).kind == "sqlserver-source")
    }

    @Test("an unknown or missing connector.class names every connector the registry holds")
    func unknownClass() throws {
        for (config, fragment) in [(#""connector.class":"jdbc-sink""#, "connector.class: \"jdbc-sink\" is not a connector this Sluice runs"),
                                   (#""topics":"a""#, "connector.class: missing: set it to one of")] {
            let path = try write(config)
            defer { unlink(path) }
            do {
                _ = try registry.load(path: path, environment: [:])
                Issue.record("expected a configuration error for \(config)")
            } catch {
                #expect(error.description.contains(fragment), "\(error)")
                #expect(error.description.contains("sqlserver-source, postgres-sink, warehouse-sink"), "\(error)")
            }
        }
        #expect(registry.kinds == ["sqlserver-source", "postgres-sink", "warehouse-sink"])
    }

    @Test("a file's configuration problems come from its connector's configuration type")
    func configurationProblems() throws {
        let path = try write(#""connector.class":"postgres-sink","topics":"a""#)
        defer { unlink(path) }
        #expect(throws: ConfigurationError.self) { try registry.load(path: path, environment: [:]) }
        do { _ = try registry.load(path: path, environment: [:]) } catch {
            #expect(error.description.contains("connection.url: missing"), "\(error)")
        }
    }

    @Test("sinks tell sluice offsets where their offsets are; the source is no sink")
    func sinkOffsets() throws {
        let sink = try registry.load(path: "connectors/warehouse-scd2.json", environment: environment)
        guard let definition = sink.definition as? any SinkConnectorDefinition.Type else {
            Issue.record("the warehouse sink's definition is no SinkConnectorDefinition")
            return
        }
        let offsets = definition.offsets(of: sink.configuration)
        let access = try #require(offsets)
        #expect(access.groupID == "sluice-warehouse" && access.name == sink.name)
        let source = try registry.load(path: "connectors/credit-source.json", environment: environment)
        let sourceIsSink = source.definition is any SinkConnectorDefinition.Type
        #expect(!sourceIsSink)
        let sourceOffsets = definition.offsets(of: source.configuration)
        #expect(sourceOffsets == nil)
    }
}
