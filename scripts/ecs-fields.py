"""Extract the field catalog of an ECS release for the JSONL tests.

usage: python3 scripts/ecs-fields.py ecs_flat-v8.17.0.yml > tests/schemas/ecs-8.17.0-fields.json

ecs_flat.yml is Elastic's generated catalog (elastic/ecs, generated/ecs/ecs_flat.yml,
Apache-2.0). Kept: each field's type, whether it is normalized to an array, and the
allowed values of the categorization fields (with the event types each
category expects). Needs PyYAML.
"""
import json, sys
import yaml

flat = yaml.safe_load(open(sys.argv[1]))
out = {}
for name, f in sorted(flat.items()):
    entry = {"type": f.get("type")}
    if "array" in (f.get("normalize") or []):
        entry["array"] = True
    if f.get("allowed_values"):
        entry["allowed"] = sorted(v["name"] for v in f["allowed_values"])
        expected = {v["name"]: sorted(v["expected_event_types"])
                    for v in f["allowed_values"] if v.get("expected_event_types")}
        if expected:
            entry["expected_event_types"] = expected
    out[name] = entry
json.dump(out, sys.stdout, indent=0, sort_keys=True)
print()
