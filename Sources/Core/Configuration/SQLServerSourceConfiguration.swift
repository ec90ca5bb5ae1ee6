import SluiceKafka

/// The SQL Server source connector's configuration, read from a connector file with Debezium's property
/// names where one exists.
///
/// Keys (defaults in brackets):
/// - `connector.class` — `sqlserver-source` (or Debezium's `io.debezium.connector.sqlserver.SqlServerConnector`)
/// - `database.url` — `mssql://user:password@host:port/Database`; or `database.hostname`, `database.port`
///   [1433], `database.user`, `database.password` (secret)
/// - `database.names` — the databases to capture, comma-separated [the URL's database]
/// - `topic.prefix` — required; the logical server name, prefix of every topic
/// - `kafka.bootstrap.servers` — required; `kafka.*` keys pass through to the producer (librdkafka names)
/// - `table.include.list` / `table.exclude.list` — comma-separated regular expressions matched against
///   `schema.table` (Debezium's convention; a plain name matches itself)
/// - `message.key.columns` — `schema.table:col1,col2;schema.table2:col` for tables without a primary key
/// - `snapshot.mode` — initial | initial_only | no_data | when_needed | always [initial]
///   (`schema_only` is accepted as Debezium's old name of no_data)
/// - `snapshot.isolation.mode` — snapshot | read_committed [snapshot]
/// - `snapshot.fetch.size` [2000] — rows per snapshot chunk (read in key order); a crashed snapshot
///   resumes after the last chunk the broker acknowledged
/// - `poll.interval.ms` [500] — pause between polls that found nothing new
/// - `max.iteration.transactions` [500] — at most this many transactions per poll window (0 = no limit)
/// - `heartbeat.interval.ms` [0 = off], `heartbeat.action.query` — a statement run on the source on each
///   heartbeat (e.g. an UPDATE of a CDC-enabled heartbeat table), so idle databases still advance
/// - `tombstones.on.delete` [true], `provide.transaction.metadata` [false]
/// - `decimal.handling.mode` — string | double | precise [string] (precise needs schemas enabled)
/// - `binary.handling.mode` — base64 | hex [base64]
/// - `key.converter.schemas.enable`, `value.converter.schemas.enable` [false]
/// - `offset.purged.policy` — fail | resnapshot [fail]: what to do when the cleanup job purged changes the
///   source never read
/// - `capture.job.stall.timeout.ms` [60000] — no new LSN this long after a heartbeat action changed the
///   source means the capture job (SQL Server Agent) is not running
/// - `retry.backoff.initial.ms` [500], `retry.backoff.max.ms` [30000] — reconnect backoff
/// - `database.query.timeout.ms` [600000] — the longest the source waits for SQL Server to answer (per
///   response, not per query: a long snapshot that keeps sending rows is fine). A server that stops
///   answering without closing the connection is cancelled after this long and the session given up after
///   twice this long; the source is then down (reason in health) and reconnects with the backoff.
///   Rounded up to whole seconds (db-lib's unit); 0 waits forever
/// - `topic.creation.default.partitions` [1], `topic.creation.default.replication.factor` [-1] — partitions
///   and replication factor of the topics the source creates (change events, `<prefix>`, transactions,
///   heartbeats; the position topic always has one partition); -1 takes the broker's default. Existing
///   topics are left as they are. Events go to `murmur2(key) mod partitions` (librdkafka's
///   `murmur2_random`, the Java client's partitioner), so a key's events stay on one partition in order
/// - `signal.data.collection` — the signal table, `database.schema.table` (Debezium's shape: columns
///   id varchar(42), type varchar(32), data varchar(2048); CDC-enabled): signals written to it are acted
///   on, and incremental snapshots write their watermarks to it
/// - `incremental.snapshot.chunk.size` [1024] — rows per chunk of an incremental snapshot
public struct SQLServerSourceConfiguration: ConnectorConfiguration {
    public enum SnapshotMode: String, CaseIterable, Sendable {
        case initial, initialOnly = "initial_only", noData = "no_data", whenNeeded = "when_needed", always
        case schemaOnly = "schema_only"
    }
    public enum SnapshotIsolationMode: String, CaseIterable, Sendable { case snapshot, readCommitted = "read_committed" }
    public enum BinaryHandlingMode: String, CaseIterable, Sendable { case base64, hex }
    public enum OffsetPurgedPolicy: String, CaseIterable, Sendable { case fail, resnapshot }

