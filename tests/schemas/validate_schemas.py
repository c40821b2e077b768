#!/usr/bin/python3
"""Every schema in schemas/ is a valid JSON Schema 2020-12 document, its own
`examples` validate against it, and the wire fixtures named below do too.
Documents the decoders reject must fail their schema (`invalid` below)."""
import datetime
import json
import pathlib
import re
import sys

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError


def ecma_pattern(validator, pattern, instance, schema):
    """`pattern` with ECMA 262 semantics: Python's `$` also matches before a
    final newline, so "r1\n" would pass ^[A-Za-z0-9_.:-]+$ (jsonschema uses re.search)."""
    if not validator.is_type(instance, "string"):
        return
    if re.search(re.sub(r"(?<!\\)\$$", r"\\Z", pattern), instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Debian 12's python3-jsonschema (4.10) checks "date-time" only when the
# rfc3339-validator module is importable, and Debian 12 does not package it:
# the schemas pin the syntax with `pattern`, and this checks the calendar
# (no 2024-02-30), as the decoders do.
format_checker = FormatChecker()


@format_checker.checks("date-time", raises=ValueError)
def is_date_time(instance):
    if not isinstance(instance, str):
        return True
    m = re.match(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]", instance)
    if m is None:
        return False
    year = int(m[1]) or 2000  # RFC 3339 allows year 0000, a leap year like 2000; Python does not
    datetime.date(year, int(m[2]), int(m[3]))  # ValueError when the day does not exist
    return True


Validator = validators.extend(Draft202012Validator, {"pattern": ecma_pattern})


def intent(**fields):
    doc = {"intent_id": "id-1", "action": "x", "target": {"device": "r1"}}
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not DELETE}


DELETE = object()

