import Foundation
import Hummingbird
import HummingbirdAuth
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle
import SluiceCore
import SluiceOperations

/// The credit back-office app: pages and `/api/v1`, writes to staging, reads the replica and the
/// warehouse. ``buildApplication(configuration:registry:health:logger:)`` wires everything; the
/// result is a Hummingbird `Application` (a `Service`) that runs the Postgres client and the status
/// monitor beside the server and drains in-flight requests on graceful shutdown.
public enum CreditApp {
    /// What the routes need, built once per process.
    public struct Dependencies: Sendable {
        public var configuration: CreditAppConfiguration
        public var postgres: PostgresClient
        public var users: UserStore
        public var login: LoginService
        public var sessions: PostgresPersistDriver
        public var staging: StagingStore
        public var replica: ReplicaStore
        public var warehouse: WarehouseStore
        public var freshness: ReplicaFreshness
        public var monitor: StatusMonitor
        public var pages: PageRenderer
        public var catalog: ReplicaCatalog
        public var lineage: LineageService
        public var registry: PrometheusCollectorRegistry
        public var health: HealthRegistry
    }

    public static func makeDependencies(configuration: CreditAppConfiguration, registry: PrometheusCollectorRegistry,
                                        health: HealthRegistry, logger: Logger) async throws -> Dependencies {
        let postgres = try AppDatabase.makeClient(url: configuration.replica, logger: logger)
        let users = UserStore(client: postgres, logger: logger)
        let hasher = try await PasswordHasher.make()
        let login = LoginService(users: users, hasher: hasher, window: configuration.lockoutWindow,
                                 threshold: configuration.lockoutThreshold, logger: logger)
        let staging = StagingStore(pool: SQLServerPool(configuration: configuration.staging, logger: logger), logger: logger)
        let warehouse = WarehouseStore(pool: SQLServerPool(configuration: configuration.warehouse, logger: logger))
        let replica = ReplicaStore(client: postgres, logger: logger)
        let freshness = ReplicaFreshness(replica: replica, staging: staging)
        let sessions = PostgresPersistDriver(client: postgres, logger: logger)
        let monitor = StatusMonitor(staging: staging, replica: replica, warehouse: warehouse, health: health,
                                    pipelineURL: configuration.pipelineURL, logger: logger) {
            try await sessions.pruneExpired()
            try await users.pruneFailures()
        }
        let pages = try await PageRenderer.load()
        let catalog = ReplicaCatalog(client: postgres, logger: logger)
        let lineage = LineageService(configuration: configuration, staging: staging, catalog: catalog, freshness: freshness,
                                     monitor: monitor, warehouse: warehouse, logger: logger)
        return Dependencies(configuration: configuration, postgres: postgres, users: users, login: login,
                            sessions: sessions, staging: staging, replica: replica,
                            warehouse: warehouse, freshness: freshness, monitor: monitor, pages: pages,
                            catalog: catalog, lineage: lineage, registry: registry, health: health)
    }

    /// Every route of the app, behind its middleware (errors, metrics, sessions, authentication, CSRF).
    public static func buildRouter(_ d: Dependencies) -> Router<CreditRequestContext> {
        let router = Router(context: CreditRequestContext.self)
        router.add(middleware: ErrorMiddleware(pages: d.pages))
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: SessionMiddleware(storage: d.sessions, configuration: .init(
            sessionCookieParameters: .init(name: "sluice_session", path: "/", secure: d.configuration.secureCookie, sameSite: .strict),
            keyPrefix: "s.", defaultSessionExpiration: d.configuration.idleTimeout)))
        router.add(middleware: AuthenticationMiddleware(users: d.users, idleTimeout: d.configuration.idleTimeout))
        router.add(middleware: CSRFMiddleware())
        // dbt's generated docs (`dbt docs generate`), behind login, only from that directory.
        router.add(middleware: FileMiddleware<CreditRequestContext, LocalFileSystem>(d.configuration.dbtDocsDirectory, urlBasePath: "/lineage/dbt-docs", searchForIndexHtml: true))

        // Operations endpoints, as every long-running Sluice process serves them.
        OperationsServer.addRoutes(to: router, registry: d.registry, health: d.health)

        let api = router.group("api/v1")
        SessionController(login: d.login, idleTimeout: d.configuration.idleTimeout).addRoutes(to: api)
        ApplicationsController(staging: d.staging, replica: d.replica, warehouse: d.warehouse, freshness: d.freshness).addRoutes(to: api)
        CustomersController(replica: d.replica, warehouse: d.warehouse, freshness: d.freshness).addRoutes(to: api)
        OpenAPIController().addRoutes(to: api)
        let lineage = LineageController(lineage: d.lineage, pages: d.pages, docsDirectory: d.configuration.dbtDocsDirectory)
        lineage.addAPIRoutes(to: api)
        lineage.addPageRoutes(to: router)

        PagesController(d).addRoutes(to: router)
        return router
    }

    /// The app as a Hummingbird `Application`, running the Postgres client and the status monitor
    /// beside the server (services start in order and stop in reverse).
    public static func buildApplication(_ d: Dependencies, logger: Logger) -> some ApplicationProtocol {
        Application(
            router: buildRouter(d),
            configuration: .init(address: .hostname(d.configuration.host, port: d.configuration.port), serverName: "sluice-app"),
            services: [d.postgres, d.monitor],
            logger: logger)
    }
}
