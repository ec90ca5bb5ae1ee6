@testable import SluiceKafka
import Testing

@Suite("Consumer poll wait")
struct KafkaConsumerPollWaitTests {
    @Test("a part of a millisecond left waits one millisecond instead of polling in a busy loop")
    func roundsUp() {
        #expect(KafkaConsumer.waitMilliseconds(.microseconds(300)) == 1)
        #expect(KafkaConsumer.waitMilliseconds(.microseconds(1_001)) == 2)
        #expect(KafkaConsumer.waitMilliseconds(.milliseconds(250)) == 250)
    }

    @Test("nothing left (or a deadline passed) waits zero")
    func zeroWhenDue() {
        #expect(KafkaConsumer.waitMilliseconds(.zero) == 0)
        #expect(KafkaConsumer.waitMilliseconds(.milliseconds(-5)) == 0)
    }

    @Test("a huge wait is clamped, not overflowed")
    func clamps() {
        #expect(KafkaConsumer.waitMilliseconds(.seconds(Int64.max / 2)) == Int32.max)
    }
}
