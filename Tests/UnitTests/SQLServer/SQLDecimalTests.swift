import Foundation
import Testing
@testable import SluiceSQLServer

@Suite struct SQLDecimalTests {
    @Test(arguments: ["0", "1", "-1", "12.340", "-0.0001", "0.5", "99999999999999999999999999999999999999",
                      "-9999999999999999999999999999.9999999999", "1234567890123456789012345678.0123456789"])
    func roundTripsText(text: String) throws {
        let value = try #require(SQLDecimal(text))
        #expect(value.description == text)
    }

    @Test func keepsScaleAndPrecision() throws {
        let value = try #require(SQLDecimal("-012.340"))
        #expect(value.scale == 3)
        #expect(value.significand == -12340)
        #expect(value.precision == 5)
        #expect(SQLDecimal(".5")?.description == "0.5")
        #expect(SQLDecimal("0.000")?.precision == 3)
    }

    @Test func rejectsWhatIsNotAnExactDecimal() {
        for text in ["", "-", ".", "1e5", "1.2.3", "abc", "1,5", "123456789012345678901234567890123456789"] {
            #expect(SQLDecimal(text) == nil, "\(text)")
        }
    }

    @Test func equalityIsNumeric() throws {
        #expect(SQLDecimal("1.5") == SQLDecimal("1.500"))
        #expect(SQLDecimal("1.5")!.hashValue == SQLDecimal("1.500")!.hashValue)
        #expect(SQLDecimal("-2.01")! < SQLDecimal("-2")!)
        #expect(SQLDecimal("99999999999999999999999999999999999999")! > SQLDecimal("0.00000000000000000000000000000000000001")!)
    }

    @Test func rescalesWithoutRounding() throws {
        let value = try #require(SQLDecimal("1.20"))
        #expect(value.rescaled(to: 4)?.description == "1.2000")
        #expect(value.rescaled(to: 1)?.description == "1.2")
        #expect(value.rescaled(to: 0) == nil)
    }

    @Test func convertsToFoundationDecimalExactly() throws {
        let value = try #require(SQLDecimal("1234567890123456789012345678.0123456789"))
        #expect(value.decimalValue.description == "1234567890123456789012345678.0123456789")
        #expect(SQLDecimal(Decimal(string: "-0.125")!) == SQLDecimal("-0.125"))
    }

    /// `DBNUMERIC` bytes as FreeTDS's own `dbconvert_ps("-1234567.0000000001" → numeric(38,10))`
    /// produced them on this machine: sign byte, then the magnitude big-endian in 16 bytes.
    @Test func encodesAndDecodesDBNumericLikeFreeTDS() throws {
        let value = try #require(SQLDecimal("-1234567.0000000001"))
        let bytes = try #require(DBEncodedParameter.numericBytes(value, precision: 38, scale: 10))
        #expect(Array(bytes.prefix(20)) == [38, 10, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2b, 0xdc, 0x52, 0x4a, 0xdd, 0x3c, 0x01, 0])
        #expect(bytes.count == 35)
        #expect(DBValueDecoder.decimal(numericBytes: bytes) == value)
        #expect(DBValueDecoder.decimal(numericBytes: bytes)?.description == "-1234567.0000000001")
    }

    @Test func numericBytesRefuseWhatDoesNotFit() throws {
        #expect(DBEncodedParameter.numericBytes(SQLDecimal("1.234")!, precision: 18, scale: 2) == nil)
        #expect(DBEncodedParameter.numericBytes(SQLDecimal("1000")!, precision: 3, scale: 0) == nil)
        #expect(DBEncodedParameter.numericBytes(SQLDecimal("999")!, precision: 3, scale: 0) != nil)
        let edges = ["99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", "0"]
        for text in edges {
            let bytes = try #require(DBEncodedParameter.numericBytes(SQLDecimal(text)!, precision: 38, scale: 0))
            #expect(DBValueDecoder.decimal(numericBytes: bytes)?.description == text)
        }
    }

    @Test func magnitudeBytesFollowPrecision() {
        // FreeTDS's tds_numeric_bytes_per_prec minus the sign byte.
        let expected = [1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 9: 4, 10: 5, 18: 8, 19: 8, 20: 9, 28: 12, 38: 16]
        for (precision, bytes) in expected {
            #expect(DBValueDecoder.numericMagnitudeBytes(precision: precision) == bytes, "precision \(precision)")
        }
    }

    @Test func moneyIsExact() throws {
        var raw = [UInt8](repeating: 0, count: 8)
        let units: Int64 = -922_337_203_685_477_5808 / 10 // a large negative amount
        withUnsafeBytes(of: Int32(truncatingIfNeeded: units >> 32)) { raw.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: units)) { raw.replaceSubrange(4..<8, with: $0) }
        let value = raw.withUnsafeBytes { DBValueDecoder.money($0.baseAddress!) }
        #expect(value.significand == Int128(units))
        #expect(value.scale == 4)
    }
}
