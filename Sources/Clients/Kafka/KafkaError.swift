import CRdKafka

/// An error from the Kafka client: what went wrong (`code`), a message that names the fix, and
/// librdkafka's own error code and text when there is one.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Extensible: new codes may be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case configuration
            case libraryVersion
            case clientCreation
            case produce
            case delivery
            case consume
            case commit
            case rebalance
            case seek
            case partitionControl
            case admin
            case topicAlreadyExists
            case timeout
            case shutdown
            case fatal
        }

        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// An unknown property or an invalid value (librdkafka's `rd_kafka_conf_set` refused it).
        public static let configuration = Code(.configuration)
        /// The librdkafka loaded at run time is older than Sluice needs.
        public static let libraryVersion = Code(.libraryVersion)
        /// `rd_kafka_new` failed.
        public static let clientCreation = Code(.clientCreation)
        /// A message could not be enqueued.
        public static let produce = Code(.produce)
        /// The broker did not acknowledge a message (delivery report carried an error).
        public static let delivery = Code(.delivery)
        /// Consuming failed.
        public static let consume = Code(.consume)
        /// An offset commit failed.
        public static let commit = Code(.commit)
        /// Assigning or revoking partitions failed, or an application hook threw.
        public static let rebalance = Code(.rebalance)
        /// Seeking failed.
        public static let seek = Code(.seek)
        /// Pausing or resuming partitions failed.
        public static let partitionControl = Code(.partitionControl)
        /// An admin operation (create/describe/list topics) failed.
        public static let admin = Code(.admin)
        /// A topic to create exists already.
        public static let topicAlreadyExists = Code(.topicAlreadyExists)
        /// An operation did not complete in time.
        public static let timeout = Code(.timeout)
        /// The client has been shut down.
        public static let shutdown = Code(.shutdown)
        /// librdkafka raised a fatal error: the client instance can no longer be used; recreate it.
        public static let fatal = Code(.fatal)

        public var description: String { String(describing: backing) }
    }

    public var code: Code
    /// A human message saying what happened and what to do about it.
    public var message: String
    /// librdkafka's `rd_kafka_resp_err_t` value, when the failure came from librdkafka.
    public var underlyingCode: Int32?
    /// librdkafka's symbolic name for `underlyingCode` (e.g. `_MSG_TIMED_OUT`).
    public var underlyingName: String?
    /// librdkafka's text for `underlyingCode` (from `rd_kafka_err2str` or an `errstr` buffer).
    public var underlyingDescription: String?
    /// Trying the same operation again may succeed.
    public var isRetriable: Bool
    /// The client instance is unusable after this error; it must be closed and recreated.
    public var isFatal: Bool

    public init(
        code: Code,
        message: String,
        underlyingCode: Int32? = nil,
        underlyingName: String? = nil,
        underlyingDescription: String? = nil,
        isRetriable: Bool = false,
        isFatal: Bool = false
    ) {
        self.code = code
        self.message = message
        self.underlyingCode = underlyingCode
        self.underlyingName = underlyingName
        self.underlyingDescription = underlyingDescription
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    public var description: String {
        var text = "KafkaError.\(code): \(message)"
        if let underlyingName {
            text += " [librdkafka \(underlyingName)"
            if let underlyingDescription { text += ": \(underlyingDescription)" }
            text += "]"
        } else if let underlyingDescription {
            text += " [librdkafka: \(underlyingDescription)]"
        }
        return text
    }
}

extension KafkaError {
    /// An error from a plain `rd_kafka_resp_err_t`; retriable/fatal come from the code's classification.
    static func rdKafka(_ code: Code, _ error: rd_kafka_resp_err_t, message: String) -> KafkaError {
        let classification = KafkaErrorClassification(error)
        return KafkaError(
            code: error == RD_KAFKA_RESP_ERR__FATAL ? .fatal : code,
            message: message,
            underlyingCode: error.rawValue,
            underlyingName: String(cString: rd_kafka_err2name(error)),
            underlyingDescription: String(cString: rd_kafka_err2str(error)),
            isRetriable: classification.isRetriable,
            isFatal: classification.isFatal
        )
    }

    /// An error from an `rd_kafka_error_t`, which carries librdkafka's own retriable/fatal flags.
    /// Destroys `error`.
    static func rdKafka(_ code: Code, consuming error: OpaquePointer, message: String) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        let errorCode = rd_kafka_error_code(error)
        let isFatal = rd_kafka_error_is_fatal(error) != 0
        return KafkaError(
            code: isFatal ? .fatal : code,
            message: message,
            underlyingCode: errorCode.rawValue,
            underlyingName: String(cString: rd_kafka_error_name(error)),
            underlyingDescription: String(cString: rd_kafka_error_string(error)),
            isRetriable: rd_kafka_error_is_retriable(error) != 0,
            isFatal: isFatal
        )
    }

    static func shutdown(_ what: String) -> KafkaError {
        KafkaError(code: .shutdown, message: "\(what): the Kafka client has been shut down; create a new one.")
    }
}
