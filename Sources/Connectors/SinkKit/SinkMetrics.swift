import Metrics

/// The sink runtime's metrics (swift-metrics; exported by the process's Prometheus registry).
///
/// - `sluice_sink_events_applied_total{connector,table}`
/// - `sluice_sink_events_stale_total{connector}` — ignored as not newer than the target row
/// - `sluice_sink_batch_size{connector}` — messages per batch (histogram)
/// - `sluice_sink_apply_duration{connector}` — apply latency of a batch (timer)
/// - `sluice_sink_consumer_lag{connector,topic,partition}` — messages behind the end of the partition
/// - `sluice_sink_dead_letters_total{connector}`
/// - `sluice_sink_retries_total{connector}` — transient failures retried
struct SinkMetrics: Sendable {
    let connector: String
    let stale: Counter
    let batchSize: Recorder
    let applyDuration: Metrics.Timer
    let deadLetters: Counter
    let retries: Counter

    init(connector: String) {
        self.connector = connector
        let dimensions = [("connector", connector)]
        stale = Counter(label: "sluice_sink_events_stale_total", dimensions: dimensions)
        batchSize = Recorder(label: "sluice_sink_batch_size", dimensions: dimensions, aggregate: true)
        applyDuration = Metrics.Timer(label: "sluice_sink_apply_duration", dimensions: dimensions)
        deadLetters = Counter(label: "sluice_sink_dead_letters_total", dimensions: dimensions)
        retries = Counter(label: "sluice_sink_retries_total", dimensions: dimensions)
    }

    func applied(table: String, count: Int) {
        Counter(label: "sluice_sink_events_applied_total", dimensions: [("connector", connector), ("table", table)])
            .increment(by: count)
    }

    func lag(topic: String, partition: Int32, value: Int64) {
        Gauge(label: "sluice_sink_consumer_lag", dimensions: [("connector", connector), ("topic", topic), ("partition", String(partition))])
            .record(value)
    }
}
