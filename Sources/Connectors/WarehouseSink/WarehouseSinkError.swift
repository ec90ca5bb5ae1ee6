/// A warehouse sink failure: a code to branch on, a message that names the fix, and the underlying error.
public struct WarehouseSinkError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidValue, invalidEvent, unknownTable, warehouseUnavailable, warehouseRejected, schemaMissing
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        /// A column value that does not fit the warehouse column (poison: dead-lettered).
        public static let invalidValue = Code(.invalidValue)
        /// An event without its key or row (poison: dead-lettered).
        public static let invalidEvent = Code(.invalidEvent)
        /// An event of a table the warehouse model does not hold (poison: dead-lettered).
        public static let unknownTable = Code(.unknownTable)
        /// The warehouse cannot be reached, or asked to retry (deadlock, restart): retried.
        public static let warehouseUnavailable = Code(.warehouseUnavailable)
        /// The warehouse refused the batch's data (constraint, conversion).
        public static let warehouseRejected = Code(.warehouseRejected)
        /// The dw tables are missing: db-init/warehouse was not run.
        public static let schemaMissing = Code(.schemaMissing)
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// Whether retrying the same work later may succeed.
    public var isRetriable: Bool { code == .warehouseUnavailable }

    /// Whether the event itself is at fault (it goes to the dead-letter topic).
    public var isPoison: Bool { code == .invalidValue || code == .invalidEvent || code == .unknownTable }

    public var description: String {
        "warehouse sink (\(code)): \(message)" + (underlying.map { " — \($0)" } ?? "")
    }
}
