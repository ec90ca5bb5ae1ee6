import Foundation
import Testing
import SluiceSQLServer
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SQLServerErrorPathTests {
    private func expectError(
        _ code: SQLServerError.Code, _ body: () async throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> SQLServerError? {
        do {
            try await body()
            Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
            return nil
        } catch let error as SQLServerError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("expected SQLServerError \(code), got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func syntaxError102() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let error = await expectError(.syntaxError) { try await connection.execute("SELECT 1\nSELEC 2 FROM") }
            #expect(error?.number == 102)
            #expect(error?.severity == 15)
            #expect(error?.line == 2)
            #expect(error?.isRetriable == false)
            // The connection stays usable.
            let checked1 = try await connection.execute("SELECT 1 AS one").rows.first?[0]
            #expect(checked1 == .int(1))
        }
    }

    @Test func invalidObject208() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let error = await expectError(.invalidObject) { try await connection.execute("SELECT * FROM dbo.sluice_no_such_table") }
            #expect(error?.number == 208)
            #expect(error?.severity == 16)
            #expect(error?.serverMessage?.text.contains("sluice_no_such_table") == true)
        }
    }

    @Test func duplicateKey2627() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            try await SQLServerTestWorld.withTable("dup", columns: "id int NOT NULL PRIMARY KEY, name nvarchar(20) NULL", on: connection) { table in
                let name = quoteIdentifier("dbo", table)
                try await connection.execute("INSERT INTO \(unsafeRaw: name) (id, name) VALUES (\(Int32(1)), \("first"))")
                let error = await expectError(.duplicateKey) {
                    try await connection.execute(SQLServerQuery("SELECT 1;\nINSERT INTO \(unsafeRaw: name) (id, name) VALUES (1, N'again')"))
                }
                #expect(error?.number == 2627)
                #expect(error?.severity == 14)
                #expect(error?.state == 1)
                #expect(error?.line == 2)
                #expect(error?.serverMessage?.text.contains("PRIMARY KEY") == true)
                let count = try await connection.execute(SQLServerQuery("SELECT COUNT(*) FROM \(unsafeRaw: name)")).rows.first?[0]
                #expect(count == .int(1))
            }
        }
    }

    @Test func loginFailure18456() async throws {
        let error = await expectError(.loginFailed) {
            _ = try await SQLServerTestWorld.connect { $0.password = "definitely-wrong" }
        }
        #expect(error?.number == 18456)
        #expect(error?.severity == 14)
        #expect(error?.isRetriable == false)
        #expect(error.map { !"\($0)".contains("definitely-wrong") } == true)
    }

    @Test func unreachablePort() async throws {
        let error = await expectError(.serverUnreachable) {
            _ = try await SQLServerTestWorld.connect { $0.host = "127.0.0.1"; $0.port = 1 }
        }
        #expect(error?.isRetriable == true)
        #expect(error?.message.contains("127.0.0.1:1") == true)
    }

    @Test func unknownHost() async throws {
        _ = await expectError(.serverUnreachable) {
            _ = try await SQLServerTestWorld.connect { $0.host = "sluice-no-such-host.invalid" }
        }
    }

    /// A listener that accepts TCP connections (in the kernel backlog) but never answers the login.
    @Test func loginTimeout() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        try #require(bound && listen(listener, 8) == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let start = ContinuousClock.now
        let error = await expectError(.loginTimeout) {
            _ = try await SQLServerTestWorld.connect {
                $0.host = "127.0.0.1"
                $0.port = port
                $0.options.loginTimeout = 2
            }
        }
        #expect(ContinuousClock.now - start < .seconds(15))
        #expect(error?.isRetriable == true)
    }

    @Test func queryTimeoutCancelsAndKeepsTheConnection() async throws {
        let connection = try await SQLServerTestWorld.connect { $0.options.queryTimeout = 1 }
        let start = ContinuousClock.now
        let error = await expectError(.queryTimeout) { try await connection.execute("WAITFOR DELAY '00:00:05'") }
        #expect(ContinuousClock.now - start < .seconds(4.5))
        #expect(error?.isRetriable == true)
        let checked2 = try await connection.execute("SELECT 2 AS two").rows.first?[0]
        #expect(checked2 == .int(2))
        await connection.close()
    }

    @Test func oneCallerAtATime() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            // While a response is being read, the connection belongs to its reader.
            try await connection.withResults("SELECT 1 AS a UNION ALL SELECT 2") { results in
                _ = try await results.nextResultSet()
                _ = await expectError(.connectionBusy) { try await connection.execute("SELECT 1") }
            }
            let checked3 = try await connection.execute("SELECT 1 AS one").rows.count
            #expect(checked3 == 1)
        }
    }

    @Test func closedConnectionRefusesWork() async throws {
        let connection = try await SQLServerTestWorld.connect()
        await connection.close()
        #expect(connection.isClosed)
        _ = await expectError(.connectionClosed) { try await connection.execute("SELECT 1") }
    }
}
