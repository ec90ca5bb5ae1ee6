import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing and verification, run on NIO's thread pool: bcrypt is deliberately CPU-heavy
/// (~250 ms at cost 12) and must not occupy Swift's cooperative pool.
public struct PasswordHasher: Sendable {
    let threadPool: NIOThreadPool
    /// A hash of a random password, verified when the user does not exist, so an unknown user takes
    /// as long to refuse as a wrong password.
    let dummyHash: String

    init(threadPool: NIOThreadPool, dummyHash: String) {
        self.threadPool = threadPool
        self.dummyHash = dummyHash
    }

    /// Computes the dummy hash once (cost 12, like the stored hashes), off the cooperative pool.
    public static func make(threadPool: NIOThreadPool = .singleton) async throws -> PasswordHasher {
        let random = CSRFToken.generate()
        let dummy = try await threadPool.runIfActive { Bcrypt.hash(random, cost: 12) }
        return PasswordHasher(threadPool: threadPool, dummyHash: dummy)
    }

    public func hash(_ password: String, cost: UInt8) async throws -> String {
        try await threadPool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`; with no hash (unknown user) a dummy verification runs and
    /// the answer is false.
    public func verify(_ password: String, hash: String?) async throws -> Bool {
        let target = hash ?? dummyHash
        let ok = try await threadPool.runIfActive { Bcrypt.verify(password, hash: target) }
        return hash != nil && ok
    }
}
