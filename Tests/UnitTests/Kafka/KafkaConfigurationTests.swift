import Logging
@testable import SluiceKafka
import Testing

@Suite("Kafka configuration rendering and validation")
struct KafkaConfigurationTests {
    let connection = KafkaConnectionConfiguration(bootstrapServers: " 127.0.0.1:59092, kafka-2:9092 ", clientID: "sluice-source")

    @Test("the producer is idempotent with acks=all and renders its options")
    func producerProperties() throws {
        let properties = try KafkaProducerConfiguration(connection: connection, linger: .milliseconds(20), compression: .zstd).properties()
        #expect(properties["bootstrap.servers"] == "127.0.0.1:59092,kafka-2:9092")
        #expect(properties["client.id"] == "sluice-source")
        #expect(properties["enable.idempotence"] == "true")
        #expect(properties["acks"] == "all")
        #expect(properties["linger.ms"] == "20")
        #expect(properties["compression.type"] == "zstd")
        #expect(properties["message.timeout.ms"] == "300000")
        #expect(properties["log.queue"] == "true")
        #expect(properties["partitioner"] == "murmur2_random")
    }

    @Test("the consumer never auto-commits and renders group settings")
    func consumerProperties() throws {
        let configuration = KafkaConsumerConfiguration(
            connection: connection, groupID: "sluice-replica-postgres",
            sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500),
            assignmentStrategy: .range, offsetReset: .latest, groupInstanceID: "replica-1"
        )
        let properties = try configuration.properties()
        #expect(properties["group.id"] == "sluice-replica-postgres")
        #expect(properties["enable.auto.commit"] == "false")
        #expect(properties["enable.auto.offset.store"] == "false")
        #expect(properties["session.timeout.ms"] == "6000")
        #expect(properties["heartbeat.interval.ms"] == "500")
        #expect(properties["partition.assignment.strategy"] == "range")
        #expect(properties["auto.offset.reset"] == "latest")
        #expect(properties["group.instance.id"] == "replica-1")
        #expect(try KafkaConsumerConfiguration(connection: connection, groupID: "g").properties()["partition.assignment.strategy"] == "cooperative-sticky")
    }

    @Test("additional properties that would break delivery guarantees are refused")
    func conflictingPropertiesAreRefused() throws {
        var unsafe = connection
        unsafe.additionalProperties = ["acks": "1"]
        #expect {
            _ = try KafkaProducerConfiguration(connection: unsafe).properties()
        } throws: { error in
            let error = try #require(error as? KafkaError)
            return error.code == .configuration && error.message.contains("acks=all")
        }
        unsafe.additionalProperties = ["enable.auto.commit": "true"]
        #expect(throws: KafkaError.self) { _ = try KafkaConsumerConfiguration(connection: unsafe, groupID: "g").properties() }
        // The same value is fine.
        unsafe.additionalProperties = ["acks": "all", "linger.ms": "50"]
        #expect(try KafkaProducerConfiguration(connection: unsafe).properties()["linger.ms"] == "50")
    }

    @Test("secrets never show in descriptions")
    func secretsAreRedacted() throws {
        var secured = connection
        secured.security = .sasl(mechanism: "SCRAM-SHA-512", username: "sluice", password: Secret("hunter2"))
        secured.additionalProperties = ["ssl.key.password": "also-secret"]
        let configuration = KafkaProducerConfiguration(connection: secured)
        let properties = try configuration.properties()
        #expect(properties["sasl.password"] == "hunter2")
        #expect(properties["security.protocol"] == "sasl_ssl")
        for text in [properties.description, configuration.description, secured.description, "\(secured.security)", "\(Secret("hunter2"))"] {
            #expect(!text.contains("hunter2"))
            #expect(!text.contains("also-secret"))
        }
        #expect(properties.description.contains("sasl.password=<redacted>"))
    }

    @Test("librdkafka's validation: an unknown property or a bad value is a clear configuration error")
    func librdkafkaRejectsBadProperties() throws {
        var bad = connection
        bad.additionalProperties = ["no.such.property": "1"]
        #expect {
            _ = try KafkaProducer(configuration: KafkaProducerConfiguration(connection: bad), logger: Logger(label: "test"))
        } throws: { error in
            let error = try #require(error as? KafkaError)
            return error.code == .configuration && error.message.contains("unknown Kafka property no.such.property")
                && (error.underlyingDescription ?? "").contains("No such configuration property")
        }
        bad.additionalProperties = ["fetch.wait.max.ms": "soon"]
        #expect {
            _ = try KafkaConsumer(configuration: KafkaConsumerConfiguration(connection: bad, groupID: "g"), logger: Logger(label: "test"))
        } throws: { error in
            let error = try #require(error as? KafkaError)
            return error.code == .configuration && error.message.contains("invalid value") && error.underlyingDescription?.isEmpty == false
        }
        bad.security = .sasl(mechanism: "PLAIN", username: "sluice", password: Secret("hunter2"))
        bad.additionalProperties = ["socket.timeout.ms": "never"]
        #expect {
            _ = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: bad), logger: Logger(label: "test"))
        } throws: { error in
            (error as? KafkaError)?.code == .configuration && !"\(error)".contains("hunter2")
        }
    }

    @Test("Duration renders as whole milliseconds, clamped to Int32")
    func durationMilliseconds() {
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
        #expect(Duration.microseconds(2500).milliseconds == 2)
        #expect(Duration.seconds(Int64.max / 2).milliseconds == Int32.max)
    }
}
