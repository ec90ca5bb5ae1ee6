import CRdKafka
@testable import SluiceKafka
import Testing

@Suite("Kafka errors and the library version check")
struct KafkaErrorTests {
    @Test("librdkafka codes map to retriable or fatal, with their names")
    func classification() {
        let timedOut = KafkaError.rdKafka(.delivery, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, message: "not stored")
        #expect(timedOut.isRetriable && !timedOut.isFatal)
        #expect(timedOut.underlyingName == "_MSG_TIMED_OUT")
        #expect(timedOut.code == .delivery)
        #expect("\(timedOut)".contains("_MSG_TIMED_OUT"))

        let tooLarge = KafkaError.rdKafka(.produce, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, message: "too large")
        #expect(!tooLarge.isRetriable && !tooLarge.isFatal)

        let notLeader = KafkaError.rdKafka(.delivery, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, message: "moved")
        #expect(notLeader.isRetriable)

        let fatal = KafkaError.rdKafka(.produce, RD_KAFKA_RESP_ERR__FATAL, message: "fenced")
        #expect(fatal.isFatal && !fatal.isRetriable && fatal.code == .fatal)

        let authorization = KafkaError.rdKafka(.consume, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, message: "denied")
        #expect(!authorization.isRetriable && !authorization.isFatal)
    }

    @Test("an rd_kafka_error_t carries librdkafka's own flags")
    func errorObject() throws {
        let error = try #require(sluice_rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "wrong state"))
        let mapped = KafkaError.rdKafka(.rebalance, consuming: error, message: "assigning failed.")
        #expect(mapped.code == .rebalance)
        #expect(mapped.underlyingName == "_STATE")
        #expect(!mapped.isFatal)
        #expect(mapped.underlyingDescription == "wrong state")
    }

    @Test("codes are distinct and print their name")
    func codes() {
        #expect(KafkaError.Code.delivery != .produce)
        #expect("\(KafkaError.Code.topicAlreadyExists)" == "topicAlreadyExists")
        #expect(KafkaError.shutdown("sending").code == .shutdown)
    }

    @Test("the loaded librdkafka is at least 2.2")
    func loadedVersion() throws {
        try KafkaLibrary.checkVersion()
        #expect(KafkaLibrary.version >= KafkaLibrary.minimumVersion)
        #expect(KafkaLibrary.loadedFrom?.contains("librdkafka") == true)
    }

    @Test("an old librdkafka is refused with a message naming the fix and the loaded file")
    func oldVersionIsRefused() {
        #expect {
            try KafkaLibrary.checkVersion(version: 0x0200_02FF, versionString: "2.0.2", loadedFrom: "/usr/lib/x86_64-linux-gnu/librdkafka.so.1")
        } throws: { error in
            let error = try #require(error as? KafkaError)
            return error.code == .libraryVersion && error.message.contains("2.0.2")
                && error.message.contains("run scripts/bootstrap") == false && error.message.contains("Run scripts/bootstrap")
                && error.message.contains("/usr/lib/x86_64-linux-gnu/librdkafka.so.1")
        }
        #expect(throws: Never.self) { try KafkaLibrary.checkVersion(version: 0x0202_00FF, versionString: "2.2.0", loadedFrom: nil) }
    }
}
