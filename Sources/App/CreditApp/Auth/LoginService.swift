import Logging

/// Checks a username and password: bcrypt off the cooperative pool, the same answer whether the user
/// exists or not, and a lockout after `threshold` failures within `window` (counted in Postgres, so
/// every app process and a restart see them).
public struct LoginService: Sendable {
    let users: UserStore
    let hasher: PasswordHasher
    let window: Duration
    let threshold: Int
    let logger: Logger

    public init(users: UserStore, hasher: PasswordHasher, window: Duration, threshold: Int, logger: Logger) {
        self.users = users
        self.hasher = hasher
        self.window = window
        self.threshold = threshold
        self.logger = logger
    }

    public enum Outcome: Sendable, Equatable {
        case success(AppUser)
        case invalid
        case lockedOut(retryAfterSeconds: Int)
    }

    public func login(username: String, password: String, remoteAddress: String?) async throws -> Outcome {
        // Over-long input cannot be a real account; refuse without counting it (keeps the table small).
        guard !username.isEmpty, username.count <= 100, password.utf8.count <= 72 * 4,
              !username.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return .invalid }
        let failures = try await users.recentFailures(username: username, window: window)
        if failures.count >= threshold {
            logger.notice("login refused: locked out", metadata: ["user": "\(username)"])
            AppMetrics.login("locked_out")
            return .lockedOut(retryAfterSeconds: failures.retryAfterSeconds)
        }
        let stored = try await users.find(username: username)
        let ok = try await hasher.verify(password, hash: stored?.passwordHash)
        if ok, let stored, !stored.disabled {
            try await users.clearFailures(username: username)
            logger.info("login", metadata: ["user": "\(username)", "role": "\(stored.user.role.rawValue)"])
            AppMetrics.login("success")
            return .success(stored.user)
        }
        try await users.recordFailure(username: username, remoteAddress: remoteAddress)
        logger.notice("login failed", metadata: ["user": "\(username)"])
        AppMetrics.login("invalid")
        return .invalid
    }
}
