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
            Environment: SLUICE_LOG_LEVEL (trace|debug|info|notice|warning|error), SLUICE_HTTP_HOST, SLUICE_HTTP_PORT,
            SLUICE_PROGRESS_TIMEOUT, SLUICE_SIGNALS_TOKEN_FILE (POST /signals then needs Authorization: Bearer <token>). Under systemd (Type=notify) it sends READY=1 once every component is
            ready, STATUS= on each health change, WATCHDOG=1 every WATCHDOG_USEC/2 while no component is
            wedged, and STOPPING=1 when draining (README, "Operations").
            OpenLineage events: SLUICE_OPENLINEAGE_URL (POST <url>/api/v1/lineage), SLUICE_OPENLINEAGE_FILE
            (JSON lines), SLUICE_OPENLINEAGE_NAMESPACE [sluice], SLUICE_OPENLINEAGE_API_KEY_FILE.
            """
    )

    @Argument(help: "Connector files (JSON).")
    var files: [String]

    @Option(name: .long, help: "Address the operations endpoints listen on (default $SLUICE_HTTP_HOST or 127.0.0.1; a container needs 0.0.0.0).")
    var httpHost: String?

    @Option(name: .long, help: "Port of /metrics and /health (0 picks a free one; default $SLUICE_HTTP_PORT or 8083).")
    var httpPort: Int?

    @Option(name: .long, help: "Log level (default $SLUICE_LOG_LEVEL or info).")
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp(
        "Seconds a component may stay without progress beyond its own expected wait before it counts as wedged and the systemd watchdog pings stop (default $SLUICE_PROGRESS_TIMEOUT or 120).",
        valueName: "seconds"))
    var progressTimeout: Double?

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

        // Metrics first: connectors create their metric handles when they are built, and a handle made
        // before the bootstrap belongs to the no-op factory and never reaches /metrics.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let health = HealthRegistry()
        if let text = progressTimeout.map({ String($0) }) ?? environment["SLUICE_PROGRESS_TIMEOUT"] {
            guard let seconds = Double(text), seconds > 0 else {
                FileHandle.standardError.write(Data("sluice: the progress timeout must be a positive number of seconds, not \"\(text)\" (--progress-timeout or SLUICE_PROGRESS_TIMEOUT)\n".utf8))
                throw ExitCode(2)
            }
            health.progress.grace = .milliseconds(Int64(seconds * 1000))
        }

        let lineage: LineageSetup?
        do {
            lineage = try LineageSetup.fromEnvironment(environment, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var connectors: [any Service] = []
        let signals = SourceSignalInbox()  // POST /signals: the sources of this run take their signals from it
        var failed = false
        for path in files {
            do {
                let connector = try ConnectorRegistry.sluice.load(path: path, environment: environment)
                let run = lineage?.run(connector: connector.name)
                let service = connector.makeService(ConnectorContext(health: health, logger: logger, lineage: run, signals: signals))
                connectors.append(Self.lineage(service, run, datasets: connector.lineageDatasets))
            } catch {
                failed = true
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
            }
        }
        if failed { throw ExitCode(2) }

        let port = httpPort ?? environment["SLUICE_HTTP_PORT"].flatMap(Int.init) ?? 8083
        let httpHost = httpHost ?? environment["SLUICE_HTTP_HOST"] ?? "127.0.0.1"
        do {
            try await OperationsAddressInUse.check(host: httpHost, port: port)
        } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let signalsToken: String?
        if let path = environment["SLUICE_SIGNALS_TOKEN_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  case let token = text.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
                FileHandle.standardError.write(Data("sluice: SLUICE_SIGNALS_TOKEN_FILE=\(path) is not a readable file holding a token; write one (e.g. openssl rand -hex 32 > \(path)) or unset the variable\n".utf8))
                throw ExitCode(2)
            }
            signalsToken = token
        } else {
            signalsToken = nil
            if !["127.0.0.1", "::1", "localhost"].contains(httpHost) {
                logger.warning("POST /signals answers anyone who reaches \(httpHost):\(port); set SLUICE_SIGNALS_TOKEN_FILE to require a bearer token")
            }
        }
        // The notifier comes last: the group stops in reverse order, so STOPPING=1 precedes the drain.
        let services = (lineage.map { [$0.dispatcher] } ?? []) + connectors + [SystemdNotifier(health: health, environment: environment, logger: logger)]
        let app = OperationsServer.application(host: httpHost, port: port, registry: registry, health: health,
                                               services: services, signals: signals, signalsToken: signalsToken, logger: logger)
        logger.info("sluice \(SluiceVersion.current) running \(connectors.count) connector(s); operations on http://\(httpHost):\(port)")
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch where OperationsAddressInUse.translating(error, host: httpHost, port: port) is OperationsAddressInUse {
            FileHandle.standardError.write(Data("sluice: \(OperationsAddressInUse(host: httpHost, port: port))\n".utf8))
            throw ExitCode.failure
        }
        logger.info("sluice stopped")
    }
}
