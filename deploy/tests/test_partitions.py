"""topic.creation.default.partitions / .replication.factor: the topics the source creates come up with
the configured partitions (the position topic keeps one), and events are routed by key with the Java
client's partitioner: every key's events sit on one partition, and that partition is
toPositive(murmur2(key)) % partitions, computed here independently of librdkafka."""

from __future__ import annotations

from collections import defaultdict

from source_support import (java_partition, murmur2, payload, source_file, staging_execute, topic_metadata,
                            wait_for_messages)

PARTITIONS = 4


def test_murmur2_matches_kafkas_reference_values():
    # Kafka's own UtilsTest.testMurmur2 values: the independent implementation is the Java client's.
    for data, expected in [(b"21", -973932308), (b"foobar", -790332482), (b"a-little-bit-long-string", -985981536),
                           (b"a-little-bit-longer-string", -1486304829),
                           (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971), (b"abc", 479470107)]:
        assert murmur2(data) == expected, data


def test_topics_have_the_configured_partitions_and_keys_stay_on_one(tmp_path, sluice_runs):
    path, _, prefix = source_file(tmp_path, "parts", **{
        "topic.creation.default.partitions": PARTITIONS, "topic.creation.default.replication.factor": 1,
        "provide.transaction.metadata": True})
    topic = f"{prefix}.CreditStaging.dbo.customers"
    run = sluice_runs([path], tmp_path / "sluice.log")
    run.port()

    snapshot = wait_for_messages(topic, lambda ms: sum(1 for m in ms if (payload(m["value"]) or {}).get("op") == "r") >= 50,
                                 120, "the snapshot of dbo.customers")
    ids = sorted({payload(m["value"])["after"]["customer_id"] for m in snapshot if m["value"]})[:12]
    # Several changes of the same keys, in separate transactions, so each key has many events.
    for round_ in range(3):
        staging_execute([("UPDATE dbo.customers SET phone = %s WHERE customer_id = %s", (f"+41 {round_}{i:04d}", i))
                         for i in ids])
    messages = wait_for_messages(
        topic, lambda ms: sum(1 for m in ms if (payload(m["value"]) or {}).get("op") == "u") >= 3 * len(ids),
        120, "the updates")

    for name, want in [(topic, PARTITIONS), (prefix, PARTITIONS), (f"{prefix}.transaction", PARTITIONS),
                       (f"__sluice-offsets.{prefix}", 1)]:
        metadata = topic_metadata(name)
        assert len(metadata["partitions"]) == want, (name, metadata)
        assert all(len(p["replicas"]) == 1 for p in metadata["partitions"]), metadata

    by_key: dict[bytes, set[int]] = defaultdict(set)
    for m in messages:
        by_key[m["key"]].add(m["partition"])
    assert len(by_key) >= 50
    spread = {m["partition"] for m in messages}
    assert spread == set(range(PARTITIONS)), f"keys should spread over all {PARTITIONS} partitions: {spread}"
    for key, partitions in by_key.items():
        assert partitions == {java_partition(key, PARTITIONS)}, (key, partitions)
    # Per key, events stay in commit order on their partition.
    for key in [k for k in by_key if any(m["key"] == k and (payload(m["value"]) or {}).get("op") == "u" for m in messages)]:
        phones = [payload(m["value"])["after"]["phone"] for m in sorted(messages, key=lambda m: m["offset"])
                  if m["key"] == key and m["value"] and payload(m["value"])["op"] == "u"]
        assert [p.split()[1][0] for p in phones] == ["0", "1", "2"], (key, phones)
    assert run.stop() == 0
