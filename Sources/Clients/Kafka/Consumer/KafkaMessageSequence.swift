/// `KafkaConsumer.messages(…)`: an endless sequence of messages, read in batches. Ends (nil) when the
/// consumer is closed or the iterating task is cancelled; throws what `poll` throws.
public struct KafkaMessageSequence: AsyncSequence, Sendable {
    public typealias Element = KafkaMessage

    let consumer: KafkaConsumer
    let batchSize: Int
    let pollTimeout: Duration

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        let batchSize: Int
        let pollTimeout: Duration
        var buffer: [KafkaMessage] = []
        var index = 0

        public mutating func next() async throws -> KafkaMessage? {
            while index >= buffer.count {
                guard !Task.isCancelled, consumer.isRunning else { return nil }
                do {
                    buffer = try await consumer.poll(maxMessages: batchSize, timeout: pollTimeout)
                } catch let error as KafkaError where error.code == .shutdown {
                    return nil
                } catch is CancellationError {
                    return nil
                }
                index = 0
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(consumer: consumer, batchSize: batchSize, pollTimeout: pollTimeout)
    }
}
