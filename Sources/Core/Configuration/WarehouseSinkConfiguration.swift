import SluiceKafka

/// The warehouse sink's configuration: it consumes the credit topics and keeps SCD Type 2 history and
/// facts in a SQL Server warehouse (see docs/warehouse.md). Kafka Connect sink property names where
/// one exists.
///
/// Keys (defaults in brackets):
/// - `connector.class` — `warehouse-sink`
/// - `connection.url` — required; `mssql://user:password@host:port/Database` (the warehouse);
///   `connection.user`, `connection.password` (secret) override the URL's credentials
/// - `kafka.bootstrap.servers` — required; other `kafka.*` keys pass through to the consumer (librdkafka names)
/// - `group.id` [sluice-warehouse] — the consumer group; its offsets live in the warehouse
/// - `topics` [credit.CreditStaging.dbo.customers,credit.CreditStaging.dbo.credit_applications,credit.CreditStaging.dbo.repayments]
/// - `warehouse.schema` [dw]
/// - `dimension.customer.tracked.columns` [full_name,national_id,date_of_birth,address,monthly_income,employment_status]
///   — a change to one of these creates a new version of the customer
/// - `dimension.customer.type1.columns` [email,phone,created_at,updated_at] — overwritten in place on every version
/// - `dimension.application.tracked.columns` [status]
/// - `dimension.application.type1.columns` [customer_id,product,requested_amount,term_months,interest_rate,
///   submitted_by,submitted_at,decided_by,decided_at,decision_note]
///   A column in neither list is not kept (NULL in the warehouse). A column may not be in both.
/// - `batch.size` [500] — at most this many messages per warehouse transaction
/// - `poll.timeout.ms` [250]
/// - `errors.deadletterqueue.topic.name` [`<name>.dlq`, as for every sink] — where poison messages go
/// - `retry.backoff.initial.ms` [500], `retry.backoff.max.ms` [30000] — warehouse reconnect backoff
public struct WarehouseSinkConfiguration: ConnectorConfiguration {
    public static let kind = "warehouse-sink"
    public static let connectorClasses: Set<String> = [kind]

    /// The columns each dimension can keep: the columns of `dw.dim_customer` / `dw.dim_application`
    /// created by db-init/warehouse (the source tables' columns less the key).
    public static let customerColumns = [
        "full_name", "national_id", "date_of_birth", "email", "phone", "address", "monthly_income",
        "employment_status", "created_at", "updated_at",
    ]
    public static let applicationColumns = [
        "customer_id", "product", "requested_amount", "term_months", "interest_rate", "status", "submitted_by",
        "submitted_at", "decided_by", "decided_at", "decision_note",
    ]

    /// Which columns of a dimension make a new version, and which are overwritten in place.
    public struct DimensionColumns: Sendable, Hashable {
        public var tracked: [String]
        public var type1: [String]

        public init(tracked: [String], type1: [String]) {
            self.tracked = tracked
            self.type1 = type1
        }
    }

    public var name: String
    public var host: String
    public var port: Int
    public var user: String
    public var password: Secret
    public var database: String
    public var kafkaBootstrapServers: String
    public var kafkaProperties: [(String, String)]
    public var groupID: String
    public var topics: [String]
    public var warehouseSchema: String
    public var customer: DimensionColumns
    public var application: DimensionColumns
    public var batchSize: Int
    public var pollTimeoutMs: Int
    public var deadLetterTopic: String
    public var retryBackoffInitialMs: Int
    public var retryBackoffMaxMs: Int

    /// Reads and validates every key, throwing all problems at once.
    public init(_ input: ConnectorProperties) throws(ConfigurationError) {
        var p = input
        name = p.name
        if let cls = p.string("connector.class", required: true), !Self.connectorClasses.contains(cls) {
            p.addProblem(key: "connector.class", "\"\(cls)\" is not the warehouse sink; use \"warehouse-sink\"")
        }
        let login = SQLServerLogin.read(.init(url: "connection.url", urlRequired: true,
                                              user: "connection.user", password: "connection.password"), from: &p)
        host = login.host
        port = login.port
        user = login.user
        password = login.password
        database = login.database ?? ""
        if login.database == nil, p.problems.allSatisfy({ $0.key != "connection.url" }) {
            p.addProblem(key: "connection.url", "names no database; end it with /CreditWarehouse")
        }
        kafkaBootstrapServers = p.string("kafka.bootstrap.servers", required: true) ?? ""
        kafkaProperties = p.raw(prefix: "kafka.").filter { $0.0 != "bootstrap.servers" }
        groupID = p.string("group.id", default: "sluice-warehouse") ?? "sluice-warehouse"
        var topics = p.list("topics")
        if topics.isEmpty {
            topics = ["customers", "credit_applications", "repayments"].map { "credit.CreditStaging.dbo.\($0)" }
        }
        self.topics = topics
        warehouseSchema = p.string("warehouse.schema", default: "dw") ?? "dw"
        customer = Self.dimension(
            &p, "customer", known: Self.customerColumns,
            tracked: ["full_name", "national_id", "date_of_birth", "address", "monthly_income", "employment_status"],
            type1: ["email", "phone", "created_at", "updated_at"])
        application = Self.dimension(
            &p, "application", known: Self.applicationColumns,
            tracked: ["status"],
            type1: ["customer_id", "product", "requested_amount", "term_months", "interest_rate", "submitted_by",
                    "submitted_at", "decided_by", "decided_at", "decision_note"])
        batchSize = p.int("batch.size", default: 500, range: 1...100_000)
        pollTimeoutMs = p.int("poll.timeout.ms", default: 250, range: 1...60_000)
        deadLetterTopic = p.string("errors.deadletterqueue.topic.name", default: "\(p.name).dlq") ?? "\(p.name).dlq"
        retryBackoffInitialMs = p.int("retry.backoff.initial.ms", default: 500, range: 10...600_000)
        retryBackoffMaxMs = p.int("retry.backoff.max.ms", default: 30_000, range: 100...3_600_000)
        try p.validate()
    }

    static func dimension(_ p: inout ConnectorProperties, _ dimension: String, known: [String],
                          tracked defaultTracked: [String], type1 defaultType1: [String]) -> DimensionColumns {
        let trackedKey = "dimension.\(dimension).tracked.columns"
        let type1Key = "dimension.\(dimension).type1.columns"
        var tracked = p.list(trackedKey)
        var type1 = p.list(type1Key)
        if tracked.isEmpty { tracked = defaultTracked }
        if p.string(type1Key) == nil { type1 = defaultType1 }
        for (key, columns) in [(trackedKey, tracked), (type1Key, type1)] {
            for column in columns where !known.contains(column) {
                p.addProblem(key: key, "\"\(column)\" is not a column of the \(dimension) dimension; use some of: \(known.joined(separator: ", "))")
            }
            if Set(columns).count != columns.count {
                p.addProblem(key: key, "lists a column twice")
            }
        }
        for column in tracked where type1.contains(column) {
            p.addProblem(key: type1Key, "\"\(column)\" is also in \(trackedKey); a column is either tracked (new version) or type 1 (overwritten), not both")
        }
        return DimensionColumns(tracked: tracked, type1: type1)
    }
}
