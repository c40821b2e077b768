#!/usr/bin/python3
"""Every schema in schemas/ is a valid JSON Schema 2020-12 document, its own
`examples` validate against it, and the wire fixtures named below do too."""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator

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
    validator = Draft202012Validator(schema)
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
print(f"{len(schemas)} schemas checked, {failures} failures")
sys.exit(1 if failures else 0)
