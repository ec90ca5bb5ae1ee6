#ifndef SLUICE_CRDKAFKA_SHIM_H
#define SLUICE_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>

/// `rd_kafka_producev` is variadic and Swift does not import variadic C functions; this fixed-arity
/// wrapper is what the Swift producer calls. Copies key and value (RD_KAFKA_MSG_F_COPY).
/// `partition` is RD_KAFKA_PARTITION_UA (-1) to let the partitioner choose. `headers` may be NULL;
/// on success librdkafka owns it, on failure the caller still does. `value` NULL = tombstone.
static inline rd_kafka_resp_err_t sluice_rd_kafka_produce(
    rd_kafka_t *rk,
    const char *topic,
    int32_t partition,
    const void *key, size_t key_len,
    const void *value, size_t value_len,
    rd_kafka_headers_t *headers,
    void *msg_opaque)
{
    if (headers != NULL) {
        return rd_kafka_producev(rk,
            RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_OPAQUE(msg_opaque),
            RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk,
        RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, value_len),
        RD_KAFKA_V_OPAQUE(msg_opaque),
        RD_KAFKA_V_END);
}

/// `rd_kafka_error_new` is variadic (printf-style); this takes a plain message.
static inline rd_kafka_error_t *sluice_rd_kafka_error_new(rd_kafka_resp_err_t code, const char *message) {
    return rd_kafka_error_new(code, "%s", message);
}

#endif