    public static let kind = "sqlserver-source"
    public static let connectorClasses: Set<String> = [kind, "io.debezium.connector.sqlserver.SqlServerConnector"]

    public var name: String
    public var host: String
    public var port: Int
    public var user: String
    public var password: Secret
    public var databases: [String]
    public var topicPrefix: String
    public var kafkaBootstrapServers: String
    public var kafkaProperties: [(String, String)]
    public var tableIncludeList: [String]
    public var tableExcludeList: [String]
    public var messageKeyColumns: [String: [String]]
    public var snapshotMode: SnapshotMode
    public var snapshotIsolationMode: SnapshotIsolationMode
    public var snapshotFetchSize: Int
    public var pollIntervalMs: Int
    public var maxIterationTransactions: Int
    public var heartbeatIntervalMs: Int
    public var heartbeatActionQuery: String?
    public var tombstonesOnDelete: Bool
    public var provideTransactionMetadata: Bool
    public var decimalHandlingMode: SQLServerTypeMapping.DecimalMode
    public var binaryHandlingMode: BinaryHandlingMode
    public var keySchemasEnabled: Bool
    public var valueSchemasEnabled: Bool
    public var offsetPurgedPolicy: OffsetPurgedPolicy
    public var captureJobStallTimeoutMs: Int
    public var retryBackoffInitialMs: Int
    public var retryBackoffMaxMs: Int
    public var queryTimeoutMs: Int
    /// `topic.creation.default.partitions`; -1 for the broker's default.
    public var topicCreationDefaultPartitions: Int
    /// `topic.creation.default.replication.factor`; -1 for the broker's default.
    public var topicCreationDefaultReplicationFactor: Int
    public var signalDataCollection: TableID?
    public var incrementalSnapshotChunkSize: Int

