/// One result set of a response: its columns, and its rows as an `AsyncSequence` that fetches a few
/// hundred rows per hop to the blocking thread (memory stays flat however many rows there are).
/// It can be iterated once.
public struct SQLServerResultSet: AsyncSequence {
    public typealias Element = SQLServerRow

    public let columns: SQLServerColumns
    private let results: SQLServerResults
    private let generation: Int

    init(columns: SQLServerColumns, results: SQLServerResults, generation: Int) {
        self.columns = columns
        self.results = results
        self.generation = generation
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(results: results, generation: generation)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private let results: SQLServerResults
        private let generation: Int

        init(results: SQLServerResults, generation: Int) {
            self.results = results
            self.generation = generation
        }

        public mutating func next() async throws -> SQLServerRow? {
            try await results.nextRow(generation: generation)
        }
    }
}
