/// What a session stores (in `app.sessions`, as JSON): who is logged in and the session's CSRF token.
/// The role is read from `app.users` on every request, so a role change applies at once.
public struct AppSession: Sendable, Codable, Hashable {
    public var username: String
    public var csrfToken: String

    public init(username: String, csrfToken: String) {
        self.username = username
        self.csrfToken = csrfToken
    }
}
