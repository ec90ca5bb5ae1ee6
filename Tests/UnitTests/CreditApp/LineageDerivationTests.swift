import Foundation
import Testing
import SluiceCore
@testable import SluiceCreditApp

/// The lineage graph derived from the shipped connector files, a live catalog and a dbt manifest.
@Suite struct LineageDerivationTests {
    static let environment = [
        "SLUICE_STAGING_URL": "mssql://sa:pw@127.0.0.1:1433/CreditStaging", "SLUICE_PG_URL": "postgres://u:p@127.0.0.1:5432/credit_app",
        "SLUICE_WAREHOUSE_URL": "mssql://sa:pw@127.0.0.1:1433/CreditWarehouse", "SLUICE_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
    ]

    static func shipped() -> LineageDerivation.Inputs {
        var inputs = LineageDerivation.Inputs()
        LineageService.loadConnectors(CreditAppConfiguration.defaultConnectorPaths, environment: environment, into: &inputs)
        return inputs
    }

    static let customers = TableID(database: "CreditStaging", schema: "dbo", table: "customers")

    @Test func shippedConnectorsGiveSourcesTopicsReplicaAndWarehouse() throws {
        var inputs = Self.shipped()
        #expect(inputs.problems.isEmpty, "\(inputs.problems)")
        #expect(inputs.sources.count == 1 && inputs.replicaSinks.count == 1 && inputs.warehouseSinks.count == 1)
        // A live catalog with a table the include list leaves out.
        inputs.sourceColumns = [
            Self.customers: ["customer_id", "full_name", "national_id"],
            TableID(database: "CreditStaging", schema: "dbo", table: "credit_applications"): ["application_id", "customer_id"],
            TableID(database: "CreditStaging", schema: "dbo", table: "repayments"): ["repayment_id"],
            TableID(database: "CreditStaging", schema: "dbo", table: "audit_log"): ["id"],
        ]
        inputs.replicaColumns = ["dbo.customers": ["customer_id", "full_name", "national_id", "__sluice_position", "__sluice_deleted"]]
        let g = LineageDerivation.derive(inputs)
        let sources = g.nodes.filter { $0.kind == .sourceTable }.map(\.name).sorted()
        #expect(sources == ["CreditStaging.dbo.credit_applications", "CreditStaging.dbo.customers", "CreditStaging.dbo.repayments"])
        let topics = g.nodes.filter { $0.kind == .topic }.map(\.name).sorted()
        #expect(topics == ["credit.CreditStaging.dbo.credit_applications", "credit.CreditStaging.dbo.customers", "credit.CreditStaging.dbo.repayments"])
        #expect(g.nodes.filter { $0.kind == .replicaTable }.map(\.name).sorted() == ["dbo.credit_applications", "dbo.customers", "dbo.repayments"])
        #expect(g.nodes.filter { $0.kind == .warehouseTable }.map(\.name).sorted() == [
            "CreditWarehouse.dw.dim_application", "CreditWarehouse.dw.dim_customer", "CreditWarehouse.dw.fact_credit_application",
            "CreditWarehouse.dw.fact_repayment",
        ])
        #expect(g.edges.contains(.init(from: "mssql:CreditStaging.dbo.customers", to: "kafka:credit.CreditStaging.dbo.customers", via: "credit-source")))
        #expect(g.edges.contains(.init(from: "kafka:credit.CreditStaging.dbo.customers", to: "postgres:credit_app.dbo.customers", via: "replica-postgres")))
        #expect(g.edges.contains(.init(from: "kafka:credit.CreditStaging.dbo.credit_applications", to: "mssql:CreditWarehouse.dw.fact_credit_application", via: "warehouse-scd2")))
        #expect(g.edges.count == 3 + 3 + 4)
        // Columns: identity origins, the sink's own columns left out.
        let customers = try #require(g.node("postgres:credit_app.dbo.customers"))
        #expect(customers.columns?.map(\.name) == ["customer_id", "full_name", "national_id"])
        #expect(customers.columns?.allSatisfy { $0.originNode == "mssql:CreditStaging.dbo.customers" && $0.originColumn == $0.name } == true)
        // A replica table the catalog does not have yet carries no columns.
        #expect(g.node("postgres:credit_app.dbo.repayments")?.columns == nil)
    }

    @Test func withoutACatalogTheIncludeListNamesTheTables() {
        let g = LineageDerivation.derive(Self.shipped())
        #expect(g.nodes.filter { $0.kind == .sourceTable }.count == 3)
        #expect(g.nodes.filter { $0.kind == .replicaTable }.count == 3)
    }

    @Test func aSinkOnAnotherPrefixGetsNoTopics() throws {
        var inputs = Self.shipped()
        let props = try ConnectorProperties.parse(Array("""
            {"name": "other", "config": {"connector.class": "postgres-sink", "topics.regex": "other\\\\..*",
             "connection.url": "postgres://u:p@h/db", "kafka.bootstrap.servers": "b:1"}}
            """.utf8), origin: "t.json", environment: [:])
        inputs.replicaSinks = [try PostgresSinkConfiguration(props)]
        inputs.warehouseSinks = []
        let g = LineageDerivation.derive(inputs)
        #expect(g.nodes.filter { $0.kind == .replicaTable }.isEmpty)
        #expect(g.nodes.filter { $0.kind == .topic }.count == 3)
    }

    @Test func anUnreadableConnectorFileIsAProblemNamingTheFix() {
        var inputs = LineageDerivation.Inputs()
        LineageService.loadConnectors(["/nonexistent/x.json"], environment: [:], into: &inputs)
        #expect(inputs.problems.count == 1 && inputs.problems[0].contains("SLUICE_CONNECTORS"))
    }

    static let manifest = """
        {"metadata": {"generated_at": "2026-12-01T10:00:00.000000Z"},
         "sources": {
           "source.sluice_credit.credit_app.customers": {"schema": "dbo", "name": "customers", "identifier": "customers"},
           "source.sluice_credit.credit_app.elsewhere": {"schema": "other", "name": "elsewhere"}},
         "nodes": {
           "model.sluice_credit.stg_customers": {"resource_type": "model", "schema": "analytics_staging", "name": "stg_customers",
             "alias": "stg_customers", "original_file_path": "models/staging/stg_customers.sql",
             "depends_on": {"nodes": ["source.sluice_credit.credit_app.customers"]}},
           "model.sluice_credit.int_customers": {"resource_type": "model", "schema": "analytics_intermediate", "name": "int_customers",
             "depends_on": {"nodes": ["model.sluice_credit.stg_customers"]}},
           "model.sluice_credit.customer_mart": {"resource_type": "model", "schema": "analytics_marts", "name": "customer_mart",
             "depends_on": {"nodes": ["model.sluice_credit.int_customers", "model.sluice_credit.stg_customers"]}},
           "model.sluice_credit.unrelated": {"resource_type": "model", "schema": "analytics", "name": "unrelated",
             "depends_on": {"nodes": ["source.sluice_credit.credit_app.elsewhere"]}},
           "test.sluice_credit.not_null": {"resource_type": "test", "depends_on": {"nodes": ["model.sluice_credit.stg_customers"]}}}}
        """

    @Test func dbtModelsDownstreamOfReplicaTablesJoinTheGraph() throws {
        var inputs = Self.shipped()
        inputs.manifest = try JSONValue.parse(Self.manifest)
        let g = LineageDerivation.derive(inputs)
        let models = g.nodes.filter { $0.kind == .dbtModel }
        #expect(models.map(\.name) == ["analytics_staging.stg_customers", "analytics_intermediate.int_customers", "analytics_marts.customer_mart"])
        #expect(models.map(\.layer) == [3, 4, 5])
        #expect(g.manifestGeneratedAt == "2026-12-01T10:00:00.000000Z")
        #expect(g.edges.contains(.init(from: "postgres:credit_app.dbo.customers", to: "dbt:model.sluice_credit.stg_customers", via: "dbt")))
        #expect(g.edges.contains(.init(from: "dbt:model.sluice_credit.int_customers", to: "dbt:model.sluice_credit.customer_mart", via: "dbt")))
        #expect(g.edges.contains(.init(from: "dbt:model.sluice_credit.stg_customers", to: "dbt:model.sluice_credit.customer_mart", via: "dbt")))
        #expect(g.node("dbt:model.sluice_credit.unrelated") == nil)
        #expect(g.nodes.allSatisfy { !$0.id.hasPrefix("dbt:test.") })
    }

    @Test func consumerLagIsReadPerConnectorAndTopic() {
        let metrics = """
            # TYPE sluice_sink_consumer_lag gauge
            sluice_sink_consumer_lag{connector="replica-postgres",partition="0",topic="credit.CreditStaging.dbo.customers"} 3
            sluice_sink_consumer_lag{connector="replica-postgres",partition="1",topic="credit.CreditStaging.dbo.customers"} 4
            sluice_sink_consumer_lag{connector="warehouse-scd2",partition="0",topic="credit.CreditStaging.dbo.customers"} 0
            sluice_sink_consumer_lag_other{connector="x",topic="y"} 9
            """
        let lag = PipelineStatus.consumerLag(in: metrics)
        #expect(lag["replica-postgres"]?["credit.CreditStaging.dbo.customers"] == 7)
        #expect(lag["warehouse-scd2"]?["credit.CreditStaging.dbo.customers"] == 0)
        #expect(lag["x"] == nil)
    }

    @Test func theDiagramDrawsEveryNodeAndLinksReplicaTables() throws {
        var inputs = Self.shipped()
        inputs.manifest = try JSONValue.parse(Self.manifest)
        var g = LineageDerivation.derive(inputs)
        g.nodes[0].rows = 1234
        let svg = LineageDiagram.svg(g, selected: "dbo.customers")
        #expect(svg.components(separatedBy: "<g class=\"node ").count - 1 == g.nodes.count)
        #expect(svg.components(separatedBy: "<path class=\"edge\"").count - 1 == g.edges.count)
        #expect(svg.contains("href=\"/lineage?table=dbo.customers#columns\""))
        #expect(svg.contains("1,234 rows"))
        #expect(!svg.contains("<script"))
    }
}
