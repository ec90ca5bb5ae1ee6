import Foundation
import Testing
@testable import SluiceCore

/// `${file:PATH}` references in connector files (credential files under systemd's LoadCredential=).
@Suite struct ConnectorFileReferenceTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-file-ref-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func parse(_ json: String, env: [String: String] = [:]) throws -> ConnectorProperties {
        try ConnectorProperties.parse(Array(json.utf8), origin: "test.json", environment: env)
    }

    func write(_ name: String, _ content: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(content.utf8).write(to: url)
        return url
    }

    @Test func readsTheFileWithoutOneTrailingNewline() throws {
        let secret = try write("pw", "S3cret pass\n")
        var p = try parse(#"{"name":"s","config":{"database.password":"${file:\#(secret.path)}"}}"#)
        #expect(p.string("database.password") == "S3cret pass")
        #expect(p.problems.isEmpty)
    }

    @Test func keepsInnerNewlinesAndStripsCRLF() throws {
        let secret = try write("two", "a\nb\r\n")
        var p = try parse(#"{"name":"s","config":{"k":"${file:\#(secret.path)}"}}"#)
        #expect(p.string("k") == "a\nb")
    }

    @Test func pathMayReferenceTheEnvironment() throws {
        _ = try write("staging-password", "from-credentials")
        var p = try parse(#"{"name":"s","config":{"url":"mssql://sluice:${file:${CREDENTIALS_DIRECTORY}/staging-password}@h:1433/D"}}"#,
                          env: ["CREDENTIALS_DIRECTORY": directory.path])
        #expect(p.string("url") == "mssql://sluice:from-credentials@h:1433/D")
    }

    @Test func aMissingFileIsAProblemNamingPathAndFix() throws {
        let p = try parse(#"{"name":"s","config":{"database.password":"${file:${CREDENTIALS_DIRECTORY}/staging-password}"}}"#,
                          env: ["CREDENTIALS_DIRECTORY": directory.path])
        let message = try #require(p.problems.first?.message)
        #expect(p.problems.first?.key == "database.password")
        #expect(message.contains("\(directory.path)/staging-password"))
        #expect(message.contains("No such file or directory"))
        #expect(message.contains("LoadCredential=staging-password:"))
    }

    @Test func anUnsetVariableInThePathIsReportedAsSuch() throws {
        let p = try parse(#"{"name":"s","config":{"k":"${file:${CREDENTIALS_DIRECTORY}/x}"}}"#)
        #expect(p.problems.first?.message.contains("${CREDENTIALS_DIRECTORY}, which is not set") == true)
    }

    @Test func unterminatedAndEmptyReferencesAreProblems() throws {
        let p = try parse(#"{"name":"s","config":{"a":"${file:/x","b":"${file:}"}}"#)
        let messages = p.problems.map(\.message).sorted()
        #expect(messages.count == 2)
        #expect(messages.contains { $0.contains("unterminated ${file:") })
        #expect(messages.contains { $0.contains("empty ${file:}") })
    }

    @Test func doubledDollarKeepsTheReferenceLiteral() throws {
        var p = try parse(#"{"name":"s","config":{"k":"$${file:/etc/x}"}}"#)
        #expect(p.string("k") == "${file:/etc/x}")
        #expect(p.problems.isEmpty)
    }
}
