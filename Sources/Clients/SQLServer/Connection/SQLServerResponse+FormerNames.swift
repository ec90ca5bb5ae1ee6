// The result types' former names, kept while branches written against them merge (issue #17 renamed
// them: a response and a row set, each in memory or as a stream). Remove once nothing uses them.

@available(*, deprecated, renamed: "SQLServerResponse")
public typealias SQLServerResult = SQLServerResponse

@available(*, deprecated, renamed: "SQLServerResponseStream")
public typealias SQLServerResults = SQLServerResponseStream

@available(*, deprecated, renamed: "SQLServerRowStream")
public typealias SQLServerResultSet = SQLServerRowStream
