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

    @Test func reportsTheOffsetOfTheError() {
        do {
            _ = try JSONValue.parse(#"{"a": [1, 2,, 3]}"#)
            Issue.record("expected a parse error")
        } catch {
            #expect(error.offset == 12)
        }
    }
}
