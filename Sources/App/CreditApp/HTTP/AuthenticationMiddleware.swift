import Foundation
import Hummingbird
import HummingbirdAuth

/// Sets `context.identity` from the session, slides the session's idle timeout, and refuses requests
/// without a session: 401 JSON under `/api/`, a redirect to `/login` for pages. Public: `POST
/// /api/v1/session`, `/login`, `/health/*`, `/metrics`.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = CreditRequestContext
    let users: UserStore
    let idleTimeout: Duration

    public init(users: UserStore, idleTimeout: Duration) {
        self.users = users
        self.idleTimeout = idleTimeout
    }

    public static func isPublic(method: HTTPRequest.Method, path: String) -> Bool {
        if path == "/api/v1/session" && method == .post { return true }
        if path == "/login" && (method == .get || method == .post) { return true }
        if path == "/metrics" || path == "/health/live" || path == "/health/ready" { return true }
        return false
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let session = context.sessions.session, let user = try await users.activeUser(username: session.username) {
            context.identity = user
            // Idle timeout: every request by the user moves the expiry on.
            _ = context.sessions.updateSession(session, expiresIn: idleTimeout)
        } else if context.sessions.session != nil {
            context.sessions.clearSession()  // the user was removed or disabled
        }
        if context.identity == nil && !Self.isPublic(method: request.method, path: request.uri.path) {
            if request.uri.path.hasPrefix("/api/") {
                throw APIError(.unauthorized, "no session or it expired: log in with POST /api/v1/session")
            }
            let target = request.uri.path == "/" ? "" : "?next=" + (request.uri.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "")
            return .redirect(to: "/login" + target, type: .normal)
        }
        return try await next(request, context)
    }
}
