import SluiceKafka
import SluiceSQLServer

/// The Postgres replica sink's configuration, read from a connector file with Kafka Connect's JDBC sink
/// property names where one exists.
///
/// Keys (defaults in brackets):
/// - `connector.class` — `postgres-sink`
/// - `topics` — comma-separated topic names, or `topics.regex` — a regular expression (exactly one of them)
/// - `group.id` — the consumer group [`sluice-<name>`]
/// - `connection.url` — required; `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]`
///   (`postgresql://` too); `connection.user` / `connection.password` (secret) override the URL's
/// - `kafka.bootstrap.servers` — required; other `kafka.*` keys pass through to librdkafka
/// - `table.name.format` — the target `schema.table` of a source table [`${source.schema}.${source.table}`];
///   placeholders `${source.db}`, `${source.schema}`, `${source.table}`, `${topic}` (write `$${topic}` in a connector
///   file: `topic` would otherwise name an environment variable)
/// - `offsets.schema` — where `sluice_offsets` and `sluice_deleted` live [sluice]
/// - `schema.evolution` — basic (create missing tables, add new columns) | none [basic]
/// - `batch.size` [2000] — at most this many messages per target transaction (a poll takes only what has
///   arrived, so a quiet topic gets small batches at once; a backlog gets full ones)
/// - `apply.connections` [1] — Postgres connections that apply a batch in parallel: its partitions are
///   split among them (each partition's rows and offset in one transaction on one connection; topics
///   that write the same table share one), so tables and partitions are written at once
/// - `poll.timeout.ms` [250]
/// - `errors.deadletterqueue.topic.name` [`<name>.dlq`]
/// - `statement.timeout.ms` [60000] — a Postgres call (one batch's transaction) taking longer is abandoned:
///   the connection is closed and the batch retried on a new one
/// - `retry.backoff.initial.ms` [500], `retry.backoff.max.ms` [30000]
/// - `deleted.retention.hours` [168] — how long `sluice_deleted` keeps a deleted key's position (it stops
///   an older duplicate of the row from resurrecting it); older entries are pruned every 10 minutes. It
///   must exceed the longest a duplicate can arrive late (a source replaying its last transaction after a
///   crash: minutes). 0 keeps them forever
public struct PostgresSinkConfiguration: ConnectorConfiguration {
    public enum SchemaEvolution: String, CaseIterable, Sendable { case basic, none }
    public enum SSLMode: String, CaseIterable, Sendable { case disable, prefer, require }

    public static let kind = "postgres-sink"
    public static let connectorClasses: Set<String> = [kind]
    public static let defaultTableNameFormat = "${source.schema}.${source.table}"

    public var name: String
    public var subscription: TopicSubscription
    public var groupID: String
    public var host: String
    public var port: Int
    public var user: String
    public var password: Secret?
    public var database: String
    public var sslMode: SSLMode
    public var kafkaBootstrapServers: String
    public var kafkaProperties: [(String, String)]
    public var tableNameFormat: String
    public var offsetsSchema: String
    public var schemaEvolution: SchemaEvolution
    public var batchSize: Int
    public var applyConnections: Int
    public var pollTimeoutMs: Int
    public var deadLetterTopic: String
    public var statementTimeoutMs: Int
    public var retryBackoffInitialMs: Int
    public var retryBackoffMaxMs: Int
    public var deletedRetentionHours: Int