    /// Reads and validates every key, throwing all problems at once.
    public init(_ input: ConnectorProperties) throws(ConfigurationError) {
        var p = input
        name = p.name
        if let cls = p.string("connector.class", required: true), !Self.connectorClasses.contains(cls) {
            p.addProblem(key: "connector.class", "\"\(cls)\" is not the SQL Server source; use \"sqlserver-source\"")
        }
        let login = SQLServerLogin.read(.init(url: "database.url", urlRequired: false, host: "database.hostname", port: "database.port",
                                              user: "database.user", password: "database.password"), from: &p)
        host = login.host
        port = login.port
        user = login.user
        password = login.password
        let urlDatabase = login.database
        var databases = p.list("database.names")
        if databases.isEmpty, let urlDatabase { databases = [urlDatabase] }
        if databases.isEmpty { p.addProblem(key: "database.names", "missing: name the database(s) to capture") }
        self.databases = databases
        topicPrefix = p.string("topic.prefix", required: true) ?? ""
        if !topicPrefix.isEmpty, TopicNamer.sanitize(topicPrefix) != topicPrefix {
            p.addProblem(key: "topic.prefix", "\"\(topicPrefix)\" may only hold ASCII letters, digits, '.', '_' and '-'")
        }
        kafkaBootstrapServers = p.string("kafka.bootstrap.servers", required: true) ?? ""
        kafkaProperties = p.raw(prefix: "kafka.").filter { $0.0 != "bootstrap.servers" }
        tableIncludeList = p.list("table.include.list")
        tableExcludeList = p.list("table.exclude.list")
        messageKeyColumns = [:]
        if let spec = p.string("message.key.columns") {
            for entry in spec.split(separator: ";") {
                let parts = entry.split(separator: ":", maxSplits: 1)
                let columns = parts.count == 2 ? parts[1].split(separator: ",").map { $0.trimmingWhitespace() } : []
                guard parts.count == 2, !columns.isEmpty, !columns.contains("") else {
                    p.addProblem(key: "message.key.columns", "\"\(entry)\" is not schema.table:column[,column…]")
                    continue
                }
                messageKeyColumns[parts[0].trimmingWhitespace()] = columns
            }
        }
        snapshotMode = p.choice("snapshot.mode", default: SnapshotMode.initial)
        if snapshotMode == .schemaOnly { snapshotMode = .noData }
        snapshotIsolationMode = p.choice("snapshot.isolation.mode", default: SnapshotIsolationMode.snapshot)
        snapshotFetchSize = p.int("snapshot.fetch.size", default: 2000, range: 1...1_000_000)
        pollIntervalMs = p.int("poll.interval.ms", default: 500, range: 1...3_600_000)
        maxIterationTransactions = p.int("max.iteration.transactions", default: 500, range: 0...10_000_000)
        heartbeatIntervalMs = p.int("heartbeat.interval.ms", default: 0, range: 0...86_400_000)
        heartbeatActionQuery = p.string("heartbeat.action.query")
        if heartbeatActionQuery != nil && heartbeatIntervalMs == 0 {
            p.addProblem(key: "heartbeat.action.query", "needs heartbeat.interval.ms > 0 to run")
        }
        tombstonesOnDelete = p.bool("tombstones.on.delete", default: true)
        provideTransactionMetadata = p.bool("provide.transaction.metadata", default: false)
        decimalHandlingMode = p.choice("decimal.handling.mode", default: SQLServerTypeMapping.DecimalMode.string)
        binaryHandlingMode = p.choice("binary.handling.mode", default: BinaryHandlingMode.base64)
        keySchemasEnabled = p.bool("key.converter.schemas.enable", default: false)
        valueSchemasEnabled = p.bool("value.converter.schemas.enable", default: false)
        if decimalHandlingMode == .precise && !valueSchemasEnabled {
            p.addProblem(key: "decimal.handling.mode", "precise writes Connect decimals whose scale lives only in the schema; set value.converter.schemas.enable=true or use string")
        }
        offsetPurgedPolicy = p.choice("offset.purged.policy", default: OffsetPurgedPolicy.fail)
        captureJobStallTimeoutMs = p.int("capture.job.stall.timeout.ms", default: 60_000, range: 1000...86_400_000)
        retryBackoffInitialMs = p.int("retry.backoff.initial.ms", default: 500, range: 10...600_000)
        retryBackoffMaxMs = p.int("retry.backoff.max.ms", default: 30_000, range: 100...3_600_000)
        queryTimeoutMs = p.int("database.query.timeout.ms", default: 600_000, range: 0...86_400_000)
        topicCreationDefaultPartitions = p.int("topic.creation.default.partitions", default: 1, range: -1...100_000)
        topicCreationDefaultReplicationFactor = p.int("topic.creation.default.replication.factor", default: -1, range: -1...Int(Int16.max))
        for (key, value) in [("topic.creation.default.partitions", topicCreationDefaultPartitions),
                             ("topic.creation.default.replication.factor", topicCreationDefaultReplicationFactor)] where value == 0 {
            p.addProblem(key: key, "0 is not allowed: use 1 or more, or -1 for the broker's default")
        }
        signalDataCollection = nil
        if let text = p.string("signal.data.collection") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3, !parts.contains(where: \.isEmpty) {
                signalDataCollection = TableID(database: parts[0], schema: parts[1], table: parts[2])
                if !databases.isEmpty && !databases.contains(parts[0]) {
                    p.addProblem(key: "signal.data.collection", "\"\(text)\" is in database \(parts[0]), which database.names does not capture")
                }
            } else {
                p.addProblem(key: "signal.data.collection", "\"\(text)\" is not database.schema.table (e.g. CreditStaging.dbo.debezium_signal)")
            }
        }
        incrementalSnapshotChunkSize = p.int("incremental.snapshot.chunk.size", default: 1024, range: 1...1_000_000)
        try p.validate()
    }
}
