import Logging
import NIOConcurrencyHelpers
@testable import SluiceKafka
import Testing

@Suite("librdkafka's log lines reach swift-log")
struct KafkaLogForwardingTests {
    /// Collects log records; thread-safe because librdkafka's poll thread logs.
    struct CapturingHandler: LogHandler {
        let records: NIOLockedValueBox<[(Logger.Level, String, Logger.Metadata?)]>
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            records.withLockedValue { $0.append((event.level, "\(event.message)", event.metadata)) }
        }
    }

    @Test("syslog levels map onto swift-log levels")
    func levelMapping() {
        #expect(RDKafkaLogLevel.swiftLogLevel(syslogLevel: 0) == .critical)
        #expect(RDKafkaLogLevel.swiftLogLevel(syslogLevel: 3) == .error)
        #expect(RDKafkaLogLevel.swiftLogLevel(syslogLevel: 4) == .warning)
        #expect(RDKafkaLogLevel.swiftLogLevel(syslogLevel: 5) == .notice)
        #expect(RDKafkaLogLevel.swiftLogLevel(syslogLevel: 6) == .info)
        #expect(RDKafkaLogLevel.swiftLogLevel(syslogLevel: 7) == .debug)
    }

    @Test("a refused connection is logged with librdkafka's facility and client name, and delivery fails")
    func connectionFailureIsLogged() async throws {
        let records = NIOLockedValueBox<[(Logger.Level, String, Logger.Metadata?)]>([])
        let logger = Logger(label: "kafka-log-test") { _ in CapturingHandler(records: records) }
        // Nothing listens on port 1: librdkafka logs the failed connect; the message times out.
        let configuration = KafkaProducerConfiguration(
            connection: KafkaConnectionConfiguration(bootstrapServers: ["127.0.0.1:1"], clientID: "log-test"),
            messageTimeout: .milliseconds(1500)
        )
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        await #expect {
            try await producer.send(topic: "nowhere", key: nil, value: [1])
        } throws: { error in
            let error = try #require(error as? KafkaError)
            return error.code == .delivery && error.isRetriable && error.underlyingName == "_MSG_TIMED_OUT"
        }
        await producer.shutdown(flushTimeout: .milliseconds(100))
        let captured = records.withLockedValue { $0 }
        let connectFailure = captured.first { $0.1.contains("127.0.0.1:1") && $0.0 >= .warning }
        #expect(connectFailure != nil, "captured: \(captured.map(\.1))")
        #expect(connectFailure?.2?[KafkaLoggingKeys.facility] != nil)
        #expect(connectFailure?.2?[KafkaLoggingKeys.client].map { "\($0)".hasPrefix("log-test#producer") } == true)
    }

    @Test("a connector's consumer-only pass-through keys reach the consumer, not the producer (no CONFWARN)")
    func passThroughKeysGoToTheClientThatReadsThem() async throws {
        let connection = KafkaConnectionConfiguration(
            bootstrapServers: ["127.0.0.1:1"], clientID: "scope-test",
            additionalProperties: ["session.timeout.ms": "6000", "linger.ms": "7", "socket.keepalive.enable": "true"])
        #expect(connection.forProducer.additionalProperties == ["linger.ms": "7", "socket.keepalive.enable": "true"])
        #expect(connection.forConsumer.additionalProperties == ["session.timeout.ms": "6000", "socket.keepalive.enable": "true"])

        func confWarnings(_ connection: KafkaConnectionConfiguration) async throws -> [String] {
            let records = NIOLockedValueBox<[(Logger.Level, String, Logger.Metadata?)]>([])
            let logger = Logger(label: "kafka-scope-test") { _ in CapturingHandler(records: records) }
            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(connection: connection), logger: logger)
            await producer.shutdown(flushTimeout: .milliseconds(100))
            return records.withLockedValue { $0 }.filter { $0.2?[KafkaLoggingKeys.facility] == "CONFWARN" }.map(\.1)
        }
        #expect(try await confWarnings(connection).contains { $0.contains("session.timeout.ms") }, "librdkafka warns about a consumer key on a producer")
        #expect(try await confWarnings(connection.forProducer).isEmpty)
    }
}
