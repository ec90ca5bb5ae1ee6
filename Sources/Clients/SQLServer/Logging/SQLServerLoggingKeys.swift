/// Logger metadata keys of the SQL Server client, in one place (dotted names).
enum SQLServerLoggingKeys {
    static let server = "sqlserver.server"
    static let database = "sqlserver.database"
    static let connectionID = "sqlserver.connection_id"
    static let message = "sqlserver.message"
    static let serverMessageNumber = "sqlserver.message.number"
    static let libraryErrorNumber = "sqlserver.freetds.error"
    static let sql = "sqlserver.sql"
    static let tdsVersion = "sqlserver.tds_version"
}
