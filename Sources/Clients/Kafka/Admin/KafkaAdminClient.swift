import CRdKafka
import Logging

/// Creates, describes and lists topics. Every call waits on the client's own threads.
public final class KafkaAdminClient: Sendable {
    public let configuration: KafkaAdminConfiguration
    private let client: RDKafkaClient
    private let logger: Logger

    /// Throws `KafkaError` `.configuration` for a bad property, `.libraryVersion` when librdkafka is older than 2.2.
    public init(configuration: KafkaAdminConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.client = try RDKafkaClient.make(kind: .producer, properties: try configuration.properties(), context: RDKafkaContext(logger: logger))
        self.client.startPollLoop(interval: .milliseconds(100))
    }

    /// Stops the client's threads. Later calls throw `.shutdown`.
    public func shutdown() async {
        await client.close()
    }

    // MARK: Create

    /// Creates `topics`. Throws the first failure; code `.topicAlreadyExists` when a topic exists.
    public func createTopics(_ topics: [KafkaTopicSpecification]) async throws {
        guard !topics.isEmpty else { return }
        let timeout = configuration.requestTimeout
        let results: [(name: String, error: rd_kafka_resp_err_t, message: String?)] = try await runAdmin(RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout: timeout) { handle, options, queue in
            var newTopics: [OpaquePointer?] = []
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            for topic in topics {
                var errorBuffer = [CChar](repeating: 0, count: 512)
                guard let newTopic = rd_kafka_NewTopic_new(topic.name, topic.partitions, topic.replicationFactor, &errorBuffer, errorBuffer.count) else {
                    throw KafkaError(code: .admin, message: "invalid topic specification \(topic.name).", underlyingDescription: Self.text(errorBuffer))
                }
                newTopics.append(newTopic)
                for (key, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                    let error = rd_kafka_NewTopic_set_config(newTopic, key, value)
                    guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError.rdKafka(.admin, error, message: "invalid config \(key)=\(value) for topic \(topic.name).")
                    }
                }
            }
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
            }
        } result: { event in
            let result = rd_kafka_event_CreateTopics_result(event)
            var count = 0
            guard let topicResults = rd_kafka_CreateTopics_result_topics(result, &count) else { return [] }
            return (0..<count).map { index in
                let topic = topicResults[index]
                return (String(cString: rd_kafka_topic_result_name(topic)), rd_kafka_topic_result_error(topic), rd_kafka_topic_result_error_string(topic).map { String(cString: $0) })
            }
        }
        for result in results where result.error != RD_KAFKA_RESP_ERR_NO_ERROR {
            var error = KafkaError.rdKafka(
                result.error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? .topicAlreadyExists : .admin,
                result.error,
                message: "creating topic \(result.name) failed."
            )
            if let message = result.message { error.underlyingDescription = message }
            throw error
        }
        logger.info("Kafka topics created", metadata: [KafkaLoggingKeys.topic: "\(topics.map(\.name))"])
    }

    /// Creates `topic` unless it exists. Returns true when it was created. An existing topic is left
    /// as it is; a warning is logged when its partition count differs from the specification.
    @discardableResult
    public func ensureTopic(_ topic: KafkaTopicSpecification) async throws -> Bool {
        do {
            try await createTopics([topic])
            return true
        } catch let error as KafkaError where error.code == .topicAlreadyExists {
            if let existing = try? await describeTopics([topic.name]).first, existing.partitionCount != Int(topic.partitions) {
                logger.warning(
                    "Kafka topic exists with \(existing.partitionCount) partitions, not the \(topic.partitions) configured; leaving it as it is.",
                    metadata: [KafkaLoggingKeys.topic: "\(topic.name)"]
                )
            }
            return false
        }
    }

    // MARK: Describe and list

    /// The names of all topics (internal ones, starting with `__`, included).
    public func listTopics() async throws -> [String] {
        try await metadata().map(\.name).sorted()
    }

    /// Partitions and configs of `names`. Throws `.admin` (`UNKNOWN_TOPIC_OR_PART`) for a missing topic.
    public func describeTopics(_ names: [String]) async throws -> [KafkaTopicDescription] {
        let all = try await metadata()
        var descriptions: [KafkaTopicDescription] = []
        for name in names {
            guard let topic = all.first(where: { $0.name == name }) else {
                throw KafkaError.rdKafka(.admin, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, message: "topic \(name) does not exist.")
            }
            descriptions.append(KafkaTopicDescription(name: name, partitions: topic.partitions, configs: [:]))
        }
        let configs = try await topicConfigs(names)
        for index in descriptions.indices {
            descriptions[index].configs = configs[descriptions[index].name] ?? [:]
        }
        return descriptions
    }

    // MARK: Private

    private func metadata() async throws -> [(name: String, partitions: [Int32])] {
        let milliseconds = configuration.requestTimeout.milliseconds
        let result: Result<[(name: String, partitions: [Int32])], KafkaError> = try await client.runBlocking { handle in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let error = rd_kafka_metadata(handle, 1, nil, &metadata, milliseconds)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                return .failure(KafkaError.rdKafka(.admin, error, message: "reading cluster metadata failed; is the broker reachable?"))
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            var topics: [(String, [Int32])] = []
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                let partitions = (0..<Int(topic.partition_cnt)).map { topic.partitions[$0].id }.sorted()
                topics.append((String(cString: topic.topic), partitions))
            }
            return .success(topics)
        }
        return try result.get()
    }

    private func topicConfigs(_ names: [String]) async throws -> [String: [String: String]] {
        guard !names.isEmpty else { return [:] }
        let results: [(name: String, error: rd_kafka_resp_err_t, configs: [String: String])] = try await runAdmin(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout: configuration.requestTimeout) { handle, options, queue in
            var resources: [OpaquePointer?] = names.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
            defer { for resource in resources { rd_kafka_ConfigResource_destroy(resource) } }
            resources.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_DescribeConfigs(handle, buffer.baseAddress, buffer.count, options, queue)
            }
        } result: { event in
            let result = rd_kafka_event_DescribeConfigs_result(event)
            var count = 0
            guard let resources = rd_kafka_DescribeConfigs_result_resources(result, &count) else { return [] }
            return (0..<count).map { index in
                let resource = resources[index]
                var entryCount = 0
                var configs: [String: String] = [:]
                if let entries = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                    for entryIndex in 0..<entryCount {
                        let entry = entries[entryIndex]
                        guard let name = rd_kafka_ConfigEntry_name(entry) else { continue }
                        configs[String(cString: name)] = rd_kafka_ConfigEntry_value(entry).map { String(cString: $0) } ?? ""
                    }
                }
                return (String(cString: rd_kafka_ConfigResource_name(resource)), rd_kafka_ConfigResource_error(resource), configs)
            }
        }
        var configs: [String: [String: String]] = [:]
        for result in results {
            guard result.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError.rdKafka(.admin, result.error, message: "describing the configs of topic \(result.name) failed.")
            }
            configs[result.name] = result.configs
        }
        return configs
    }

    /// How many members consumer group `group` has now, as its coordinator reports them (0 for an
    /// empty or unknown group). `sluice offsets reset` refuses to move a group's offsets while it has any.
    public func memberCount(ofGroup group: String, timeout: Duration = .seconds(10)) async throws -> Int {
        try await members(ofGroup: group, timeout: timeout).count
    }

    /// The members of consumer group `group` now, as its coordinator reports them (DescribeGroups sent to
    /// the group's coordinator through DescribeConsumerGroups; empty for an empty or unknown group).
    ///
    /// Not `rd_kafka_list_groups`: that asks ListGroups first, and a broker may leave groups out of it
    /// (the local Tansu lists only groups that committed offsets).
    public func members(ofGroup group: String, timeout: Duration = .seconds(10)) async throws -> [KafkaGroupMember] {
        let outcome: Result<[KafkaGroupMember], KafkaError> = try await runAdmin(RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout: timeout) { handle, options, queue in
            group.withCString { name in
                var names: [UnsafePointer<CChar>?] = [name]
                names.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_DescribeConsumerGroups(handle, buffer.baseAddress, 1, options, queue)
                }
            }
        } result: { event in
            var count = 0
            guard let result = rd_kafka_event_DescribeConsumerGroups_result(event),
                  let groups = rd_kafka_DescribeConsumerGroups_result_groups(result, &count) else {
                return .failure(KafkaError(code: .admin, message: "describing consumer group \(group) returned no result."))
            }
            var members: [KafkaGroupMember] = []
            for index in 0..<count {
                guard let description = groups[index] else { continue }
                if let error = rd_kafka_ConsumerGroupDescription_error(description) {
                    var kafkaError = KafkaError.rdKafka(.admin, rd_kafka_error_code(error), message: "describing consumer group \(group) failed.")
                    kafkaError.underlyingDescription = rd_kafka_error_string(error).map { String(cString: $0) }
                    return .failure(kafkaError)
                }
                for m in 0..<rd_kafka_ConsumerGroupDescription_member_count(description) {
                    guard let member = rd_kafka_ConsumerGroupDescription_member(description, m) else { continue }
                    members.append(KafkaGroupMember(
                        memberID: rd_kafka_MemberDescription_consumer_id(member).map { String(cString: $0) } ?? "",
                        clientID: rd_kafka_MemberDescription_client_id(member).map { String(cString: $0) } ?? "",
                        host: rd_kafka_MemberDescription_host(member).map { String(cString: $0) } ?? "",
                        groupInstanceID: rd_kafka_MemberDescription_group_instance_id(member).map { String(cString: $0) }))
                }
            }
            return .success(members)
        }
        return try outcome.get()
    }

    /// Runs one admin request on the client's threads: `start` issues it on a temporary queue, the
    /// result event is read with `result`. Overall request errors are thrown.
    private func runAdmin<T: Sendable>(
        _ operation: rd_kafka_admin_op_t,
        timeout: Duration,
        start: @escaping @Sendable (OpaquePointer, OpaquePointer, OpaquePointer) throws -> Void,
        result: @escaping @Sendable (OpaquePointer) -> T
    ) async throws -> T {
        let milliseconds = timeout.milliseconds
        let outcome: Result<T, KafkaError> = try await client.runBlocking { handle in
            guard let options = rd_kafka_AdminOptions_new(handle, operation) else {
                return .failure(KafkaError(code: .admin, message: "librdkafka refused the admin options."))
            }
            defer { rd_kafka_AdminOptions_destroy(options) }
            var errorBuffer = [CChar](repeating: 0, count: 512)
            _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errorBuffer, errorBuffer.count)
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errorBuffer, errorBuffer.count)
            let queue = rd_kafka_queue_new(handle)!
            defer { rd_kafka_queue_destroy(queue) }
            do {
                try start(handle, options, queue)
            } catch let error as KafkaError {
                return .failure(error)
            } catch {
                return .failure(KafkaError(code: .admin, message: "\(error)"))
            }
            // The admin API times out the request itself; wait a little longer than that.
            guard let event = rd_kafka_queue_poll(queue, milliseconds &+ 5000) else {
                return .failure(KafkaError(code: .timeout, message: "the admin request got no answer within \(timeout); is the broker reachable?", isRetriable: true))
            }
            defer { rd_kafka_event_destroy(event) }
            let error = rd_kafka_event_error(event)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                var kafkaError = KafkaError.rdKafka(.admin, error, message: "the admin request failed.")
                kafkaError.underlyingDescription = rd_kafka_event_error_string(event).map { String(cString: $0) }
                return .failure(kafkaError)
            }
            return .success(result(event))
        }
        return try outcome.get()
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
