import HTTPTypes
import Hummingbird

/// CSRF defence on every unsafe request (POST, PUT, PATCH, DELETE), after OWASP's cheat sheet:
/// 1. `Sec-Fetch-Site`, when the browser sends it, must be `same-origin` or `none` (403 otherwise);
/// 2. except on the login routes, the session's token must come back: `X-CSRF-Token` header (JSON API) or the
///    `csrf_token` field of a form (pages); 403 when missing or wrong, compared in constant time.
/// The session cookie is also `SameSite=Strict`.
public struct CSRFMiddleware: RouterMiddleware {
    public typealias Context = CreditRequestContext
    public static let headerName = HTTPField.Name("X-CSRF-Token")!
    public static let formField = "csrf_token"

    public init() {}

    public static func isUnsafe(_ method: HTTPRequest.Method) -> Bool {
        method == .post || method == .put || method == .patch || method == .delete
    }

    /// Whether a `Sec-Fetch-Site` value is acceptable for an unsafe request (absent: older clients, curl).
    public static func fetchSiteAllowed(_ value: String?) -> Bool {
        guard let value else { return true }
        return value == "same-origin" || value == "none"
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.isUnsafe(request.method) else { return try await next(request, context) }
        if !Self.fetchSiteAllowed(request.headers[HTTPField.Name("Sec-Fetch-Site")!]) {
            throw APIError(.forbidden, "cross-site request refused (Sec-Fetch-Site)")
        }
        // Logging in acts on no session's authority (it makes a new one): only the Sec-Fetch-Site check
        // and SameSite apply. Every other unsafe route has a session here (the authentication
        // middleware refused it otherwise).
        guard !AuthenticationMiddleware.isPublic(method: request.method, path: request.uri.path),
              context.identity != nil, let session = context.sessions.session else {
            return try await next(request, context)
        }
        var request = request
        var presented = request.headers[Self.headerName]
        if presented == nil && RequestBodyReader.isForm(request) {
            presented = try await RequestBodyReader.form(&request)[Self.formField]
        }
        guard CSRFToken.matches(presented, session.csrfToken) else {
            throw APIError(.forbidden, "missing or wrong CSRF token: send the csrf_token of POST /api/v1/session in the X-CSRF-Token header")
        }
        return try await next(request, context)
    }
}
