/// Logger metadata keys of the SQL Server source, in one place (dotted names; beside
/// `SQLServerLoggingKeys` and `KafkaLoggingKeys` of the clients).
enum SourceLoggingKeys {
    static let connector = "sluice.connector"
    static let database = "sluice.database"
    static let databases = "sluice.databases"
    static let topicPrefix = "sluice.topic.prefix"
    static let snapshotMode = "sluice.snapshot.mode"
    /// A stored offset, as its JSON.
    static let offset = "sluice.offset"
    static let table = "sluice.table"
    static let errorCode = "sluice.error.code"
    static let snapshotID = "sluice.snapshot.id"
}
