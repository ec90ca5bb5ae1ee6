import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import SluiceCore
import SluiceKafka
import SluiceLineage
import SluiceOperations
import SluiceSQLServerSource
import SluicePostgresSink
import SluiceWarehouseSink
import ServiceLifecycle
import UnixSignals

/// `sluice run <connector.json>…`: runs the connectors in one process until SIGTERM or SIGINT, then
/// drains (publishes what was read, stores positions) and exits 0.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run connectors until SIGTERM/SIGINT; serves /metrics, /health/live and /health/ready.",
        discussion: """
            Every file is validated first; any problem stops the start with one line per problem.
            Environment: SLUICE_LOG_LEVEL (trace|debug|info|notice|warning|error), SLUICE_HTTP_PORT;
            OpenLineage events: SLUICE_OPENLINEAGE_URL (POST <url>/api/v1/lineage), SLUICE_OPENLINEAGE_FILE
            (JSON lines), SLUICE_OPENLINEAGE_NAMESPACE [sluice], SLUICE_OPENLINEAGE_API_KEY_FILE.
            """
    )

    @Argument(help: "Connector files (JSON).")
    var files: [String]

    @Option(name: .long, help: "Address the operations endpoints listen on.")
    var httpHost: String = "127.0.0.1"

    @Option(name: .long, help: "Port of /metrics and /health (0 picks a free one; default $SLUICE_HTTP_PORT or 8083).")
    var httpPort: Int?

    @Option(name: .long, help: "Log level (default $SLUICE_LOG_LEVEL or info).")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let level = Logger.Level(rawValue: logLevel ?? environment["SLUICE_LOG_LEVEL"] ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sluice")
        do {
            try KafkaLibrary.checkVersion()
        } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            throw ExitCode.failure
        }

        let lineage: LineageSetup?
        do {
            lineage = try LineageSetup.fromEnvironment(environment, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var connectors: [any Service] = []
        var failed = false
        let health = HealthRegistry()
        for path in files {
            do {
                let (kind, properties) = try ConnectorFile.load(path: path, environment: environment)
                switch kind {
                case .sqlServerSource:
                    let configuration = try SQLServerSourceConfiguration(properties)
                    let run = lineage?.run(connector: configuration.name)
                    connectors.append(Self.lineage(SQLServerSourceConnector(configuration: configuration, health: health, logger: logger,
                                                                            lineage: run), run, datasets: nil))
                case .postgresSink:
                    let configuration = try PostgresSinkConfiguration(properties)
                    connectors.append(Self.lineage(PostgresSinkConnector.makeService(configuration: configuration, health: health, logger: logger),
                                                   lineage?.run(connector: configuration.name),
                                                   datasets: PostgresSinkConnector.lineageDatasets(configuration)))
                case .warehouseSink:
                    let configuration = try WarehouseSinkConfiguration(properties)
                    connectors.append(Self.lineage(WarehouseSinkConnector.makeService(configuration: configuration, health: health, logger: logger),
                                                   lineage?.run(connector: configuration.name),
                                                   datasets: WarehouseSinkConnector.lineageDatasets(configuration)))
                }
            } catch {
                failed = true
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
            }
        }
        if failed { throw ExitCode(2) }

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let port = httpPort ?? environment["SLUICE_HTTP_PORT"].flatMap(Int.init) ?? 8083
        let app = OperationsServer.application(host: httpHost, port: port, registry: registry, health: health,
                                               services: (lineage.map { [$0.dispatcher] } ?? []) + connectors, logger: logger)
        logger.info("sluice \(SluiceVersion.current) running \(connectors.count) connector(s); operations on http://\(httpHost):\(port)")
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        logger.info("sluice stopped")
    }
}
