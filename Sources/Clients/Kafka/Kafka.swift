// The Kafka client over librdkafka. (Being written.)
import CRdKafka
