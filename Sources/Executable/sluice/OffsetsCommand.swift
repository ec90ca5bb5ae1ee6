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
        abstract: "Show a connector's stored position (and how far behind it is), or reset it.",
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
            abstract: "Move a sink's stored offsets (in its target database) or a source's stored position (in __sluice-offsets.<prefix>).",
            discussion: """
                A sink: --to earliest, latest (each partition's earliest or end offset) or an offset, applied to
                every partition. Events re-read after a reset to an earlier offset are ignored where the target
                already holds them (positions).
                A source: --to earliest (the stored position is removed: the next start snapshots again),
                latest (stream from the first change after the current max LSN) or an LSN such as
                0000002a:00000d18:0003 (stream from the first change committed after it: the same
                processed_through that `offsets show` prints); --database picks one database of several.
                Refused while the connector runs, on any host: a running sink is a member of its consumer
                group, a running source of the group __sluice-source.<prefix>; the group coordinator is asked
                for the members (DescribeGroups). Stop every process first (e.g. systemctl stop sluice@<name>;
                a process killed with SIGKILL stays a member until its session times out, 6 to 10 s). Without
                --yes the plan is printed and nothing changes (exit 3).
                """)

        @Argument(help: "The connector file.")
        var file: String

        @Option(name: .long, help: "A sink: earliest, latest, or an offset (applied to every partition). A source: earliest, latest, or an LSN.")
        var to: String

        @Option(name: .long, help: "A source only: reset this database (default: every database of database.names; required for an LSN when there are several).")
        var database: String?

        @Flag(name: .long, help: "Really change the stored offsets.")
        var yes = false

        func run() async throws {
            let logger = OffsetsCommand.logger()
            let sink: SinkReset
            switch try OffsetsCommand.load(file) {
            case .source(let configuration):
                try await resetSource(configuration, logger: logger)
                return
            case .sink(let s):
                sink = s
            }
            if database != nil { OffsetsCommand.fail("--database is for a source; a sink's offsets are per partition") }
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

        func resetSource(_ configuration: SQLServerSourceConfiguration, logger: Logger) async throws {
            guard let target = SourcePositionReset.Target(to) else {
                OffsetsCommand.fail("--to must be earliest, latest or an LSN (0000002a:00000d18:0003, as offsets show and the events' source.commit_lsn print it), not \"\(to)\"")
            }
            let databases: [String]
            if let database {
                guard configuration.databases.contains(database) else {
                    OffsetsCommand.fail("--database \(database) is not one of database.names (\(configuration.databases.joined(separator: ", ")))")
                }
                databases = [database]
            } else {
                if case .position = target, configuration.databases.count > 1 {
                    OffsetsCommand.fail("an LSN belongs to one database: add --database (one of \(configuration.databases.joined(separator: ", ")))")
                }
                databases = configuration.databases
            }
            let store = OffsetsCommand.positionStore(configuration, logger: logger)
            let group = TopicNamer(prefix: configuration.topicPrefix).sourceLivenessGroup
            try await OffsetsCommand.refuseWhileRunning(configuration, group: group, store: store, logger: logger)
            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(connection: store.connection.forProducer), logger: logger)
            do {
                let stored = try await store.load(databases: Set(databases), producer: producer)
                let reset = SourcePositionReset(configuration: configuration)
                var plans: [SourcePositionReset.Plan] = []
                for database in databases {
                    let plan: SourcePositionReset.Plan
                    do {
                        plan = try await SQLServerConnection.withConnection(configuration: OffsetsCommand.sqlServer(configuration, database: database), logger: logger) {
                            try await reset.plan(target, database: database, stored: stored[database], connection: $0)
                        }
                    } catch let refusal as SourcePositionReset.Refusal {
                        await producer.shutdown()
                        OffsetsCommand.fail(refusal.description)
                    }
                    plans.append(plan)
                }
                print("database\tstored\tnew\tnext start")
                for plan in plans {
                    print([plan.database, plan.stored.map(OffsetsCommand.summary) ?? "-", plan.new.map(OffsetsCommand.summary) ?? "removed", plan.effect]
                        .joined(separator: "\t"))
                }
                guard yes else {
                    print("Nothing changed: add --yes to store this.")
                    throw ExitCode(3)
                }
                try await OffsetsCommand.refuseWhileRunning(configuration, group: group, store: store, logger: logger)
                for plan in plans {
                    if let new = plan.new {
                        try await store.store(new, database: plan.database, producer: producer)
                    } else {
                        try await store.remove(database: plan.database, producer: producer)
                    }
                }
                await producer.shutdown()
            } catch {
                await producer.shutdown()
                throw error
            }
            // A source that started while the positions were written may have loaded the old ones.
            let late = try await OffsetsCommand.withAdmin(store.connection, logger: logger) { try await $0.members(ofGroup: group) }
            guard late.isEmpty else {
                OffsetsCommand.fail("stored, but a source started meanwhile (\(late.map(\.description).joined(separator: ", "))) and may have loaded the old position: restart it")
            }
            print("Stored. The source resumes from this at its next start.")
        }
    }

    /// Fails (exit 2) naming the members when a source of this prefix is running.
    static func refuseWhileRunning(_ configuration: SQLServerSourceConfiguration, group: String, store: SourcePositionStore, logger: Logger) async throws {
        let members = try await withAdmin(store.connection, logger: logger) { try await $0.members(ofGroup: group) }
        guard members.isEmpty else {
            fail("the source is running: consumer group \(group) has \(members.count) member(s) (\(members.map(\.description).joined(separator: ", "))), and every running source of topic.prefix \(configuration.topicPrefix) is one. Stop it first (e.g. systemctl stop sluice@\(configuration.name)); a source killed with SIGKILL stays a member until its session times out (6 s)")
        }
    }

    static func withAdmin<T>(_ connection: KafkaConnectionConfiguration, logger: Logger, _ body: (KafkaAdminClient) async throws -> T) async throws -> T {
        let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: connection.forProducer), logger: logger)
        do {
            let result = try await body(admin)
            await admin.shutdown()
            return result
        } catch {
            await admin.shutdown()
            throw error
        }
    }

    /// `processed_through` (or the snapshot state when nothing was streamed) of an offset.
    static func summary(_ offset: SourceOffset) -> String {
        let snapshot = offset.json.objectValue?["snapshot"]?.stringValue ?? "-"
        if let through = offset.processedThrough { return "\(through) (snapshot \(snapshot))" }
        return "snapshot \(snapshot)"
    }

    static func positionStore(_ configuration: SQLServerSourceConfiguration, logger: Logger) -> SourcePositionStore {
        var connection = KafkaConnectionConfiguration(bootstrapServers: configuration.kafkaBootstrapServers,
                                                      clientID: "sluice-offsets-\(configuration.name)")
        for (key, value) in configuration.kafkaProperties where !value.isEmpty { connection.additionalProperties[key] = value }
        let namer = TopicNamer(prefix: configuration.topicPrefix)
        return SourcePositionStore(topic: namer.offsetsTopic, server: configuration.topicPrefix, connection: connection, logger: logger)
    }

    static func sqlServer(_ configuration: SQLServerSourceConfiguration, database: String) -> SQLServerConfiguration {
        SQLServerConfiguration(host: configuration.host, port: configuration.port, username: configuration.user,
                               password: configuration.password.value, database: database,
                               options: .init(applicationName: "sluice-offsets-\(configuration.name)"))
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
        let namer = TopicNamer(prefix: configuration.topicPrefix)
        let store = positionStore(configuration, logger: logger)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(connection: store.connection.forProducer), logger: logger)
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
            let sql = sqlServer(configuration, database: database)
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
