import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SluiceCore
import SluiceCreditApp
import SluiceOperations

/// `sluice app`: the credit back-office app (pages and /api/v1), and `sluice app users …`.
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "Run the credit back-office app (web pages + /api/v1); manage its users.",
        discussion: """
            `sluice app [serve] --http-host HOST --http-port PORT` (defaults 127.0.0.1 and 8080) runs the app; `sluice app serve --help` lists every flag.

            The app writes applications and decisions to staging (SQL Server, the source of truth), reads the Postgres replica (schema dbo of credit_app) and shows history from the warehouse. Its users, sessions and login failures live in schema app of credit_app.

            Configuration comes from flags, else --config FILE (a JSON object with these keys), else the environment:
              staging.url                   $SLUICE_STAGING_URL (required)
              replica.url                   $SLUICE_PG_URL (required)
              warehouse.url                 $SLUICE_WAREHOUSE_URL (required)
              pipeline.url                  $SLUICE_PIPELINE_URL (for the dashboard)
              session.idle.timeout.seconds  $SLUICE_APP_IDLE_TIMEOUT [1800]
              session.secure.cookie         $SLUICE_APP_SECURE_COOKIE [false]
              bcrypt.cost                   $SLUICE_APP_BCRYPT_COST [12]
            URLs are mssql://user:password@host:port/Database and postgres://user:password@host:port/credit_app; pipeline.url is the operations address of `sluice run` (http://127.0.0.1:8083). Set session.secure.cookie when a TLS proxy serves the app, so the session cookie is Secure. SLUICE_LOG_LEVEL sets the log level.

            Serves /health/live, /health/ready (staging, replica and warehouse reachable) and /metrics like `sluice run`; runs until SIGTERM/SIGINT, draining in-flight requests.
            """,
        subcommands: [AppServeCommand.self, AppUsersCommand.self],
        defaultSubcommand: AppServeCommand.self
    )
}

/// Options shared by the app's commands.
struct AppConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "A JSON configuration file with the keys listed in `sluice app --help`; values may use ${NAME}, ${NAME:-default} and ${file:PATH} as connector files do.")
    var config: String?

    @Option(name: .long, help: "Staging URL (default $SLUICE_STAGING_URL).")
    var stagingUrl: String?

    @Option(name: .long, help: "Replica / app database URL (default $SLUICE_PG_URL).")
    var replicaUrl: String?

    @Option(name: .long, help: "Warehouse URL (default $SLUICE_WAREHOUSE_URL).")
    var warehouseUrl: String?

    @Option(name: .long, help: "Operations address of `sluice run` for the dashboard (default $SLUICE_PIPELINE_URL).")
    var pipelineUrl: String?

    @Option(name: .long, help: "Session idle timeout in seconds (default $SLUICE_APP_IDLE_TIMEOUT or 1800).")
    var idleTimeout: Int?

    @Option(name: .long, help: "Log level (default $SLUICE_LOG_LEVEL or info).")
    var logLevel: String?

    func resolve(host: String, port: Int) throws -> CreditAppConfiguration {
        let values = try mergedValues()
        switch CreditAppConfiguration.resolve(values: values, environment: ProcessInfo.processInfo.environment, host: host, port: port) {
        case .success(let c): return c
        case .failure(let problems): try Self.fail(problems)
        }
    }

    func resolveReplica() throws -> PostgresURL {
        switch CreditAppConfiguration.resolveReplica(values: try mergedValues(), environment: ProcessInfo.processInfo.environment) {
        case .success(let u): return u
        case .failure(let problems): try Self.fail(problems)
        }
    }

    static func fail(_ problems: ConfigurationProblems) throws -> Never {
        FileHandle.standardError.write(Data((problems.lines.map { "sluice app: \($0)" }.joined(separator: "\n") + "\n").utf8))
        throw ExitCode(2)
    }

    func mergedValues() throws -> [String: String] {
        var values: [String: String] = [:]
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw ValidationError("--config \(config): cannot read the file")
            }
            guard case .object(let object) = try? JSONValue.parse(Array(data)) else {
                throw ValidationError("--config \(config): not a JSON object")
            }
            let known = Set(CreditAppConfiguration.keys.map(\.key))
            for (key, value) in object {
                guard known.contains(key) else {
                    throw ValidationError("--config \(config): unknown key '\(key)'; known: \(known.sorted().joined(separator: ", "))")
                }
                switch value {
                case .string(let s):
                    do {
                        values[key] = try ConnectorProperties.substitutingReferences(in: s, environment: ProcessInfo.processInfo.environment)
                    } catch {
                        throw ValidationError("--config \(config): '\(key)' \(error.message)")
                    }
                case .number(let n): values[key] = n
                case .bool(let b): values[key] = b ? "true" : "false"
                default: throw ValidationError("--config \(config): '\(key)' must be a string, number or boolean")
                }
            }
        }
        if let stagingUrl { values["staging.url"] = stagingUrl }
        if let replicaUrl { values["replica.url"] = replicaUrl }
        if let warehouseUrl { values["warehouse.url"] = warehouseUrl }
        if let pipelineUrl { values["pipeline.url"] = pipelineUrl }
        if let idleTimeout { values["session.idle.timeout.seconds"] = String(idleTimeout) }
        return values
    }

    func bootstrapLogging() -> Logger {
        let level = Logger.Level(rawValue: logLevel ?? ProcessInfo.processInfo.environment["SLUICE_LOG_LEVEL"] ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "sluice.app")
    }
}

