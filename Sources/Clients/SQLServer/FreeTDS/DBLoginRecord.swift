import CFreeTDS

/// Owns a db-lib `LOGINREC` (login name, password, database, charset, TDS version) and frees it.
final class DBLoginRecord {
    let pointer: OpaquePointer

    init(configuration: SQLServerConfiguration) throws(SQLServerError) {
        guard let pointer = dblogin() else {
            throw SQLServerError(code: .clientLibrary, message: "FreeTDS dblogin() could not allocate a login record (out of memory?).")
        }
        self.pointer = pointer
        try set(configuration.username, DBSETUSER, "user name")
        try set(configuration.password, DBSETPWD, "password")
        try set(configuration.options.applicationName, DBSETAPP, "application name")
        try set("UTF-8", DBSETCHARSET, "client charset")
        if let database = configuration.database {
            try set(database, DBSETDBNAME, "database")
        }
        guard dbsetlversion(pointer, BYTE(DBVERSION_74)) == SUCCEED else {
            throw SQLServerError(code: .clientLibrary, message: "This FreeTDS cannot speak TDS 7.4: install FreeTDS 1.0 or newer (freetds-dev).")
        }
    }

    private func set(_ value: String, _ which: Int32, _ what: String) throws(SQLServerError) {
        guard dbsetlname(pointer, value, which) == SUCCEED else {
            // Never echo the value: it may be the password.
            throw SQLServerError(code: .invalidConfiguration, message: "FreeTDS rejected the \(what) (too long?): check the configuration.")
        }
    }

    deinit {
        dbloginfree(pointer)
    }
}
