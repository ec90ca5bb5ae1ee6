import Hummingbird
import SluiceCore

extension OperationsServer {
    /// `POST /signals`: a Debezium-shaped signal for the source connectors of this process, e.g.
    /// `{"id": "snap-1", "type": "execute-snapshot", "data": {"data-collections": ["CreditStaging.dbo.customers"], "type": "incremental"}}`
    /// or `{"id": "stop-1", "type": "stop-snapshot", "data": {"type": "incremental"}}`.
    ///
    /// 202 `{"id", "status": "accepted"}` once queued for the databases it names (the connector acts on it
    /// at its next poll); 400 `{"error": …}` naming the problem for a malformed signal or a database no
    /// source here captures; 415 unless the body is `application/json` (so a cross-site browser form
    /// cannot send one: such a request needs a CORS preflight this server never grants).
    ///
    /// With `token` (`SLUICE_SIGNALS_TOKEN_FILE`), only a request with `Authorization: Bearer <token>` is
    /// read; any other gets 401 before its body is looked at.
    public static func addSignalRoutes<Context: RequestContext>(to router: Router<Context>, inbox: SourceSignalInbox,
                                                               token: String? = nil) {
        router.post("/signals") { request, context -> Response in
            if let token, !Self.bearer(request.headers[.authorization], matches: token) {
                var response = json(.unauthorized, .object(["error": .string(
                    "send Authorization: Bearer <the token in the file SLUICE_SIGNALS_TOKEN_FILE names>")]))
                response.headers[.wwwAuthenticate] = "Bearer"
                return response
            }
            guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
                return json(.unsupportedMediaType, .object(["error": .string("send the signal as Content-Type: application/json")]))
            }
            let body = try await request.body.collect(upTo: 64 * 1024)
            do {
                let signal = try SourceSignal.parse(body: body.readableBytesView)
                try inbox.post(signal)
                return json(.accepted, .object(["id": .string(signal.id), "status": .string("accepted")]))
            } catch let problem as SourceSignal.Problem {
                return json(.badRequest, .object(["error": .string(problem.description)]))
            } catch let problem as SourceSignalInbox.PostError {
                return json(.badRequest, .object(["error": .string(problem.description)]))
            }
        }
    }

    /// Whether `header` is `Bearer <token>`, compared in time independent of where they differ.
    static func bearer(_ header: String?, matches token: String) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        let given = Array(header.dropFirst(7).utf8), expected = Array(token.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<expected.count { difference |= expected[i] ^ (i < given.count ? given[i] : 0) }
        return difference == 0
    }
}
