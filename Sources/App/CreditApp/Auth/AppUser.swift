/// A user of the credit app, as stored in `app.users`.
public struct AppUser: Sendable, Hashable, Codable {
    public var username: String
    public var role: Role

    public init(username: String, role: Role) {
        self.username = username
        self.role = role
    }

    /// Usernames: 1–100 characters (the width of `submitted_by`) of letters, digits, `.`, `_`, `-`.
    public static func validate(username: String) -> String? {
        if username.isEmpty || username.count > 100 { return "must be 1 to 100 characters" }
        let allowed = username.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || ".-_".unicodeScalars.contains($0) }
        return allowed ? nil : "may hold only letters a–z, digits, '.', '_' and '-'"
    }
}