    /// Reads and validates every key, throwing all problems at once.
    public init(_ input: ConnectorProperties) throws(ConfigurationError) {
        var p = input
        name = p.name
        if let cls = p.string("connector.class", required: true), !Self.connectorClasses.contains(cls) {
            p.addProblem(key: "connector.class", "\"\(cls)\" is not the Postgres sink; use \"postgres-sink\"")
        }
        let topics = p.list("topics")
        let regex = p.string("topics.regex")
        switch (topics.isEmpty, regex) {
        case (false, nil): subscription = .topics(topics)
        case (true, let pattern?): subscription = .regex(pattern)
        case (false, _?):
            p.addProblem(key: "topics.regex", "set either topics or topics.regex, not both")
            subscription = .topics(topics)
        case (true, nil):
            p.addProblem(key: "topics", "missing: set topics (names, comma-separated) or topics.regex (e.g. credit\\.CreditStaging\\.dbo\\..*)")
            subscription = .topics([])
        }
        groupID = p.string("group.id", default: "sluice-\(p.name)") ?? "sluice-\(p.name)"
        var host = "", port = 5432, user: String?, password: Secret?, database = ""
        var sslMode = SSLMode.prefer
        if let url = p.string("connection.url", required: true) {
            switch PostgresURL.parse(url) {
            case .success(let u):
                host = u.host
                port = u.port
                user = u.user
                password = u.password.map(Secret.init)
                database = u.database ?? ""
                if let mode = u.sslMode {
                    if let m = SSLMode(rawValue: mode) { sslMode = m } else {
                        p.addProblem(key: "connection.url", "sslmode=\(mode) is not one of disable, prefer, require")
                    }
                }
            case .failure(let problem):
                p.addProblem(key: "connection.url", problem.message)
            }
        }
        user = p.string("connection.user") ?? user
        password = p.secret("connection.password") ?? password
        if user == nil { p.addProblem(key: "connection.user", "missing: set it in connection.url (postgres://user:password@host/db) or connection.user") }
        if database.isEmpty && p.problems.allSatisfy({ $0.key != "connection.url" }) {
            p.addProblem(key: "connection.url", "names no database; end it with /database")
        }
        self.host = host
        self.port = port
        self.user = user ?? ""
        self.password = password
        self.database = database
        self.sslMode = sslMode
        kafkaBootstrapServers = p.string("kafka.bootstrap.servers", required: true) ?? ""
        kafkaProperties = p.raw(prefix: "kafka.").filter { $0.0 != "bootstrap.servers" }
        tableNameFormat = p.string("table.name.format", default: Self.defaultTableNameFormat) ?? Self.defaultTableNameFormat
        if let problem = Self.checkTableNameFormat(tableNameFormat) { p.addProblem(key: "table.name.format", problem) }
        offsetsSchema = p.string("offsets.schema", default: "sluice") ?? "sluice"
        schemaEvolution = p.choice("schema.evolution", default: SchemaEvolution.basic)
        batchSize = p.int("batch.size", default: 2000, range: 1...100_000)
        applyConnections = p.int("apply.connections", default: 1, range: 1...16)
        pollTimeoutMs = p.int("poll.timeout.ms", default: 250, range: 1...60_000)
        deadLetterTopic = p.string("errors.deadletterqueue.topic.name", default: "\(p.name).dlq") ?? "\(p.name).dlq"
        statementTimeoutMs = p.int("statement.timeout.ms", default: 60_000, range: 100...3_600_000)
        retryBackoffInitialMs = p.int("retry.backoff.initial.ms", default: 500, range: 10...600_000)
        retryBackoffMaxMs = p.int("retry.backoff.max.ms", default: 30_000, range: 100...3_600_000)
        deletedRetentionHours = p.int("deleted.retention.hours", default: 168, range: 0...87_600)
        try p.validate()
    }

    static let placeholders = ["${source.db}", "${source.schema}", "${source.table}", "${topic}"]

    static func checkTableNameFormat(_ format: String) -> String? {
        var rest = format
        for placeholder in placeholders { rest = rest.replacing(placeholder, with: "x") }
        if rest.contains("${") { return "\"\(format)\" has an unknown placeholder; use \(placeholders.joined(separator: ", "))" }
        if !format.contains("${source.table}") && !format.contains("${topic}") {
            return "\"\(format)\" names one table for every topic; include ${source.table} (or ${topic})"
        }
        return nil
    }

    /// The target (schema, table) of `table` read from `topic`: the format with its placeholders filled,
    /// split at the first dot (no dot: the `public` schema).
    public func targetTable(for table: TableID, topic: String) -> (schema: String, table: String) {
        // One pass over the format (the sink caches the result per topic and table).
        var name = ""
        var rest = Substring(tableNameFormat)
        let values: [(placeholder: String, value: String)] = [
            ("${source.db}", table.database), ("${source.schema}", table.schema), ("${source.table}", table.table), ("${topic}", topic),
        ]
        while let dollar = rest.firstIndex(of: "$") {
            name += rest[..<dollar]
            let tail = rest[dollar...]
            if let match = values.first(where: { tail.hasPrefix($0.placeholder) }) {
                name += match.value
                rest = tail.dropFirst(match.placeholder.count)
            } else {
                name += "$"
                rest = tail.dropFirst()
            }
        }
        name += rest
        guard let dot = name.firstIndex(of: ".") else { return ("public", name) }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }
}

/// `postgres://user:password@host:port/database?sslmode=…` (user and password percent-encoded).
public struct PostgresURL: Hashable, Sendable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: String?
    public var sslMode: String?

    public struct Problem: Error, Hashable, Sendable { public let message: String }

    public static func parse(_ text: String) -> Result<PostgresURL, Problem> {
        let prefixes = ["postgres://", "postgresql://"]
        guard let prefix = prefixes.first(where: { text.hasPrefix($0) }) else {
            return .failure(Problem(message: "must start with postgres:// (postgres://user:password@host:port/database)"))
        }
        var rest = Substring(text.dropFirst(prefix.count))
        var sslMode: String?
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 && kv[0] == "sslmode" else {
                    return .failure(Problem(message: "the URL option '\(kv.first ?? "")' is not read (only sslmode is); remove it"))
                }
                sslMode = String(kv[1])
            }
            rest = rest[..<question]
        }
        // The SQL Server client's URL parser reads the authority and path: the shape is the same.
        let u: SQLServerURL
        do {
            u = try SQLServerURL(parsing: "mssql://" + rest)
        } catch {
            return .failure(Problem(message: error.message.replacing("mssql://", with: "postgres://")))
        }
        let hasPort = rest.split(separator: "@").last.map { $0.split(separator: "/").first?.contains(":") ?? false } ?? false
        return .success(PostgresURL(host: u.host, port: hasPort ? u.port : 5432, user: u.user, password: u.password,
                                    database: u.database, sslMode: sslMode))
    }
}
