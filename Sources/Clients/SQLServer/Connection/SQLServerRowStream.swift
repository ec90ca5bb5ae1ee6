/// One result set of a response: its columns, and its rows as an `AsyncSequence` that fetches a few
/// hundred rows per hop to the blocking thread (memory stays flat however many rows there are).
/// It can be iterated once.
public struct SQLServerRowStream: AsyncSequence {
    public typealias Element = SQLServerRow

    public let columns: SQLServerColumns
    private let results: SQLServerResponseStream
    private let generation: Int

    init(columns: SQLServerColumns, results: SQLServerResponseStream, generation: Int) {
        self.columns = columns
        self.results = results
        self.generation = generation
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(results: results, generation: generation)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private let results: SQLServerResponseStream
        private let generation: Int

        init(results: SQLServerResponseStream, generation: Int) {
            self.results = results
            self.generation = generation
        }

        public mutating func next() async throws -> SQLServerRow? {
            try await results.nextRow(generation: generation)
        }
    }
}
