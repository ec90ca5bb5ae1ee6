import Testing
@testable import SluiceSQLServer

@Suite struct SQLServerConfigurationTests {
    @Test func parsesTheLocalWorldURL() throws {
        let configuration = try SQLServerConfiguration(url: "mssql://sa:Sluice_pw1@127.0.0.1:51433/CreditStaging")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 51433)
        #expect(configuration.username == "sa")
        #expect(configuration.password == "Sluice_pw1")
        #expect(configuration.database == "CreditStaging")
        #expect(configuration.serverName == "127.0.0.1:51433")
        #expect(configuration.options == .init())
    }

    @Test func percentDecodesUserPasswordAndDatabase() throws {
        let configuration = try SQLServerConfiguration(url: "mssql://dom%5Cuser:p%40ss%3Aw%2Frd%25@db.example.com/Credit%20Staging")
        #expect(configuration.username == "dom\\user")
        #expect(configuration.password == "p@ss:w/rd%")
        #expect(configuration.database == "Credit Staging")
        #expect(configuration.port == 1433)
    }

    @Test func readsOptions() throws {
        let configuration = try SQLServerConfiguration(
            url: "sqlserver://u:p@h:1/D?loginTimeout=3&queryTimeout=20&applicationName=sink&rowsPerFetch=50")
        #expect(configuration.options == .init(loginTimeout: 3, queryTimeout: 20, applicationName: "sink", rowsPerFetch: 50))
    }

    @Test func databaseIsOptional() throws {
        #expect(try SQLServerConfiguration(url: "mssql://u:p@h:1433").database == nil)
        #expect(try SQLServerConfiguration(url: "mssql://u:p@h:1433/").database == nil)
    }

    @Test(arguments: [
        "postgres://u:p@h/D", "mssql://h:1433/D", "mssql://u:p@:1433/D", "mssql://u:p@h:1433/D/x",
        "mssql://u:p@h:1433/D?loginTimeout=0", "mssql://u:p@h:1433/D?bogus=1", "not a url",
    ])
    func rejectsInvalidURLs(url: String) {
        #expect(throws: SQLServerError.self) { try SQLServerConfiguration(url: url) }
        do {
            _ = try SQLServerConfiguration(url: url)
        } catch {
            #expect(error.code == .invalidConfiguration)
        }
    }

    @Test func neverPrintsThePassword() throws {
        let configuration = try SQLServerConfiguration(url: "mssql://sa:TopSecret%21@h:1433/D")
        #expect(configuration.description == "mssql://sa:***@h:1433/D")
        #expect(!configuration.debugDescription.contains("TopSecret"))
        #expect(!"\(configuration)".contains("TopSecret"))
        do {
            _ = try SQLServerConfiguration(url: "mssql://sa:TopSecret@h:1433/D?oops=1")
        } catch {
            #expect(!"\(error)".contains("TopSecret"))
        }
    }
}

/// The one `mssql://` parser: the client's configuration and the connector files' URLs both use it.
@Suite struct SQLServerURLTests {
    @Test func credentialsEndAtTheLastAt() throws {
        let url = try SQLServerURL(parsing: "mssql://u:p?w@rd@db:1444/Credit")
        #expect(url.user == "u" && url.password == "p?w@rd" && url.host == "db" && url.port == 1444 && url.database == "Credit")
        #expect(url.options.isEmpty)
    }

    @Test func userAndPasswordAreOptional() throws {
        let url = try SQLServerURL(parsing: "mssql://db/Credit")
        #expect(url.user == nil && url.password == nil && url.port == 1433)
        #expect(throws: SQLServerError.self) { try SQLServerConfiguration(url: "mssql://db/Credit") }
    }

    @Test func optionsArePercentDecodedInOrder() throws {
        let url = try SQLServerURL(parsing: "sqlserver://u:p@h/D?applicationName=a%20b&loginTimeout=3")
        #expect(url.options.map(\.name) == ["applicationName", "loginTimeout"])
        #expect(url.options.first?.value == "a b")
    }

    @Test(arguments: ["postgres://u:p@h/D", "mssql://u:p@:1/D", "mssql://u:p@h:0/D", "mssql://u:p@h/D/x", "mssql://u:p%zz@h/D"])
    func problemsNeverEchoTheURL(text: String) {
        do {
            _ = try SQLServerURL(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(!error.message.contains("u:p"))
        }
    }
}
