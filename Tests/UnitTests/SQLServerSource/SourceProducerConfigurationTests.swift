import Testing
import SluiceKafka
@testable import SluiceSQLServerSource

@Suite struct SourceProducerConfigurationTests {
    let connection = KafkaConnectionConfiguration(bootstrapServers: "127.0.0.1:59092", clientID: "sluice-source")

    /// lz4: about a third less CPU per event; the sinks bound a fetch response (`fetch.max.bytes`) so a
    /// compressed topic no longer multiplies what they hold.
    @Test("the source's producer lingers 100 ms and compresses with lz4, idempotent with acks=all")
    func defaults() throws {
        let properties = try CaptureSession.producerConfiguration(connection).properties()
        #expect(properties["compression.type"] == "lz4")
        #expect(properties["linger.ms"] == "100")
        #expect(properties["enable.idempotence"] == "true")
        #expect(properties["acks"] == "all")
    }

    @Test("kafka.compression.type and kafka.linger.ms override the source's defaults")
    func overrides() throws {
        var overridden = connection
        overridden.additionalProperties = ["compression.type": "none", "linger.ms": "5"]
        let properties = try CaptureSession.producerConfiguration(overridden).properties()
        #expect(properties["compression.type"] == "none")
        #expect(properties["linger.ms"] == "5")
    }
}
