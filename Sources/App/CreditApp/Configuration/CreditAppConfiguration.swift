import Foundation
import SluiceCore
import SluiceSQLServer

/// Everything `sluice app` needs, read from flags, a configuration file or the environment.
///
/// Keys (file key / environment variable, defaults in brackets):
/// - `staging.url` / `SLUICE_STAGING_URL` — required; `mssql://user:password@host:port/CreditStaging`, where
///   the app writes (the source of truth);
/// - `replica.url` / `SLUICE_PG_URL` — required; `postgres://user:password@host:port/credit_app`, the
///   replica the app reads (schema `dbo`) and the app's own tables (schema `app`: users, sessions, login
///   failures);
/// - `warehouse.url` / `SLUICE_WAREHOUSE_URL` — required; `mssql://…/CreditWarehouse`, the SCD2 history;
/// - `pipeline.url` / `SLUICE_PIPELINE_URL` — optional; the operations address of `sluice run`
///   (`http://127.0.0.1:8083`), read by the dashboard for `/metrics` and `/health/ready`;
/// - `session.idle.timeout.seconds` / `SLUICE_APP_IDLE_TIMEOUT` [1800];
/// - `session.secure.cookie` / `SLUICE_APP_SECURE_COOKIE` [false] — set when the app is served over TLS
///   (behind a TLS-terminating proxy), so the session cookie carries `Secure`;
/// - `bcrypt.cost` / `SLUICE_APP_BCRYPT_COST` [12] — for `users add`;
/// - `lineage.connectors` / `SLUICE_CONNECTORS` [connectors/credit-source.json,connectors/replica-postgres.json,
///   connectors/warehouse-scd2.json] — the connector files (comma-separated paths) the lineage page derives
///   its graph from (the same files `sluice run` runs);
/// - `lineage.dbt.manifest` / `SLUICE_DBT_MANIFEST` [.run/dbt-docs/manifest.json, else dbt/target/manifest.json]
///   — dbt's manifest, for the dbt models in the lineage graph;
/// - `lineage.dbt.docs` / `SLUICE_DBT_DOCS` [.run/dbt-docs] — the `dbt docs generate` output, served
///   behind login under `/lineage/dbt-docs/`.
/// Passwords in URLs are secrets: `description` never shows them.
public struct CreditAppConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var staging: SQLServerConfiguration
    public var warehouse: SQLServerConfiguration
    public var replica: PostgresURL
    public var pipelineURL: String?
    public var idleTimeout: Duration
    public var secureCookie: Bool
    public var bcryptCost: UInt8
    /// How long a login failure counts towards the lockout, and how many lock a user out.
    public var lockoutWindow: Duration = .seconds(15 * 60)
    public var lockoutThreshold: Int = 5
    /// The lineage page's inputs (see the keys above); relative paths are from the working directory.
    public var connectorPaths: [String] = CreditAppConfiguration.defaultConnectorPaths
    public var dbtManifestPaths: [String] = CreditAppConfiguration.defaultManifestPaths
    public var dbtDocsDirectory: String = ".run/dbt-docs"

    public static let defaultConnectorPaths = ["connectors/credit-source.json", "connectors/replica-postgres.json", "connectors/warehouse-scd2.json"]
    public static let defaultManifestPaths = [".run/dbt-docs/manifest.json", "dbt/target/manifest.json"]

    public init(host: String = "127.0.0.1", port: Int = 8080, staging: SQLServerConfiguration, warehouse: SQLServerConfiguration,
                replica: PostgresURL, pipelineURL: String? = nil, idleTimeout: Duration = .seconds(1800),
                secureCookie: Bool = false, bcryptCost: UInt8 = 12) {
        self.host = host
        self.port = port
        self.staging = staging
        self.warehouse = warehouse
        self.replica = replica
        self.pipelineURL = pipelineURL
        self.idleTimeout = idleTimeout
        self.secureCookie = secureCookie
        self.bcryptCost = bcryptCost
    }

    /// The keys a configuration file may hold, with the environment variable each falls back to.
    public static let keys: [(key: String, environment: String)] = [
        ("staging.url", "SLUICE_STAGING_URL"), ("replica.url", "SLUICE_PG_URL"), ("warehouse.url", "SLUICE_WAREHOUSE_URL"),
        ("pipeline.url", "SLUICE_PIPELINE_URL"), ("session.idle.timeout.seconds", "SLUICE_APP_IDLE_TIMEOUT"),
        ("session.secure.cookie", "SLUICE_APP_SECURE_COOKIE"), ("bcrypt.cost", "SLUICE_APP_BCRYPT_COST"),
        ("lineage.connectors", "SLUICE_CONNECTORS"), ("lineage.dbt.manifest", "SLUICE_DBT_MANIFEST"), ("lineage.dbt.docs", "SLUICE_DBT_DOCS"),
    ]

    /// Builds the configuration from `values` (file keys, flags already merged in), falling back to the
    /// environment. Every problem is reported at once, one line each, naming the key and the fix.
    public static func resolve(values: [String: String], environment: [String: String], host: String, port: Int)
        -> Result<CreditAppConfiguration, ConfigurationProblems> {
        var problems: [String] = []
        func value(_ key: String) -> String? {
            let env = keys.first { $0.key == key }?.environment
            if let v = values[key], !v.isEmpty { return v }
            if let env, let v = environment[env], !v.isEmpty { return v }
            return nil
        }
        func envName(_ key: String) -> String { keys.first { $0.key == key }?.environment ?? key }
        func sqlServer(_ key: String) -> SQLServerConfiguration? {
            guard let url = value(key) else {
                problems.append("\(key): missing; set \(envName(key)) or pass --\(key.replacing(".", with: "-")) (mssql://user:password@host:port/Database)")
                return nil
            }
            do {
                var configuration = try SQLServerConfiguration(url: url)
                configuration.options.applicationName = "sluice-app"
                return configuration
            } catch {
                problems.append("\(key): \(error)")
                return nil
            }
        }
        let staging = sqlServer("staging.url")
        let warehouse = sqlServer("warehouse.url")
        var replica: PostgresURL?
        if let url = value("replica.url") {
            switch PostgresURL.parse(url) {
            case .success(let u):
                if u.database == nil || u.database?.isEmpty == true {
                    problems.append("replica.url: names no database; end it with /credit_app")
                } else if let mode = u.sslMode, !["disable", "prefer", "require"].contains(mode) {
                    problems.append("replica.url: sslmode=\(mode) is not one of disable, prefer, require")
                } else {
                    replica = u
                }
            case .failure(let p): problems.append("replica.url: \(p.message)")
            }
        } else {
            problems.append("replica.url: missing; set SLUICE_PG_URL or pass --replica-url (postgres://user:password@host:port/credit_app)")
        }
        var idle = 1800
        if let text = value("session.idle.timeout.seconds") {
            if let n = Int(text), n > 0 { idle = n } else { problems.append("session.idle.timeout.seconds: '\(text)' is not a positive number of seconds") }
        }
        var secure = false
        if let text = value("session.secure.cookie") {
            switch text.lowercased() {
            case "true", "1", "yes": secure = true
            case "false", "0", "no": secure = false
            default: problems.append("session.secure.cookie: '\(text)' is not true or false")
            }
        }
        var cost: UInt8 = 12
        if let text = value("bcrypt.cost") {
            if let n = UInt8(text), (4...31).contains(n) { cost = n } else { problems.append("bcrypt.cost: '\(text)' is not between 4 and 31") }
        }
        if !(0...65535).contains(port) { problems.append("--http-port: \(port) is not a port (0–65535)") }
        var connectors = defaultConnectorPaths
        if let text = value("lineage.connectors") {
            connectors = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if connectors.isEmpty { problems.append("lineage.connectors: '\(text)' names no file; give comma-separated connector file paths") }
        }
        guard problems.isEmpty, let staging, let warehouse, let replica else { return .failure(ConfigurationProblems(lines: problems)) }
        var configuration = CreditAppConfiguration(host: host, port: port, staging: staging, warehouse: warehouse, replica: replica,
                                                   pipelineURL: value("pipeline.url"), idleTimeout: .seconds(idle),
                                                   secureCookie: secure, bcryptCost: cost)
        configuration.connectorPaths = connectors
        if let manifest = value("lineage.dbt.manifest") { configuration.dbtManifestPaths = [manifest] }
        if let docs = value("lineage.dbt.docs") { configuration.dbtDocsDirectory = docs }
        return .success(configuration)
    }

    /// Only the app database (for `sluice app users`, which needs nothing else).
    public static func resolveReplica(values: [String: String], environment: [String: String]) -> Result<PostgresURL, ConfigurationProblems> {
        guard let url = values["replica.url"] ?? environment["SLUICE_PG_URL"], !url.isEmpty else {
            return .failure(ConfigurationProblems(lines: ["replica.url: missing; set SLUICE_PG_URL or pass --replica-url (postgres://user:password@host:port/credit_app)"]))
        }
        switch PostgresURL.parse(url) {
        case .success(let u): return .success(u)
        case .failure(let p): return .failure(ConfigurationProblems(lines: ["replica.url: \(p.message)"]))
        }
    }

    public var description: String {
        "app on \(host):\(port), staging \(staging), warehouse \(warehouse), replica \(replica.host):\(replica.port)/\(replica.database ?? "")"
    }
}
