#!/usr/bin/python3
"""An independent Kafka client for tests (python3-kafka, a pure Python
implementation of the protocol, sharing no code with librdkafka).

  kafka_peer.py produce BOOTSTRAP TOPIC      stdin: one JSON line per message,
                                             {"key": ..., "value": <str>,
                                              "timestamp_ms": <int, optional>}
  kafka_peer.py consume BOOTSTRAP TOPIC N [TIMEOUT_S] [SCHEMA]
                                             reads from the beginning until N
                                             messages (or the timeout); prints one
                                             JSON line each: key, value, headers;
                                             with SCHEMA, exits 3 when a value
                                             does not validate against it.
"""
import json
import sys
import time

import kafka


def produce(bootstrap, topic):
    p = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    n = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        m = json.loads(line)
        key = m.get("key")
        p.send(topic, key=key.encode() if key is not None else None, value=m["value"].encode(),
               timestamp_ms=m.get("timestamp_ms"))
        n += 1
    p.flush(timeout=60)
    p.close()
    print(n)


def consume(bootstrap, topic, want, timeout_s, schema_path):
    validator = None
    if schema_path:
        from jsonschema import Draft202012Validator
        validator = Draft202012Validator(json.load(open(schema_path)))
    c = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                            enable_auto_commit=False, consumer_timeout_ms=1000)
    got = 0
    bad = 0
    deadline = time.time() + timeout_s
    while got < want and time.time() < deadline:
        for msg in c:
            value = msg.value.decode("utf-8", "replace")
            if validator is not None:
                errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                          for e in validator.iter_errors(json.loads(value))]
                if errors:
                    bad += 1
                    print(f"SCHEMA: {errors} in {value}", file=sys.stderr)
            print(json.dumps({"key": msg.key.decode() if msg.key else None, "value": value,
                              "headers": {k: v.decode() for k, v in (msg.headers or [])},
                              "partition": msg.partition, "offset": msg.offset}))
            got += 1
            if got >= want or time.time() >= deadline:
                break
    c.close()
    sys.exit(3 if bad else 0)


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        produce(sys.argv[2], sys.argv[3])
    else:
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]),
                float(sys.argv[5]) if len(sys.argv) > 5 else 60,
                sys.argv[6] if len(sys.argv) > 6 else None)
