import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import SluiceCore
import Testing
@testable import SluiceOperations

@Suite struct SignalsRouteTests {
    static let snapshot = #"{"id": "snap-1", "type": "execute-snapshot", "data": {"data-collections": ["CreditStaging.dbo.customers"], "type": "incremental"}}"#

    func app(_ inbox: SourceSignalInbox) -> some ApplicationProtocol {
        OperationsServer.application(host: "127.0.0.1", port: 0, registry: PrometheusCollectorRegistry(), health: HealthRegistry(),
                                     signals: inbox, logger: Logger(label: "test"))
    }

    func post(_ client: some TestClientProtocol, _ body: String, contentType: String = "application/json") async throws -> (HTTPResponse.Status, String) {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return try await client.execute(uri: "/signals", method: .post, headers: headers, body: ByteBuffer(string: body)) {
            ($0.status, String(buffer: $0.body))
        }
    }

    @Test func aWellFormedSignalIsAcceptedAndQueuedForItsDatabase() async throws {
        let inbox = SourceSignalInbox()
        inbox.register(database: "CreditStaging")
        try await app(inbox).test(.router) { client in
            let (status, body) = try await post(client, Self.snapshot)
            #expect(status == .accepted)
            #expect(body.contains(#""status":"accepted""#) && body.contains(#""id":"snap-1""#))
            let (stop, _) = try await post(client, #"{"id": "stop-1", "type": "stop-snapshot", "data": {"type": "incremental"}}"#)
            #expect(stop == .accepted)
        }
        let taken = inbox.take(database: "CreditStaging")
        #expect(taken.map(\.id) == ["snap-1", "stop-1"])
        #expect(taken.first?.action == .executeIncrementalSnapshot(tables: [TableID(database: "CreditStaging", schema: "dbo", table: "customers")]))
        #expect(inbox.take(database: "CreditStaging").isEmpty, "taken once")
    }

    @Test(arguments: [
        ("not json", "not JSON"),
        (#"[1]"#, "JSON object"),
        (#"{"type": "execute-snapshot", "data": {"data-collections": ["CreditStaging.dbo.customers"]}}"#, "no \"id\""),
        (#"{"id": "x", "type": "resume-everything"}"#, "not supported"),
        (#"{"id": "x", "type": "execute-snapshot", "data": {"type": "incremental"}}"#, "needs data.data-collections"),
        (#"{"id": "x", "type": "execute-snapshot", "data": {"data-collections": ["customers"]}}"#, "not database.schema.table"),
        (#"{"id": "x", "type": "execute-snapshot", "data": {"data-collections": ["CreditStaging.dbo.customers"], "type": "blocking"}}"#, "only \"incremental\""),
        (#"{"id": "x", "type": "execute-snapshot", "data": {"data-collections": ["Other.dbo.customers"]}}"#, "captures database \"Other\""),
    ])
    func aMalformedSignalIsA400NamingTheProblem(body: String, problem: String) async throws {
        let inbox = SourceSignalInbox()
        inbox.register(database: "CreditStaging")
        try await app(inbox).test(.router) { client in
            let (status, text) = try await post(client, body)
            #expect(status == .badRequest)
            let error = try JSONValue.parse(text).objectValue?["error"]?.stringValue ?? ""
            #expect(error.contains(problem), "\(text)")
        }
        #expect(inbox.take(database: "CreditStaging").isEmpty)
    }

    @Test func onlyJSONBodiesAreRead() async throws {
        let inbox = SourceSignalInbox()
        inbox.register(database: "CreditStaging")
        try await app(inbox).test(.router) { client in
            let (status, _) = try await post(client, Self.snapshot, contentType: "text/plain")
            #expect(status == .unsupportedMediaType)
        }
        #expect(inbox.take(database: "CreditStaging").isEmpty)
    }

    @Test func withATokenOnlyABearerOfItIsRead() async throws {
        let inbox = SourceSignalInbox()
        inbox.register(database: "CreditStaging")
        let app = OperationsServer.application(host: "127.0.0.1", port: 0, registry: PrometheusCollectorRegistry(), health: HealthRegistry(),
                                               signals: inbox, signalsToken: "s3cret-token", logger: Logger(label: "test"))
        try await app.test(.router) { client in
            for authorization in [nil, "Bearer wrong", "Bearer s3cret-tokenX", "Bearer s3cret-toke", "Basic s3cret-token", "s3cret-token"] {
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                if let authorization { headers[.authorization] = authorization }
                let (status, challenge) = try await client.execute(uri: "/signals", method: .post, headers: headers,
                                                                  body: ByteBuffer(string: Self.snapshot)) {
                    ($0.status, $0.headers[.wwwAuthenticate])
                }
                #expect(status == .unauthorized, "\(authorization ?? "no header")")
                #expect(challenge == "Bearer")
            }
            #expect(inbox.take(database: "CreditStaging").isEmpty, "nothing queued without the token")
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.authorization] = "Bearer s3cret-token"
            let status = try await client.execute(uri: "/signals", method: .post, headers: headers, body: ByteBuffer(string: Self.snapshot)) { $0.status }
            #expect(status == .accepted)
        }
        #expect(inbox.take(database: "CreditStaging").map(\.id) == ["snap-1"])
    }
}
