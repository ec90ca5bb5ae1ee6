import Testing
@testable import SluiceCore

@Suite struct SQLServerSourceConfigurationTests {
    func load(_ config: String, env: [String: String] = [:]) throws(ConfigurationError) -> SQLServerSourceConfiguration {
        let json = #"{"name":"credit-source","config":{"# + config + "}}"
        return try SQLServerSourceConfiguration(ConnectorProperties.parse(Array(json.utf8), origin: "t.json", environment: env))
    }

    @Test func readsTheShippedConnectorFile() throws {
        let bytes = try readFile("connectors/credit-source.json")
        let env = ["SLUICE_STAGING_URL": "mssql://sluice:Sluice%21pw@127.0.0.1:51433/CreditStaging",
                   "SLUICE_KAFKA_BOOTSTRAP": "127.0.0.1:59092"]
        let c = try SQLServerSourceConfiguration(ConnectorProperties.parse(bytes, origin: "credit-source.json", environment: env))
        #expect(c.host == "127.0.0.1" && c.port == 51433 && c.user == "sluice" && c.password.value == "Sluice!pw")
        #expect(c.databases == ["CreditStaging"])
        #expect(c.topicPrefix == "credit")
        #expect(c.tableIncludeList == ["dbo.customers", "dbo.credit_applications", "dbo.repayments"])
        #expect(c.snapshotMode == .initial && c.provideTransactionMetadata && c.tombstonesOnDelete)
    }

    @Test func explainsEveryProblem() throws {
        do {
            _ = try load(#""connector.class":"jdbc-sink","database.url":"postgres://x","snapshot.mode":"never","poll.interval.ms":"0","decimal.handling.mode":"precise","message.key.columns":"dbo.t""#)
            Issue.record("expected a configuration error")
        } catch {
            let text = error.description
            for fragment in ["connector.class: \"jdbc-sink\" is not the SQL Server source", "database.url: must start with mssql://",
                             "topic.prefix: missing", "kafka.bootstrap.servers: missing", "snapshot.mode: \"never\" is not one of",
                             "poll.interval.ms: 0 is out of range", "decimal.handling.mode: precise writes", "message.key.columns: \"dbo.t\""] {
                #expect(text.contains(fragment), "missing: \(fragment) in \(text)")
            }
        }
    }

    @Test("database.query.timeout.ms: Debezium's default of 10 minutes, 0 for none, negative refused")
    func queryTimeout() throws {
        let base = #""connector.class":"sqlserver-source","database.url":"mssql://u:p@db/Credit","topic.prefix":"t","kafka.bootstrap.servers":"k:9092""#
        #expect(try load(base).queryTimeoutMs == 600_000)
        #expect(try load(base + #","database.query.timeout.ms":1500"#).queryTimeoutMs == 1500)
        #expect(try load(base + #","database.query.timeout.ms":0"#).queryTimeoutMs == 0)
        #expect(throws: ConfigurationError.self) { try load(base + #","database.query.timeout.ms":-1"#) }
    }

    @Test("topic.creation.default.partitions / .replication.factor: 1 and the broker's default unless set; 0 refused")
    func topicCreation() throws {
        let base = #""connector.class":"sqlserver-source","database.url":"mssql://u:p@db/Credit","topic.prefix":"t","kafka.bootstrap.servers":"k:9092""#
        let defaults = try load(base)
        #expect(defaults.topicCreationDefaultPartitions == 1 && defaults.topicCreationDefaultReplicationFactor == -1)
        let set = try load(base + #","topic.creation.default.partitions":6,"topic.creation.default.replication.factor":3"#)
        #expect(set.topicCreationDefaultPartitions == 6 && set.topicCreationDefaultReplicationFactor == 3)
        #expect(try load(base + #","topic.creation.default.partitions":-1"#).topicCreationDefaultPartitions == -1)
        do {
            _ = try load(base + #","topic.creation.default.partitions":0,"topic.creation.default.replication.factor":0"#)
            Issue.record("0 partitions was accepted")
        } catch {
            #expect("\(error)".contains("topic.creation.default.partitions: 0 is not allowed"))
            #expect("\(error)".contains("topic.creation.default.replication.factor: 0 is not allowed"))
        }
    }

    @Test func urlOptionsAreRefusedNotDropped() throws {
        do {
            _ = try load(#""connector.class":"sqlserver-source","database.url":"mssql://u:p@db/Credit?loginTimeout=5","topic.prefix":"t","kafka.bootstrap.servers":"k:9092""#)
            Issue.record("a URL option was dropped silently")
        } catch {
            #expect(error.description.contains("database.url: options after '?' are not read"), "\(error)")
        }
        // A '?' inside the (percent-encoded or not) password is not an option.
        let c = try load(#""connector.class":"sqlserver-source","database.url":"mssql://u:p?w@db/Credit","topic.prefix":"t","kafka.bootstrap.servers":"k:9092""#)
        #expect(c.password.value == "p?w" && c.host == "db")
    }

    @Test func separateHostKeysWorkWithoutAURL() throws {
        let c = try load(#""connector.class":"sqlserver-source","database.hostname":"db","database.user":"u","database.password":"p","database.names":"A, B","topic.prefix":"t","kafka.bootstrap.servers":"k:9092","kafka.linger.ms":"5","snapshot.mode":"schema_only","message.key.columns":"dbo.t:a,b;dbo.u:c""#)
        #expect(c.host == "db" && c.port == 1433 && c.databases == ["A", "B"])
        #expect(c.snapshotMode == .noData)
        #expect(c.messageKeyColumns == ["dbo.t": ["a", "b"], "dbo.u": ["c"]])
        #expect(c.kafkaProperties.map(\.0) == ["linger.ms"])
    }
}

/// Reads a file relative to the package root (tests run from it).
func readFile(_ path: String) throws -> [UInt8] {
    var bytes: [UInt8] = []
    guard let f = fopen(path, "rb") else { throw POSIXErrorLike(path: path) }
    defer { fclose(f) }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return bytes
}

struct POSIXErrorLike: Error { let path: String }

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one URL-and-keys merge, as the source and the warehouse sink read their logins.
@Suite struct SQLServerLoginTests {
    func properties(_ config: String) throws -> ConnectorProperties {
        try ConnectorProperties.parse(Array(#"{"name":"c","config":{\#(config)}}"#.utf8), origin: "t.json", environment: [:])
    }

    @Test func separateKeysOverrideTheURL() throws {
        var p = try properties(#""database.url":"mssql://u:p@db:1500/Credit","database.hostname":"other","database.port":"1600","database.password":"q""#)
        let login = SQLServerLogin.read(.init(url: "database.url", urlRequired: false, host: "database.hostname", port: "database.port",
                                              user: "database.user", password: "database.password"), from: &p)
        #expect(login.host == "other" && login.port == 1600 && login.user == "u" && login.password.value == "q" && login.database == "Credit")
        #expect(p.problems.isEmpty)
    }

    @Test func missingPartsNameBothPlaces() throws {
        var p = try properties(#""connection.url":"mssql://wh/CreditWarehouse?loginTimeout=5""#)
        _ = SQLServerLogin.read(.init(url: "connection.url", urlRequired: true, user: "connection.user", password: "connection.password"), from: &p)
        let text = p.problems.map(\.description)
        #expect(text.contains("connection.user: missing: set it in connection.url or connection.user"), "\(text)")
        #expect(text.contains("connection.password: missing: set it in connection.url or connection.password"), "\(text)")
        #expect(text.contains("connection.url: options after '?' are not read from connector files; remove them"), "\(text)")
    }
}
