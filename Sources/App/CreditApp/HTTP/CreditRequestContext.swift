import Hummingbird
import HummingbirdAuth

/// The request context of the credit app: the session (hummingbird-auth's `SessionContext`, stored in
/// Postgres) and the logged-in user, set by ``AuthenticationMiddleware``.
public struct CreditRequestContext: AuthRequestContext, SessionRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: AppUser?
    public let sessions: SessionContext<AppSession>

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.sessions = .init()
    }

    /// The logged-in user; throws 401 when there is none (the middleware refuses such requests first, so
    /// this only guards handlers against a routing mistake).
    public func requireUser() throws -> AppUser {
        guard let identity else { throw APIError(.unauthorized, "log in first: POST /api/v1/session") }
        return identity
    }

    public var csrfToken: String { sessions.session?.csrfToken ?? "" }
}
