import Testing
@testable import SluiceCore

@Suite struct TopicNamerTests {
    @Test func namesEveryTopicFromThePrefix() {
        let namer = TopicNamer(prefix: "credit")
        #expect(namer.dataTopic(TableID(database: "CreditStaging", schema: "dbo", table: "customers")) == "credit.CreditStaging.dbo.customers")
        #expect(namer.transactionTopic == "credit.transaction")
        #expect(namer.schemaChangeTopic == "credit")
        #expect(namer.heartbeatTopic == "__sluice-heartbeat.credit")
        #expect(namer.offsetsTopic == "__sluice-offsets.credit")
    }

    @Test func replacesCharactersKafkaRejects() {
        let namer = TopicNamer(prefix: "credit")
        #expect(namer.dataTopic(TableID(database: "Credit Staging", schema: "dbo", table: "Kunden/Ä")) == "credit.Credit_Staging.dbo.Kunden__")
    }
}