struct AppServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the app until SIGTERM/SIGINT (the default of `sluice app`)."
    )

    @OptionGroup var options: AppConfigurationOptions

    @Option(name: .long, help: "Address the app listens on.")
    var httpHost: String = "127.0.0.1"

    @Option(name: .long, help: "Port the app listens on (0 picks a free one).")
    var httpPort: Int = 8080

    func run() async throws {
        let configuration = try options.resolve(host: httpHost, port: httpPort)
        let logger = options.bootstrapLogging()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let health = HealthRegistry()
        let dependencies = try await CreditApp.makeDependencies(configuration: configuration, registry: registry, health: health, logger: logger)
        let app = CreditApp.buildApplication(dependencies, logger: logger)
        // The notifier runs beside the app (READY once staging, replica and warehouse are reachable); it
        // comes last, so on SIGTERM STOPPING=1 goes out before the server drains.
        let notifier = SystemdNotifier(health: health, environment: ProcessInfo.processInfo.environment, logger: logger)
        logger.info("sluice app \(SluiceVersion.current): \(configuration)")
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: notifier)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        logger.info("sluice app stopped")
    }
}

struct AppUsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the app's users (schema app of the app database).",
        subcommands: [Add.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user, or set an existing user's role and password; the password is read from stdin.",
            discussion: "Example: printf '%s' \"$PASSWORD\" | sluice app users add alice.kern --role officer")

        @OptionGroup var options: AppConfigurationOptions

        @Argument(help: "Username (letters, digits, '.', '_', '-'; at most 100).")
        var name: String

        @Option(name: .long, help: "officer | approver | admin")
        var role: String

        func validate() throws {
            if let problem = AppUser.validate(username: name) { throw ValidationError("NAME \(problem)") }
            if Role(rawValue: role) == nil { throw ValidationError("--role must be officer, approver or admin") }
        }

        func run() async throws {
            let replica = try options.resolveReplica()
            let cost = ProcessInfo.processInfo.environment["SLUICE_APP_BCRYPT_COST"].flatMap(UInt8.init).flatMap { (4...31).contains($0) ? $0 : nil } ?? 12
            let logger = options.bootstrapLogging()
            var password = readLine(strippingNewline: true) ?? ""
            if password.hasSuffix("\r") { password.removeLast() }
            guard password.count >= 8 else {
                FileHandle.standardError.write(Data("sluice app users add: the password (from stdin) must be at least 8 characters\n".utf8))
                throw ExitCode(2)
            }
            guard password.utf8.count <= 72 else {
                FileHandle.standardError.write(Data("sluice app users add: the password must be at most 72 bytes (bcrypt's limit)\n".utf8))
                throw ExitCode(2)
            }
            let hash = try await PasswordHasher.make().hash(password, cost: cost)
            let client = try AppDatabase.makeClient(url: replica, logger: logger)
            let users = UserStore(client: client, logger: logger)
            let (name, role) = (name, Role(rawValue: role)!)
            let created = try await AppDatabase.withRunningClient(client) {
                try await users.upsert(username: name, role: role, passwordHash: hash)
            }
            print(created ? "added \(name) (\(role.rawValue))" : "updated \(name) (\(role.rawValue))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users: name, role, disabled, created.")

        @OptionGroup var options: AppConfigurationOptions

        func run() async throws {
            let replica = try options.resolveReplica()
            let logger = options.bootstrapLogging()
            let client = try AppDatabase.makeClient(url: replica, logger: logger)
            let users = UserStore(client: client, logger: logger)
            let listing = try await AppDatabase.withRunningClient(client) { try await users.list() }
            print("USERNAME".padding(toLength: 24, withPad: " ", startingAt: 0) + "ROLE      DISABLED  CREATED")
            for u in listing {
                print(u.username.padding(toLength: 24, withPad: " ", startingAt: 0) + u.role.padding(toLength: 10, withPad: " ", startingAt: 0)
                      + (u.disabled ? "yes" : "no").padding(toLength: 10, withPad: " ", startingAt: 0) + u.createdAt)
            }
        }
    }
}
