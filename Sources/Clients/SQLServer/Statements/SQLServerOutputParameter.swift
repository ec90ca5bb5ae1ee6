/// An output parameter's final value, sent back by the server after an RPC.
public struct SQLServerOutputParameter: Sendable, Hashable {
    /// The name with its leading `@`.
    public var name: String
    public var value: SQLServerValue

    public init(name: String, value: SQLServerValue) {
        self.name = name
        self.value = value
    }
}
