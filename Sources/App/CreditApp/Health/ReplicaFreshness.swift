import Foundation
import NIOConcurrencyHelpers

/// How far the replica is behind staging: the age of the oldest transaction committed in staging
/// after the newest one the replica has applied (0 when it has them all), in milliseconds.
///
/// The replica's newest applied position comes from its `__sluice_position` columns (the commit LSN
/// leads it); staging's `cdc.lsn_time_mapping` says which transactions came after it and when.
/// A transaction the capture job has not harvested yet is not counted (the capture interval, 1 s in
/// the local world, 5 s by default on SQL Server). Cached for half a second.
public final class ReplicaFreshness: Sendable {
    let replica: ReplicaStore
    let staging: StagingStore
    private let cache = NIOLockedValueBox<(at: Date, lag: Int?)?>(nil)

    public init(replica: ReplicaStore, staging: StagingStore) {
        self.replica = replica
        self.staging = staging
    }

    /// nil when it cannot be told (replica or staging unreachable, replica not created yet).
    public func lagMilliseconds() async -> Int? {
        if let cached = cache.withLockedValue({ $0 }), Date().timeIntervalSince(cached.at) < 0.5 { return cached.lag }
        var lag: Int?
        do {
            let position = try await replica.newestPosition()
            let lsn = position.flatMap { Self.commitLSN(sortKey: $0) } ?? [UInt8](repeating: 0, count: 10)
            lag = try await staging.pendingAge(after: lsn)
        } catch {
            lag = nil
        }
        let value = lag
        cache.withLockedValue { $0 = (Date(), value) }
        return value
    }

    /// The commit LSN's 10 bytes from the first 20 hex characters of a position sort key.
    static func commitLSN(sortKey: String) -> [UInt8]? {
        let hex = Array(sortKey.utf8.prefix(20))
        guard hex.count == 20 else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 20, by: 2) {
            guard let b = UInt8(String(decoding: hex[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(b)
        }
        return bytes
    }

    /// "replica 0.8 s behind", "replica up to date", "replica freshness unknown".
    public static func describe(_ lag: Int?) -> String {
        guard let lag else { return "replica freshness unknown" }
        if lag == 0 { return "replica up to date" }
        if lag < 60_000 { return String(format: "replica %.1f s behind", Double(lag) / 1000) }
        return String(format: "replica %.0f min behind", Double(lag) / 60_000)
    }
}
