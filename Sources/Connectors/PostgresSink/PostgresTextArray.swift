import NIOCore
import PostgresNIO

/// A `text[]` bind parameter whose elements may be NULL, in Postgres's binary array format.
public struct PostgresTextArray: PostgresNonThrowingEncodable, Sendable {
    public var elements: [String?]

    public init(_ elements: [String?]) { self.elements = elements }

    public static var psqlType: PostgresDataType { .textArray }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(1))  // dimensions
        buffer.writeInteger(Int32(elements.contains(where: { $0 == nil }) ? 1 : 0))  // has nulls
        buffer.writeInteger(Int32(bitPattern: PostgresDataType.text.rawValue))
        buffer.writeInteger(Int32(elements.count))  // length of the dimension
        buffer.writeInteger(Int32(1))  // lower bound
        for element in elements {
            if let element {
                let lengthIndex = buffer.writerIndex
                buffer.writeInteger(Int32(0))
                let written = buffer.writeString(element)
                buffer.setInteger(Int32(written), at: lengthIndex)
            } else {
                buffer.writeInteger(Int32(-1))
            }
        }
    }
}
