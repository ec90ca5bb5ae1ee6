import NIOCore
import PostgresNIO
import SluiceCore

/// A `text[]` bind parameter built element by element straight into its binary wire form (no `String`
/// per element): the sink's upsert and delete carry one per column.
public struct PostgresTextArrayBuilder: PostgresNonThrowingEncodable, Sendable {
    /// The elements, each as Postgres's array element: length (-1 for NULL), then the bytes.
    private var elements: ByteBuffer
    public private(set) var count = 0
    private var hasNulls = false

    public init(capacity: Int = 0, bytesPerElement: Int = 16) {
        elements = ByteBufferAllocator().buffer(capacity: capacity * (4 + bytesPerElement))
    }

    public static var psqlType: PostgresDataType { .textArray }
    public static var psqlFormat: PostgresFormat { .binary }

    /// Appends the text of an event value for a column of `form` (NULL for a missing or null value).
    @inline(__always)
    public mutating func append(_ value: JSONValue?, form: PostgresColumnType.ValueForm, column: String) throws(PostgresValueText.Invalid) {
        let lengthIndex = elements.writerIndex
        elements.writeInteger(Int32(0))
        if try PostgresValueText.write(value, form: form, column: column, into: &elements) {
            elements.setInteger(Int32(elements.writerIndex - lengthIndex - 4), at: lengthIndex)
        } else {
            elements.moveWriterIndex(to: lengthIndex)
            appendNull()
            return
        }
        count += 1
    }

    public mutating func append(_ text: String) {
        let lengthIndex = elements.writerIndex
        elements.writeInteger(Int32(0))
        let written = elements.writeString(text)
        elements.setInteger(Int32(written), at: lengthIndex)
        count += 1
    }

    public mutating func appendNull() {
        elements.writeInteger(Int32(-1))
        hasNulls = true
        count += 1
    }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(1))  // dimensions
        buffer.writeInteger(Int32(hasNulls ? 1 : 0))
        buffer.writeInteger(Int32(bitPattern: PostgresDataType.text.rawValue))
        buffer.writeInteger(Int32(count))  // length of the dimension
        buffer.writeInteger(Int32(1))  // lower bound
        buffer.writeImmutableBuffer(elements)
    }
}
