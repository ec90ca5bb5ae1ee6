import CRdKafka

/// Conversions between Swift partition collections and `rd_kafka_topic_partition_list_t`.
enum RDKafkaTopicPartitionList {
    /// A new list (the caller destroys it with `rd_kafka_topic_partition_list_destroy`). Partitions
    /// without an entry in `offsets` get `RD_KAFKA_OFFSET_INVALID` ("use the committed offset").
    static func make(_ partitions: [TopicPartition], offsets: [TopicPartition: Int64] = [:]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(clamping: partitions.count))!
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            element.pointee.offset = offsets[partition] ?? Int64(RD_KAFKA_OFFSET_INVALID)
        }
        return list
    }

    static func make(offsets: [TopicPartition: Int64]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        make(offsets.keys.sorted(), offsets: offsets)
    }

    /// Every element of `list` with its offset and per-partition error.
    static func elements(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [(partition: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        guard let list, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elements[index]
            return (TopicPartition(topic: String(cString: element.topic), partition: element.partition), element.offset, element.err)
        }
    }

    static func partitions(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [TopicPartition] {
        elements(list).map(\.partition)
    }
}
