/// Where the source stands in a database's change stream.
///
/// Debezium's SQL Server offset is (commit_lsn, change_lsn, event_serial_no); its direct query mode lost
/// rows of deferred updates until `__$command_id` joined the offset (debezium PR 7728), and Microsoft
/// documents `__$command_id` — not `__$seqval` — as the order of operations inside a transaction. Sluice
/// emits a transaction's rows ordered by (command_id, seqval, operation), so its position is the quadruple
/// in that order:
/// - `commitLSN`: `__$start_lsn`, the commit LSN of the transaction;
/// - `commandID`: `__$command_id` of the change (nil for snapshot reads: they sort first);
/// - `changeLSN`: `__$seqval` of the change (nil for snapshot reads);
/// - `eventSerialNo`: 1 for the first event of a change, 2 for the create that follows a primary-key
///   change's delete.
/// `change_lsn` alone is not monotonic across transactions (DBZ-1090); this order is.
public struct SourcePosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var commitLSN: LSN
    public var commandID: Int?
    public var changeLSN: LSN?
    public var eventSerialNo: Int

    public init(commitLSN: LSN, commandID: Int?, changeLSN: LSN?, eventSerialNo: Int) {
        self.commitLSN = commitLSN
        self.commandID = commandID
        self.changeLSN = changeLSN
        self.eventSerialNo = eventSerialNo
    }

    /// The position of snapshot reads taken at `fence`: before every change committed at or after it.
    public static func snapshot(at fence: LSN) -> SourcePosition {
        SourcePosition(commitLSN: fence, commandID: nil, changeLSN: nil, eventSerialNo: 0)
    }

    public var isSnapshot: Bool { changeLSN == nil }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        if lhs.commitLSN != rhs.commitLSN { return lhs.commitLSN < rhs.commitLSN }
        if lhs.commandID != rhs.commandID { return (lhs.commandID ?? -1) < (rhs.commandID ?? -1) }
        if lhs.changeLSN != rhs.changeLSN {
            guard let l = lhs.changeLSN else { return true }  // snapshot reads first
            guard let r = rhs.changeLSN else { return false }
            return l < r
        }
        return lhs.eventSerialNo < rhs.eventSerialNo
    }

    public var description: String {
        "commit_lsn=\(commitLSN) command_id=\(commandID.map(String.init) ?? "-") "
            + "change_lsn=\(changeLSN.map(String.init(describing:)) ?? "NULL") event_serial_no=\(eventSerialNo)"
    }
}

extension SourcePosition {
    /// A fixed-width text whose byte order is the position order, for sinks to store and compare in SQL:
    /// `<commit_lsn 20 hex>.<command_id 10 digits>.<change_lsn 20 hex>.<serial 5 digits>`, with `-` for the
    /// missing parts of a snapshot position (`-` sorts before every digit).
    public var sortKey: String {
        // Written byte by byte into one string (58 bytes): sinks compute it for every event.
        String(unsafeUninitializedCapacity: Self.sortKeyCapacity) { writeSortKey(into: $0) }
    }

    /// `body` with the bytes of `sortKey` (ASCII), written into a temporary buffer: no string is built.
    public func withSortKeyBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.sortKeyCapacity) { buffer in
            let count = writeSortKey(into: buffer)
            return try body(UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// 58 bytes, more only for numbers wider than their fields.
    private static let sortKeyCapacity = 84

    /// Writes the sort key's bytes from the start of `out`; returns how many.
    private func writeSortKey(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var i = 0
        func hex(_ value: UInt64, digits: Int) {
            var shift = (digits - 1) * 4
            while shift >= 0 {
                let nibble = UInt8((value >> UInt64(shift)) & 0xF)
                out[i] = nibble < 10 ? 48 + nibble : 87 + nibble
                i += 1
                shift -= 4
            }
        }
        func lsn(_ l: LSN) {
            hex(UInt64(l.vlf), digits: 8)
            hex(UInt64(l.block), digits: 8)
            hex(UInt64(l.slot), digits: 4)
        }
        func decimal(_ n: Int, width: Int) {
            // Numbers wider than `width` keep all their digits (as String(n) would).
            guard n >= 0, n < Self.powerOfTen(width) else {
                let text = String(n).utf8
                for _ in text.count..<max(text.count, width) { out[i] = 48; i += 1 }
                for byte in text { out[i] = byte; i += 1 }
                return
            }
            let value = n
            var divisor = Self.powerOfTen(width - 1)
            while divisor > 0 {
                out[i] = 48 + UInt8(value / divisor % 10)
                i += 1
                divisor /= 10
            }
        }
        func dashes(_ count: Int) { for _ in 0..<count { out[i] = 45; i += 1 } }
        lsn(commitLSN)
        out[i] = 46; i += 1
        if let commandID { decimal(commandID, width: 10) } else { dashes(10) }
        out[i] = 46; i += 1
        if let changeLSN { lsn(changeLSN) } else { dashes(20) }
        out[i] = 46; i += 1
        decimal(eventSerialNo, width: 5)
        return i
    }

    private static func powerOfTen(_ n: Int) -> Int {
        var p = 1
        for _ in 0..<n { p *= 10 }
        return p
    }

    public init?(sortKey: String) {
        let parts = sortKey.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, let commit = LSN(String(parts[0])), let serial = Int(parts[3]) else { return nil }
        let command = parts[1].allSatisfy { $0 == "-" } ? nil : Int(parts[1])
        let change = parts[2].allSatisfy { $0 == "-" } ? nil : LSN(String(parts[2]))
        if command == nil && !parts[1].allSatisfy({ $0 == "-" }) { return nil }
        if change == nil && !parts[2].allSatisfy({ $0 == "-" }) { return nil }
        self.init(commitLSN: commit, commandID: command, changeLSN: change, eventSerialNo: serial)
    }
}
