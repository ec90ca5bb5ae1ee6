/// A typed parameter of an `sp_executesql` call or a stored procedure.
public struct SQLServerParameter: Sendable, Hashable {
    /// The parameter's name with its leading `@`.
    public var name: String
    public var value: SQLServerValue
    /// The declared type (what `@params` says and what travels on the wire).
    public var type: SQLServerDataType
    /// An output parameter: the server sends its final value back.
    public var isOutput: Bool

    /// `type` defaults to ``SQLServerValue/defaultParameterType``.
    public init(name: String, value: SQLServerValue, type: SQLServerDataType? = nil, isOutput: Bool = false) {
        self.name = name.hasPrefix("@") ? name : "@" + name
        self.value = value
        self.type = type ?? value.defaultParameterType
        self.isOutput = isOutput
    }

    /// `@p1 nvarchar(4000)` or `@total decimal(18,2) OUTPUT`.
    public var declaration: String {
        "\(name) \(type.declaration)" + (isOutput ? " OUTPUT" : "")
    }
}

extension Array where Element == SQLServerParameter {
    /// The `@params` argument of `sp_executesql`: the declarations joined by `, `.
    public var declarationList: String {
        // Appended in place: a statement over a batch declares hundreds of parameters.
        var list = ""
        list.reserveCapacity(count * 24)
        for (index, parameter) in enumerated() {
            if index > 0 { list += ", " }
            list += parameter.name
            list += " "
            list += parameter.type.declaration
            if parameter.isOutput { list += " OUTPUT" }
        }
        return list
    }
}
