import Logging

/// librdkafka logs with syslog levels (0 emergency … 7 debug).
enum RDKafkaLogLevel {
    static func swiftLogLevel(syslogLevel: Int32) -> Logger.Level {
        switch syslogLevel {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    }
}
