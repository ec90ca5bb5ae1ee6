import Testing
import SluiceKafka
@testable import SluiceSQLServerSource

@Suite struct SourceProducerConfigurationTests {
    let connection = KafkaConnectionConfiguration(bootstrapServers: "127.0.0.1:59092", clientID: "sluice-source")

    @Test("the source's producer lingers 100 ms and does not compress, idempotent with acks=all")
    func defaults() throws {
        let properties = try CaptureSession.producerConfiguration(connection).properties()
        #expect(properties["compression.type"] == "none")
        #expect(properties["linger.ms"] == "100")
        #expect(properties["enable.idempotence"] == "true")
        #expect(properties["acks"] == "all")
    }

    @Test("kafka.compression.type and kafka.linger.ms override the source's defaults")
    func overrides() throws {
        var overridden = connection
        overridden.additionalProperties = ["compression.type": "lz4", "linger.ms": "5"]
        let properties = try CaptureSession.producerConfiguration(overridden).properties()
        #expect(properties["compression.type"] == "lz4")
        #expect(properties["linger.ms"] == "5")
    }
}
