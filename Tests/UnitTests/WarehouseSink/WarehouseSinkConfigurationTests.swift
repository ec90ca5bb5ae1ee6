import SluiceCore
import SluiceWarehouseSink
import Testing

@Suite struct WarehouseSinkConfigurationTests {
    func properties(_ values: [String: String]) -> ConnectorProperties {
        ConnectorProperties(name: "warehouse", origin: "test.json", values: values)
    }

    @Test func defaultsAndURL() throws {
        let c = try WarehouseSinkConfiguration(properties([
            "connector.class": "warehouse-sink", "connection.url": "mssql://u:p%40ss@db:1444/CreditWarehouse",
            "kafka.bootstrap.servers": "k:9092",
        ]))
        #expect(c.host == "db" && c.port == 1444 && c.user == "u" && c.password.value == "p@ss" && c.database == "CreditWarehouse")
        #expect(c.groupID == "sluice-warehouse")
        #expect(c.topics.count == 3)
        #expect(c.customer.tracked.contains("address") && c.customer.type1.contains("email"))
        #expect(c.application.tracked == ["status"])
        #expect(c.deadLetterTopic == "warehouse.dlq")  // <connector name>.dlq, as for the replica
        // The catalogue of the configuration and of the model agree.
        #expect(WarehouseSinkConfiguration.customerColumns == WarehouseModel.customerColumns.map(\.name))
        #expect(WarehouseSinkConfiguration.applicationColumns == WarehouseModel.applicationColumns.map(\.name))
    }

    @Test func everyProblemIsReportedAtOnce() {
        #expect {
            try WarehouseSinkConfiguration(properties([
                "connector.class": "warehouse-sink", "connection.url": "postgres://x",
                "dimension.customer.tracked.columns": "address,shoe_size",
                "dimension.customer.type1.columns": "address",
                "batch.sise": "5",
            ]))
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            let keys = Set(error.problems.compactMap(\.key))
            return keys.isSuperset(of: ["connection.url", "kafka.bootstrap.servers", "dimension.customer.tracked.columns",
                                        "dimension.customer.type1.columns", "batch.sise"])
        }
    }

    @Test func theShippedConnectorFileIsValid() throws {
        let loaded = try ConnectorFile.load(
            path: #filePath.components(separatedBy: "/Tests/")[0] + "/connectors/warehouse-scd2.json",
            environment: ["SLUICE_WAREHOUSE_URL": "mssql://sluice:pw@127.0.0.1:51434/CreditWarehouse", "SLUICE_KAFKA_BOOTSTRAP": "127.0.0.1:9092"],
            as: [SQLServerSourceConfiguration.self, PostgresSinkConfiguration.self, WarehouseSinkConfiguration.self])
        let c = try #require(loaded as? WarehouseSinkConfiguration)
        #expect(c.groupID == "sluice-warehouse")
    }
}
