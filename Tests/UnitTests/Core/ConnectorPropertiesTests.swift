import Testing
@testable import SluiceCore

@Suite struct ConnectorPropertiesTests {
    enum Mode: String, CaseIterable { case initial, always }

    func parse(_ json: String, env: [String: String] = [:]) throws -> ConnectorProperties {
        try ConnectorProperties.parse(Array(json.utf8), origin: "test.json", environment: env)
    }

    @Test func substitutesEnvironmentVariables() throws {
        var p = try parse(#"{"name":"src","config":{"url":"${URL}","port":"${PORT:-1433}","lit":"$${HOME}","n":5,"b":true}}"#,
                          env: ["URL": "mssql://u:p@h:1/D"])
        let url = p.string("url"), port = p.int("port", default: 0), literal = p.string("lit")
        let n = p.int("n", default: 0), b = p.bool("b", default: false)
        #expect(url == "mssql://u:p@h:1/D")
        #expect(port == 1433)
        #expect(literal == "${HOME}")
        #expect(n == 5)
        #expect(b)
        try p.validate()
    }

    @Test func keepsPlaceholdersThatAreNotVariableNames() throws {
        var p = try parse(#"{"name":"sink","config":{"table.name.format":"${source.schema}.${source.table}","x":"${A}-$${topic}"}}"#, env: ["A": "a"])
        #expect(p.string("table.name.format") == "${source.schema}.${source.table}")
        #expect(p.string("x") == "a-${topic}")
        #expect(p.problems.isEmpty)
    }

    @Test func reportsEveryProblemAtOnce() throws {
        var p = try parse(#"{"name":"src","config":{"url":"${NOT_SET}","poll.interval.ms":"soon","snapshot.mode":"sometimes","tpoic.prefix":"x"}}"#)
        _ = p.string("url")
        _ = p.int("poll.interval.ms", default: 500)
        _ = p.choice("snapshot.mode", default: Mode.initial)
        _ = p.string("topic.prefix", required: true)
        do {
            try p.validate()
            Issue.record("expected problems")
        } catch {
            let text = error.description
            #expect(error.problems.count == 5)
            #expect(text.contains("${NOT_SET}"))
            #expect(text.contains("\"soon\" is not a whole number"))
            #expect(text.contains("not one of: initial, always"))
            #expect(text.contains("topic.prefix: missing"))
            #expect(text.contains("tpoic.prefix: unknown key"))
        }
    }

    @Test func rejectsFilesThatAreNotConnectorObjects() {
        #expect(throws: ConfigurationError.self) { try parse("[1,2]") }
        #expect(throws: ConfigurationError.self) { try parse(#"{"config":{}}"#) }
        #expect(throws: ConfigurationError.self) { try parse(#"{"name":"x"}"#) }
        #expect(throws: ConfigurationError.self) { try parse(#"{"name":"x","config":{"a":1"#) }
    }

    @Test func secretsNeverPrint() throws {
        var p = try parse(#"{"name":"src","config":{"database.password":"hunter2"}}"#)
        let read = p.secret("database.password")
        let secret = try #require(read)
        #expect(secret.value == "hunter2")
        #expect("\(secret)" == "********")
        #expect(String(reflecting: secret).contains("hunter2") == false)
    }
}
