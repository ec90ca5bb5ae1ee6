import Testing
@testable import SluiceCore

@Suite struct JSONValueTests {
    @Test func keepsKeyOrderAndExactNumbers() throws {
        let text = #"{"b":1,"a":12345678901234567890123,"c":-1.50e-3,"d":[true,false,null],"e":"x\"y\\z\n"}"#
        let value = try JSONValue.parse(text)
        #expect(value.serializedString == text)
        #expect(value.objectValue?.keys == ["b", "a", "c", "d", "e"])
        #expect(value["a"] == .number("12345678901234567890123"))
        #expect(value["e"]?.stringValue == "x\"y\\z\n")
    }

    @Test func decodesUnicodeEscapesAndSurrogatePairs() throws {
        let value = try JSONValue.parse(#"["\u00e9", "\ud83d\ude00", "Ørsted"]"#)
        #expect(value.arrayValue == [.string("é"), .string("😀"), .string("Ørsted")])
    }

    @Test func escapesControlCharactersOnOutput() {
        #expect(JSONValue.string("a\u{01}b\tc").serializedString == #""a\u0001b\tc""#)
    }

    @Test(arguments: [
        "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"abc", "tru", "{\"a\":1}x", "\"\\ud800\"", "[\"\u{01}\"]",
    ])
    func rejectsMalformedDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func nestedObjectsKeepTheirOwnFieldsWhateverTheirSize() throws {
        // Objects inside objects and arrays, one of 100 fields (past the parser's first field buffer), empty ones.
        let wide = (0..<100).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let text = #"{"a":{"b":{"c":1},"d":[{"e":2},{}],"w":{"# + wide + #"}},"f":{},"g":3}"#
        let value = try JSONValue.parse(text)
        #expect(value.serializedString == text)
        #expect(value.objectValue?.keys == ["a", "f", "g"])
        #expect(value["a"]?.objectValue?.keys == ["b", "d", "w"])
        #expect(value["a"]?["w"]?.objectValue?.count == 100)
        #expect(value["a"]?["w"]?["k99"] == .number("99"))
        #expect(value["a"]?["d"]?.arrayValue?.first?["e"] == .number("2"))
        #expect(value["f"]?.objectValue?.count == 0)
    }

    @Test func anErrorInsideNestedObjectsIsReportedAndTheNextParseIsUnaffected() throws {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":{"b":{"c":1,"d":}},"e":2}"#) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":{"b":[1,2"#) }
        #expect(try JSONValue.parse(#"{"a":{"b":1}}"#).serializedString == #"{"a":{"b":1}}"#)
    }

    @Test func reportsTheOffsetOfTheError() {
        do {
            _ = try JSONValue.parse(#"{"a": [1, 2,, 3]}"#)
            Issue.record("expected a parse error")
        } catch {
            #expect(error.offset == 12)
        }
    }
}
