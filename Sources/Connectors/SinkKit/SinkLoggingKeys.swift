/// Logger metadata keys of the sink runtime.
public enum SinkLoggingKeys {
    public static let connector = "sluice.sink.connector"
    public static let topic = "sluice.sink.topic"
    public static let partition = "sluice.sink.partition"
    public static let offset = "sluice.sink.offset"
    public static let attempt = "sluice.sink.attempt"
    public static let retryIn = "sluice.sink.retry_in"
    public static let batchSize = "sluice.sink.batch_size"
    public static let error = "sluice.sink.error"
    public static let count = "sluice.sink.count"
}
