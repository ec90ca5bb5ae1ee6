import Hummingbird
import HummingbirdAuth
import SluiceCore

/// `POST /api/v1/session` (log in) and `DELETE /api/v1/session` (log out).
public struct SessionController: Sendable {
    let login: LoginService
    let idleTimeout: Duration

    public init(login: LoginService, idleTimeout: Duration) {
        self.login = login
        self.idleTimeout = idleTimeout
    }

    public func addRoutes(to group: RouterGroup<CreditRequestContext>) {
        group.post("session", use: create)
        group.delete("session", use: delete)
    }

    @Sendable func create(_ request: Request, context: CreditRequestContext) async throws -> Response {
        var request = request
        let body = try await RequestBodyReader.jsonObject(&request)
        guard let username = body["username"]?.stringValue, let password = body["password"]?.stringValue else {
            throw APIError(.unprocessableContent, "username and password are required",
                           fields: [("username", "a string is required"), ("password", "a string is required")]
                               .filter { body[$0.0]?.stringValue == nil })
        }
        switch try await login.login(username: username, password: password, remoteAddress: nil) {
        case .lockedOut(let seconds):
            throw APIError(.tooManyRequests, "too many failed logins for this user: try again in \(seconds) s",
                           headers: [.retryAfter: String(seconds)])
        case .invalid:
            throw APIError(.unauthorized, "invalid username or password")
        case .success(let user):
            let token = CSRFToken.generate()
            context.sessions.createSession(AppSession(username: user.username, csrfToken: token), expiresIn: idleTimeout)
            return JSONResponse.make(.ok, .object([
                "username": .string(user.username), "role": .string(user.role.rawValue), "csrf_token": .string(token),
            ]))
        }
    }

    @Sendable func delete(_ request: Request, context: CreditRequestContext) async throws -> Response {
        context.sessions.clearSession()
        return Response(status: .noContent)
    }
}
