extension Duration {
    /// Whole milliseconds, rounded down, clamped to `Int32` (librdkafka's timeout type).
    var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        let (secondsInMilliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? Int32.min : Int32.max }
        return Int32(clamping: secondsInMilliseconds + attoseconds / 1_000_000_000_000_000)
    }
}
