import SluiceCore
import Testing

@Suite struct PostgresSinkConfigurationTests {
    func load(_ config: String, env: [String: String] = [:]) throws(ConfigurationError) -> PostgresSinkConfiguration {
        let json = #"{"name":"replica-postgres","config":{"# + config + "}}"
        return try PostgresSinkConfiguration(ConnectorProperties.parse(Array(json.utf8), origin: "t.json", environment: env))
    }

    @Test func readsTheShippedConnectorFile() throws {
        let bytes = try readFile("connectors/replica-postgres.json")
        let env = ["SLUICE_PG_URL": "postgres://sluice:s%40cret@127.0.0.1:55432/credit_app", "SLUICE_KAFKA_BOOTSTRAP": "127.0.0.1:59092"]
        let c = try PostgresSinkConfiguration(ConnectorProperties.parse(bytes, origin: "replica-postgres.json", environment: env))
        #expect(c.subscription == .regex(#"credit\.CreditStaging\.dbo\..*"#))
        #expect(c.groupID == "sluice-replica-postgres")
        #expect(c.host == "127.0.0.1" && c.port == 55432 && c.user == "sluice" && c.password?.value == "s@cret" && c.database == "credit_app")
        #expect(c.kafkaBootstrapServers == "127.0.0.1:59092")
        #expect(c.batchSize == 2000 && c.deadLetterTopic == "replica-postgres.dlq" && c.offsetsSchema == "sluice")
        let table = TableID(database: "CreditStaging", schema: "dbo", table: "customers")
        #expect(c.targetTable(for: table, topic: "credit.CreditStaging.dbo.customers") == ("dbo", "customers"))
    }

    @Test func defaultsAndOtherFormats() throws {
        let c = try load(#""connector.class":"postgres-sink","topics":"a, b","connection.url":"postgresql://u@db/app?sslmode=disable","kafka.bootstrap.servers":"k:9092","table.name.format":"replica_${source.table}""#)
        #expect(c.subscription == .topics(["a", "b"]))
        #expect(c.groupID == "sluice-replica-postgres")
        #expect(c.port == 5432 && c.sslMode == .disable && c.password == nil)
        #expect(c.deadLetterTopic == "replica-postgres.dlq")
        #expect(c.targetTable(for: TableID(database: "D", schema: "dbo", table: "t"), topic: "x") == ("public", "replica_t"))
    }

    @Test func urlOptionsOtherThanSSLModeAreRefusedNotDropped() throws {
        do {
            _ = try load(#""connector.class":"postgres-sink","topics":"a","connection.url":"postgres://u:p@db/app?sslmode=require&connect_timeout=5","kafka.bootstrap.servers":"k:9092""#)
            Issue.record("a URL option was dropped silently")
        } catch {
            #expect(error.description.contains("connection.url: the URL option 'connect_timeout' is not read (only sslmode is)"), "\(error)")
        }
    }

    @Test func explainsEveryProblem() throws {
        do {
            _ = try load(#""connector.class":"jdbc-sink","topics":"a","topics.regex":"b","connection.url":"mysql://x","batch.size":"0","table.name.format":"${source.nope}","schema.evolution":"full","bogus.key":"1""#)
            Issue.record("expected a configuration error")
        } catch {
            let text = error.description
            for fragment in ["connector.class: \"jdbc-sink\" is not the Postgres sink", "topics.regex: set either topics or topics.regex",
                             "connection.url: must start with postgres://", "kafka.bootstrap.servers: missing", "batch.size: 0 is out of range",
                             "table.name.format: \"${source.nope}\" has an unknown placeholder", "schema.evolution: \"full\" is not one of",
                             "bogus.key: unknown key"] {
                #expect(text.contains(fragment), "missing: \(fragment) in \(text)")
            }
        }
    }

    @Test func missingTopicsAndDatabaseAreNamed() throws {
        do {
            _ = try load(#""connector.class":"postgres-sink","connection.url":"postgres://u:p@h:1","kafka.bootstrap.servers":"k""#)
            Issue.record("expected a configuration error")
        } catch {
            #expect(error.description.contains("topics: missing"))
            #expect(error.description.contains("names no database"))
        }
    }
}

@Suite struct PostgresTargetTableTests {
    func configuration(_ format: String) throws -> PostgresSinkConfiguration {
        let json = #"{"name":"r","config":{"connector.class":"postgres-sink","topics":"a","connection.url":"postgres://u@db/app","kafka.bootstrap.servers":"k:9092","table.name.format":"\#(format)"}}"#
        return try PostgresSinkConfiguration(ConnectorProperties.parse(Array(json.utf8), origin: "test", environment: [:]))
    }

    @Test func everyPlaceholderIsFilledOnce() throws {
        let table = TableID(database: "Db", schema: "dbo", table: "t")
        #expect(try configuration("${source.db}_${source.schema}.${source.table}_x").targetTable(for: table, topic: "p.Db.dbo.t") == ("Db_dbo", "t_x"))
        #expect(try configuration("raw.$${topic}").targetTable(for: table, topic: "p.Db.dbo.t") == ("raw", "p.Db.dbo.t"))
        #expect(try configuration("${source.table}").targetTable(for: table, topic: "x") == ("public", "t"))
        // A placeholder's value is not itself expanded.
        let odd = TableID(database: "Db", schema: "${topic}", table: "t")
        #expect(try configuration("${source.schema}.${source.table}").targetTable(for: odd, topic: "x") == ("${topic}", "t"))
    }
}
