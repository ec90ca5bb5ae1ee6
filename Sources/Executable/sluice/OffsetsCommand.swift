import ArgumentParser
import Foundation
import Logging
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit
import SluiceSQLServer
import SluiceSQLServerSource
import SluiceWarehouseSink

/// `sluice offsets show|reset <connector.json>`: where a connector stands and, for a sink, moving it.
struct OffsetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offsets",
        abstract: "Show a connector's stored position (and how far behind it is), or reset a sink's.",
        subcommands: [Show.self, Reset.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A source's stored position per database next to the current max LSN; a sink's stored offsets per partition next to the topic's end offsets (lag).")

        @Argument(help: "The connector file.")
        var file: String

        func run() async throws {
            let logger = OffsetsCommand.logger()
            switch try OffsetsCommand.load(file) {
            case .source(let configuration):
                try await OffsetsCommand.showSource(configuration, logger: logger)
            case .sink(let sink):
                let rows = try await sink.offsets(logger: logger)
                print("group \(sink.groupID) (offsets stored in the target)")
                print("topic\tpartition\tstored\tend\tlag")
                for row in rows {
                    print("\(row.partition.topic)\t\(row.partition.partition)\t\(row.stored.map(String.init) ?? "-")\t\(row.end)\t\(row.lag)")
                }
            }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a sink's stored offsets (in its target database) to the earliest or latest offset of each partition, or to an offset.",
            discussion: """
                Refused while the sink runs: the consumer group must have no members (the group coordinator
                reports them; stop every process of the group first, e.g. systemctl stop sluice@<name>). The
                next start resumes from the new offsets. Events before a reset to an earlier offset are
                re-read and ignored where the target already holds them (positions).
                """)

        @Argument(help: "The sink's connector file.")
        var file: String

        @Option(name: .long, help: "earliest, latest, or an offset (applied to every partition).")
        var to: String

        @Flag(name: .long, help: "Really change the stored offsets.")
        var yes = false

        func run() async throws {
            let logger = OffsetsCommand.logger()
            guard case .sink(let sink) = try OffsetsCommand.load(file) else {
                OffsetsCommand.fail("offsets reset moves a sink's offsets; a source's position is not reset by this command (stop the source and delete its key from __sluice-offsets.<prefix> to snapshot again)")
            }
            let target: SinkReset.Target
            switch to {
            case "earliest": target = .earliest
            case "latest": target = .latest
            default:
                guard let offset = Int64(to), offset >= 0 else { OffsetsCommand.fail("--to must be earliest, latest or an offset (a whole number ≥ 0), not \"\(to)\"") }
                target = .offset(offset)
            }
            let members = try await sink.memberCount(logger: logger)
            guard members == 0 else {
                OffsetsCommand.fail("consumer group \(sink.groupID) has \(members) active member(s): the sink is running. Stop every process of the group first (e.g. systemctl stop sluice@\(sink.name)), then reset")
            }
            let plan = try await sink.plan(target, logger: logger)
            print("topic\tpartition\tstored\tnew")
            for row in plan { print("\(row.partition.topic)\t\(row.partition.partition)\t\(row.stored.map(String.init) ?? "-")\t\(row.new)") }
            guard yes else {
                print("Nothing changed: add --yes to store these offsets.")
                throw ExitCode(3)
            }
            try await sink.store(plan, logger: logger)
            print("Stored. The sink resumes from these offsets at its next start.")
        }
    }

    enum Loaded {
        case source(SQLServerSourceConfiguration)
        case sink(SinkReset)
    }

    static func load(_ file: String) throws -> Loaded {
        do {
            let connector = try ConnectorRegistry.sluice.load(path: file, environment: ProcessInfo.processInfo.environment)
            if let sink = connector.definition as? any SinkConnectorDefinition.Type,
               let access = sink.offsets(of: connector.configuration) {
                return .sink(SinkReset(access))
            }
            if let source = connector.configuration as? SQLServerSourceConfiguration { return .source(source) }
            fail("\(file): sluice offsets does not know where a \(connector.kind) connector keeps its position")
        } catch {
            fail(error.description)
        }
    }

    static func showSource(_ configuration: SQLServerSourceConfiguration, logger: Logger) async throws {
        var connection = KafkaConnectionConfiguration(bootstrapServers: configuration.kafkaBootstrapServers,
                                                      clientID: "sluice-offsets-\(configuration.name)")
        for (key, value) in configuration.kafkaProperties where !value.isEmpty { connection.additionalProperties[key] = value }
        let namer = TopicNamer(prefix: configuration.topicPrefix)
        let store = KafkaOffsetStore(topic: namer.offsetsTopic, server: configuration.topicPrefix, connection: connection, logger: logger)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(connection: connection.forProducer), logger: logger)
        let stored: [String: SourceOffset]
        do {
            stored = try await store.load(databases: Set(configuration.databases), producer: producer)
        } catch {
            await producer.shutdown()
            throw error
        }
        await producer.shutdown()
        print("source \(configuration.name) (positions in \(namer.offsetsTopic))")
        print("database\tprocessed_through\tposition\tsnapshot\tmax_lsn")
        for database in configuration.databases {
            let sql = SQLServerConfiguration(host: configuration.host, port: configuration.port, username: configuration.user,
                                             password: configuration.password.value, database: database,
                                             options: .init(applicationName: "sluice-offsets-\(configuration.name)"))
            let catalog = CDCCatalog(database: database, mapping: configuration.decimalHandlingMode, keyOverrides: configuration.messageKeyColumns)
            let max = try await SQLServerConnection.withConnection(configuration: sql, logger: logger) { try await catalog.maxLSN($0) }
            let offset = stored[database]
            let json = offset?.json.objectValue
            print([database, offset?.processedThrough?.description ?? "-",
                   json?["commit_lsn"]?.stringValue ?? "-", json?["snapshot"]?.stringValue ?? "-",
                   max?.description ?? "-"].joined(separator: "\t"))
        }
    }

    static func logger() -> Logger {
        var logger = Logger(label: "sluice.offsets")
        logger.logLevel = .warning
        return logger
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("sluice: \(message)\n".utf8))
        Foundation.exit(2)
    }
}
