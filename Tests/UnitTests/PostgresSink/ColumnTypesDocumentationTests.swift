import Foundation
import SluiceCore
import SluicePostgresSink
import SluiceSQLServer
import Testing

/// README "Types" against the one list of type names (`SQLServerDataType.Name`) and the two maps over
/// it: the change event's Connect schema (`SQLServerTypeMapping`) and the replica's column
/// (`PostgresColumnType`).
@Suite struct ColumnTypesDocumentationTests {
    struct Row {
        let names: [SQLServerDataType.Name]
        let connect: String
        let postgres: String
    }

    static func readmeRows() throws -> (rows: [Row], after: String) {
        let readme = try String(contentsOfFile: #filePath.components(separatedBy: "/Tests/")[0] + "/README.md", encoding: .utf8)
        guard let section = readme.components(separatedBy: "\n### Types\n").dropFirst().first else {
            throw POSIXErrorLike(path: "README.md has no ### Types section")
        }
        var rows: [Row] = []
        let lines = section.components(separatedBy: "\n")
        for line in lines.dropFirst().prefix(while: { $0.isEmpty || $0.hasPrefix("|") }) where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 4, cells[0] != "SQL Server" else { continue }
            let words = cells[0].split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
            rows.append(Row(names: words.compactMap { SQLServerDataType.Name(rawValue: $0) }, connect: cells[2], postgres: cells[3]))
        }
        return (rows, section)
    }

    /// A column of `name` at each scale that changes its mapping.
    static func samples(_ name: SQLServerDataType.Name) throws -> [FieldSchema] {
        let scales: [Int?] = name.hasFractionalSeconds && name != .datetime && name != .smalldatetime ? [3, 6, 7] : [2]
        return try scales.map { scale in
            try SQLServerTypeMapping.fieldSchema(column: "c", typeName: name.rawValue, length: name.hasLength ? 50 : nil,
                                                 precision: name == .decimal || name == .numeric ? 10 : nil, scale: scale,
                                                 optional: true, decimalMode: .string)
        }
    }

    /// `timestamp(6) with time zone` → `timestamp with time zone`.
    static func withoutArguments(_ text: String) -> String {
        var text = text
        while text.contains(/\([^()]*\)/) { text = text.replacing(/\([^()]*\)/, with: "") }
        return text.replacing(" without time zone", with: "")
    }

    @Test("every type name is in the table or among the types that stop the source")
    func everyNameIsDocumented() throws {
        let (rows, section) = try Self.readmeRows()
        let documented = Set(rows.flatMap(\.names))
        let refused = section.components(separatedBy: "Other types (").dropFirst().first ?? ""
        for name in SQLServerDataType.Name.allCases where !documented.contains(name) {
            #expect(refused.hasPrefix(name.rawValue) || refused.contains(" \(name.rawValue),"), "README \"Types\" does not list \(name.rawValue)")
            #expect(throws: SQLServerTypeMapping.UnsupportedType.self) { try Self.samples(name) }
        }
        #expect(rows.count >= 10)
    }

    @Test("the Connect schema column names the schema the source writes")
    func connectSchemas() throws {
        for row in try Self.readmeRows().rows {
            for name in row.names {
                for field in try Self.samples(name) {
                    let expected = field.name.map { String($0.split(separator: ".").last!) } ?? field.type.rawValue
                    #expect(row.connect.contains(expected), "\(name.rawValue): README says \"\(row.connect)\", the source writes \(field.name ?? field.type.rawValue)")
                }
            }
        }
    }

    @Test("the Postgres column names the column the replica sink creates")
    func postgresColumns() throws {
        for row in try Self.readmeRows().rows {
            let documented = Self.withoutArguments(row.postgres)
            for name in row.names {
                for field in try Self.samples(name) {
                    let sql = Self.withoutArguments(try PostgresColumnType.of(field).sql)
                    #expect(documented.contains(sql), "\(name.rawValue): README says \"\(row.postgres)\", the sink creates \(sql)")
                }
            }
        }
    }
}
