import Foundation
import Testing
@testable import SluiceSQLServer

@Suite struct SQLServerQueryTests {
    @Test func quoteIdentifierBracketsAndEscapes() {
        #expect(quoteIdentifier("customers") == "[customers]")
        #expect(quoteIdentifier("dbo", "my]table") == "[dbo].[my]]table]")
        #expect(quoteIdentifier("a]]b") == "[a]]]]b]")
        #expect(quoteIdentifier("x; DROP TABLE t --") == "[x; DROP TABLE t --]")
        #expect(quoteIdentifier(["cdc", "dbo_customers_CT"]) == "[cdc].[dbo_customers_CT]")
    }

    @Test func interpolationTurnsValuesIntoParameters() {
        let id: Int32 = 42
        let email = "o'brien@example.com"
        let query: SQLServerQuery = "SELECT * FROM \(identifier: "dbo", "customers") WHERE customer_id = \(id) AND email = \(email)"
        #expect(query.sql == "SELECT * FROM [dbo].[customers] WHERE customer_id = @p1 AND email = @p2")
        #expect(query.parameters.map(\.name) == ["@p1", "@p2"])
        #expect(query.parameters[0].value == .int(42))
        #expect(query.parameters[1].value == .string(email))
        #expect(query.parameterDeclarations == "@p1 int, @p2 nvarchar(4000)")
        #expect(!query.description.contains("o'brien"))
    }

    @Test func explicitTypesAndNulls() {
        let amount = SQLDecimal("1234.50")!
        let missing: String? = nil
        let query: SQLServerQuery = "INSERT t VALUES (\(amount, as: .decimal(precision: 18, scale: 2)), \(missing, as: .nvarchar(.count(20))), \(missing))"
        #expect(query.parameterDeclarations == "@p1 decimal(18,2), @p2 nvarchar(20), @p3 nvarchar(1)")
        #expect(query.parameters[1].value == .null)
    }

    @Test func declarationsOfEveryType() {
        let cases: [(SQLServerDataType, String)] = [
            (.bit, "bit"), (.tinyint, "tinyint"), (.smallint, "smallint"), (.int, "int"), (.bigint, "bigint"),
            (.decimal(precision: 38, scale: 10), "decimal(38,10)"), (.numeric(precision: 5, scale: 2), "numeric(5,2)"),
            (.money, "money"), (.smallmoney, "smallmoney"), (.real, "real"), (.float, "float"),
            (.char(10), "char(10)"), (.varchar(.max), "varchar(max)"), (.nchar(3), "nchar(3)"),
            (.nvarchar(.count(200)), "nvarchar(200)"), (.nvarchar(.max), "nvarchar(max)"),
            (.binary(10), "binary(10)"), (.varbinary(.max), "varbinary(max)"), (.date, "date"),
            (.time(scale: 7), "time(7)"), (.smalldatetime, "smalldatetime"), (.datetime, "datetime"),
            (.datetime2(scale: 3), "datetime2(3)"), (.datetimeoffset(scale: 7), "datetimeoffset(7)"),
            (.uniqueidentifier, "uniqueidentifier"),
        ]
        for (type, declaration) in cases {
            #expect(type.declaration == declaration)
            #expect(SQLServerDataType(declaration: declaration.uppercased()) == type)
        }
        #expect(SQLServerDataType(declaration: "decimal(18, 2)") == .decimal(precision: 18, scale: 2))
        #expect(SQLServerDataType(declaration: "geography") == .other("geography"))
    }

    @Test func defaultParameterTypes() {
        #expect(SQLServerValue.string(String(repeating: "é", count: 4000)).defaultParameterType == .nvarchar(.count(4000)))
        #expect(SQLServerValue.string(String(repeating: "x", count: 4001)).defaultParameterType == .nvarchar(.max))
        #expect(SQLServerValue.bytes([UInt8](repeating: 1, count: 8001)).defaultParameterType == .varbinary(.max))
        #expect(SQLServerValue.decimal(SQLDecimal("1.2345")!).defaultParameterType == .decimal(precision: 38, scale: 4))
        #expect(SQLServerValue.dateTime(SQLDateTime(year: 2024, month: 1, day: 1)).defaultParameterType == .datetime2(scale: 7))
        #expect(SQLServerValue.dateTimeOffset(SQLDateTimeOffset(local: SQLDateTime(year: 2024, month: 1, day: 1), offsetMinutes: 60)).defaultParameterType == .datetimeoffset(scale: 7))
        #expect(SQLServerValue.uuid(UUID()).defaultParameterType == .uniqueidentifier)
    }

    @Test func outputParametersAreDeclaredOutput() {
        let parameters = [
            SQLServerParameter(name: "id", value: .int(1)),
            SQLServerParameter(name: "@total", value: .null, type: .decimal(precision: 18, scale: 2), isOutput: true),
        ]
        #expect(parameters.declarationList == "@id int, @total decimal(18,2) OUTPUT")
    }

    @Test func sp_executesqlSendsInputValuesByPositionAndOutputsByName() throws {
        let inputs: SQLServerQuery = "SELECT \(Int32(1)), \("x"), \("")"
        let (sql, arguments) = try SQLServerConnection.sp_executesqlArguments(inputs)
        // The empty string is declared in the text; the others follow @stmt and @params by position.
        #expect(sql == "DECLARE @p3 nvarchar(4000) = N''; SELECT @p1, @p2, @p3")
        #expect(arguments.count == 4)
        #expect(arguments.allSatisfy { $0.name == nil })
        #expect(arguments[1].bytes == Array("@p1 int, @p2 nvarchar(4000)".utf8))
        #expect(arguments[2].bytes == withUnsafeBytes(of: Int32(1)) { Array($0) })

        var withOutput = SQLServerQuery(sql: "SET @total = @id * 2", parameters: [SQLServerParameter(name: "@id", value: .int(21))])
        withOutput.parameters.append(SQLServerParameter(name: "@total", value: .null, type: .int, isOutput: true))
        let named = try SQLServerConnection.sp_executesqlArguments(withOutput).parameters
        #expect(named.dropFirst(2).map(\.name) == ["@id", "@total"])
    }

    @Test func longTextTravelsAsNTextPastFourThousandUTF16CodeUnits() throws {
        func wireType(_ text: String) throws -> Int32 {
            try DBEncodedParameter(SQLServerParameter(name: "@p1", value: .string(text), type: .nvarchar(.max))).type
        }
        let nvarchar = DBValueDecoder.ExtraType.nVarChar
        // Decided from the UTF-8 length where it settles the count, else counted: 4000 code units fit.
        for (text, long) in [(String(repeating: "a", count: 4000), false), (String(repeating: "a", count: 4001), true),
                             (String(repeating: "é", count: 4000), false), (String(repeating: "é", count: 4001), true),
                             (String(repeating: "€", count: 4000), false), (String(repeating: "€", count: 4001), true),
                             (String(repeating: "😀", count: 2000), false), (String(repeating: "😀", count: 2001), true)] {
            #expect(try (wireType(text) != nvarchar) == long, "\(text.utf8.count) UTF-8 bytes, \(text.utf16.count) UTF-16 code units")
            #expect((DBEncodedParameter.positionalText(text).type != nvarchar) == long)
        }
    }
}
