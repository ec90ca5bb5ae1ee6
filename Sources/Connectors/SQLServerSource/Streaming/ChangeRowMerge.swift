import SluiceCore

/// Merges the change rows of several capture instances, each already in emission order
/// (`ORDER BY __$start_lsn, __$command_id, __$seqval, __$operation`), into one stream in emission order.
///
/// Each input is pulled one row at a time, so memory holds one row per capture instance however large the
/// window or its transactions are. An input that goes backwards is an error rather than a silent misorder.
public struct ChangeRowMerge<Input: AsyncIteratorProtocol>: AsyncIteratorProtocol where Input.Element == ChangeRow {
    public struct OrderViolation: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    private var inputs: [Input]
    private var heads: [ChangeRow?]
    private var started = false

    public init(_ inputs: [Input]) {
        self.inputs = inputs
        self.heads = Array(repeating: nil, count: inputs.count)
    }

    public mutating func next() async throws -> ChangeRow? {
        if !started {
            started = true
            for i in inputs.indices { heads[i] = try await inputs[i].next() }
        }
        var best: Int?
        for i in heads.indices {
            guard let head = heads[i] else { continue }
            if let b = best, let bh = heads[b], !ChangeRow.emissionOrder(head, bh) { continue }
            best = i
        }
        guard let i = best, let row = heads[i] else { return nil }
        let following = try await inputs[i].next()
        if let following, ChangeRow.emissionOrder(following, row) {
            throw OrderViolation(description: "capture instance \(row.captureInstance) returned rows out of order: "
                + "start_lsn \(following.startLSN) command_id \(following.commandID) seqval \(following.seqval) after "
                + "start_lsn \(row.startLSN) command_id \(row.commandID) seqval \(row.seqval)")
        }
        heads[i] = following
        return row
    }
}
