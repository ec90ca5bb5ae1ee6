import SluiceCore
@testable import SluicePostgresSink
import SluiceSinkKit
import Testing

@Suite struct NetEffectTests {
    let events = SinkTestEvents()

    func records(_ list: [ChangeEvent]) throws -> [SinkRecord] {
        try list.enumerated().map { index, event in
            SinkRecord(event: event, schema: try events.schema, message: try events.message(event, offset: Int64(index)))
        }
    }

    @Test func keepsTheNewestEventPerKey() throws {
        let effect = NetEffect(try records([
            events.event(.create, id: 1, name: "a", at: 1),
            events.event(.update, id: 1, name: "b", at: 2),
            events.event(.create, id: 2, name: "x", at: 3),
            events.event(.update, id: 1, name: "c", at: 4),
        ]))
        #expect(effect.upserts.map(\.keyText) == [#"{"id":1}"#, #"{"id":2}"#])
        #expect(effect.upserts.map { $0.record.event.after?["name"] } == [.string("c"), .string("x")])
        #expect(effect.deletes.isEmpty)
    }

    @Test func aDeleteAfterUpdatesIsADelete() throws {
        let effect = NetEffect(try records([
            events.event(.create, id: 1, name: "a", at: 1),
            events.event(.delete, id: 1, at: 2),
        ]))
        #expect(effect.upserts.isEmpty)
        #expect(effect.deletes.map(\.keyText) == [#"{"id":1}"#])
    }

    @Test func aPrimaryKeyChangeIsADeleteOfTheOldKeyAndAnUpsertOfTheNew() throws {
        // UPDATE accounts SET id = 2 WHERE id = 1: the source sends d(id 1) then c(id 2), same change, serial 1 and 2.
        let effect = NetEffect(try records([
            events.event(.create, id: 1, name: "a", at: 1),
            events.event(.delete, id: 1, name: "a", at: 2, serial: 1),
            events.event(.create, id: 2, name: "a", at: 2, serial: 2),
        ]))
        #expect(effect.deletes.map(\.keyText) == [#"{"id":1}"#])
        #expect(effect.upserts.map(\.keyText) == [#"{"id":2}"#])
        #expect(effect.upserts.first?.record.event.position == SinkTestEvents.position(2, serial: 2))
    }

    @Test func anOutOfDateDuplicateLaterInTheBatchDoesNotWin() throws {
        let effect = NetEffect(try records([
            events.event(.update, id: 1, name: "new", at: 5),
            events.event(.update, id: 1, name: "old", at: 3),
            events.event(.create, id: 1, name: "new", at: 5),
        ]))
        #expect(effect.upserts.count == 1)
        #expect(effect.upserts.first?.record.event.after?["name"] == .string("new"))
        #expect(effect.upserts.first?.record.offset == 2)  // equal positions: the later one
    }
}