# Documents the decoders reject: each must fail its schema. Keep in step with
# the rejection table of tests/connectors/kafka/intent_decoder_test.cpp.
invalid = {
    "intent.schema.json": {
        "unknown top-level field": intent(dryrun=True),
        "hostile unknown field": intent(**{"dry run\n": True}),
        "missing intent_id": intent(intent_id=DELETE),
        "missing action": intent(action=DELETE),
        "missing target": intent(target=DELETE),
        "missing target.device": intent(target={}),
        "unknown target field": intent(target={"device": "r1", "port": 1}),
        "non-string intent_id": intent(intent_id=42),
        "empty intent_id": intent(intent_id=""),
        "intent_id with leading dash": intent(intent_id="-1"),
        "intent_id of 129 characters": intent(intent_id="a" * 129),
        "intent_id with a space": intent(intent_id="bad id"),
        "non-string action": intent(action=7),
        "empty action": intent(action=""),
        "action with a space": intent(action="show run"),
        "target not an object": intent(target="r1"),
        "device not a string": intent(target={"device": ["r1"]}),
        "device null": intent(target={"device": None}),
        "device with a trailing newline": intent(target={"device": "r1\n"}),
        "device with a semicolon": intent(target={"device": "r1;reboot"}),
        "device of 254 characters": intent(target={"device": "d" * 254}),
        "params not an object": intent(params=[]),
        "params value of object type": intent(params={"port": {"name": "Et1"}}),
        "params value of array type": intent(params={"port": [1]}),
        "params value null": intent(params={"port": None}),
        "params value float": intent(params={"ratio": 1.5}),
        "params value above int64": intent(params={"n": 9223372036854775808}),
        "params value below int64": intent(params={"n": -9223372036854775809}),
        "params string of 1025 characters": intent(params={"s": "x" * 1025}),
        "33 params": intent(params={f"p{i}": i for i in range(33)}),
        "param name starting with a digit": intent(params={"1port": 1}),
        "param name with a dot": intent(params={"a.b": 1}),
        "param name of 65 characters": intent(params={"p" * 65: 1}),
        "dry_run as string": intent(dry_run="false"),
        "dry_run as number": intent(dry_run=0),
        "requested_by not a string": intent(requested_by=1),
        "requested_by of 257 characters": intent(requested_by="x" * 257),
        "environment of 65 characters": intent(environment="\u00e9" * 65),
        "correlation_id of 129 characters": intent(correlation_id="x" * 129),
        "deadline as number": intent(deadline=1717245000),
        "bad deadline format": intent(deadline="tomorrow"),
        "deadline without offset": intent(deadline="2024-06-01T12:30:00"),
        "deadline with a space": intent(deadline="2024-06-01 12:30:00Z"),
        "deadline on February 30": intent(deadline="2024-02-30T00:00:00Z"),
        "deadline with a leap second": intent(deadline="2016-12-31T23:59:60Z"),
        "deadline with a trailing newline": intent(deadline="2024-06-01T12:30:00Z\n"),
        "not an object": [intent()],
    },
    "intent-result.schema.json": {
        "missing status": {"intent_id": "a", "finished_at": "2024-06-01T12:00:00Z"},
        "unknown status": {"intent_id": "a", "status": "ok", "finished_at": "2024-06-01T12:00:00Z"},
        "rejected without error": {
            "intent_id": "a", "status": "rejected", "finished_at": "2024-06-01T12:00:00Z"},
        "succeeded with error": {
            "intent_id": "a", "status": "succeeded", "finished_at": "2024-06-01T12:00:00Z",
            "error": {"code": "timeout", "message": "x"}},
        "rejected with commands": {
            "intent_id": "a", "status": "rejected", "finished_at": "2024-06-01T12:00:00Z",
            "error": {"code": "unknown_action", "message": "x"}, "commands": [{"command": "x"}]},
        "local time": {"intent_id": "a", "status": "succeeded", "finished_at": "2024-06-01T12:00:00+02:00"},
        "unknown field": {
            "intent_id": "a", "status": "succeeded", "finished_at": "2024-06-01T12:00:00Z", "x": 1},
        "final without finished_at": {"intent_id": "a", "status": "succeeded"},
        "accepted with finished_at": {
            "intent_id": "a", "status": "accepted", "finished_at": "2024-06-01T12:00:00Z"},
        "interrupted without error": {
            "intent_id": "a", "status": "interrupted", "finished_at": "2024-06-01T12:00:00Z"},
        "expired with commands": {
            "intent_id": "a", "status": "expired", "finished_at": "2024-06-01T12:00:00Z",
            "error": {"code": "deadline_exceeded", "message": "x"}, "commands": [{"command": "x"}]},
        "pending_approval without approval": {"intent_id": "a", "status": "pending_approval"},
        "approval on a final result": {
            "intent_id": "a", "status": "succeeded", "finished_at": "2024-06-01T12:00:00Z",
            "approval": {"id": "apr-0123456789abcdef", "expires_at": "2024-06-01T12:15:00Z"}},
        "malformed approval id": {
            "intent_id": "a", "status": "pending_approval",
            "approval": {"id": "apr-1", "expires_at": "2024-06-01T12:15:00Z"}},
    },
    "approval-decision.schema.json": {
        "missing approver": {"approval_id": "apr-0123456789abcdef", "decision": "approve"},
        "empty approver": {"approval_id": "apr-0123456789abcdef", "decision": "approve",
                           "approver": ""},
        "unknown decision": {"approval_id": "apr-0123456789abcdef", "decision": "maybe",
                             "approver": "a"},
        "unknown field": {"approval_id": "apr-0123456789abcdef", "decision": "deny",
                          "approver": "a", "x": 1},
        "bad id": {"approval_id": "1", "decision": "deny", "approver": "a"},
    },
    "escalation.schema.json": {
        "breaker without breaker": {"kind": "breaker_open", "time": "2024-06-01T12:00:00Z"},
        "approval kind without approval": {"kind": "approval_pending",
                                           "time": "2024-06-01T12:00:00Z"},
        "unknown kind": {"kind": "x", "time": "2024-06-01T12:00:00Z"},
    },
    "incident.schema.json": {
        "no members": {"kind": "incident", "id": "inc-0123456789abcdef",
                       "time": "2024-06-01T12:00:00Z", "rule": "r", "rule_kind": "all_of",
                       "group_key": "", "group": {}, "dry_run": False, "members": []},
        "numeric label": {"kind": "incident", "id": "inc-0123456789abcdef",
                          "time": "2024-06-01T12:00:00Z", "rule": "r", "rule_kind": "match",
                          "group_key": "", "group": {}, "dry_run": False,
                          "members": [{"fingerprint": "0123456789abcdef", "status": "firing",
                                       "starts_at": "2024-06-01T12:00:00Z",
                                       "labels": {"a": 1}}]},
    },
}

root = pathlib.Path(sys.argv[1])
fixtures = {
    "alertmanager-v2-alerts.schema.json": ["tests/data/alertmanager/v2_prometheus.json"],
    "alertmanager-webhook.schema.json": [
        "tests/data/alertmanager/webhook_alertmanager_doc.json",
        "tests/data/alertmanager/webhook_grafana.json",
    ],
}
failures = 0
schemas = sorted((root / "schemas").glob("*.schema.json"))
assert schemas, "no schemas found"
for path in schemas:
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Validator(schema, format_checker=format_checker)
    documents = [(f"{path.name} examples[{i}]", ex) for i, ex in enumerate(schema.get("examples", []))]
    documents += [(f, json.loads((root / f).read_text())) for f in fixtures.get(path.name, [])]
    if not documents:
        print(f"{path.name}: no examples and no fixtures")
        failures += 1
    for name, doc in documents:
        for err in validator.iter_errors(doc):
            print(f"{name}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
            failures += 1
    # A document the decoder rejects must fail the schema too.
    if "v2" in path.name and not list(validator.iter_errors([{"labels": {"a": 1}}])):
        print(f"{path.name}: accepts a non-string label value")
        failures += 1
    for name, doc in invalid.get(path.name, {}).items():
        if validator.is_valid(doc):
            print(f"{path.name}: accepts an invalid document ({name}): {json.dumps(doc)[:200]}")
            failures += 1
print(f"{len(schemas)} schemas checked, {failures} failures")
sys.exit(1 if failures else 0)
