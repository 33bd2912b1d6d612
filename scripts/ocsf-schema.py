"""Derive a JSON Schema for OCSF 1.3.0 Vulnerability Finding (class 2002) from the
ocsf-schema repository at tag v1.3.0: allowed attribute names (additionalProperties
false), required attributes, and the enums flinkscan relies on. Nested objects are
checked the same way. Types of leaf attributes are not enforced."""
import json, subprocess, sys
# usage: python3 scripts/ocsf-schema.py OCSF_SCHEMA_GIT_DIR > tests/schemas/ocsf-1.3.0-vulnerability-finding.json
REPO, TAG = sys.argv[1], "v1.3.0"
def load(path):
    return json.loads(subprocess.check_output(["git", "-C", REPO, "show", f"{TAG}:{path}"]))
dictionary = load("dictionary.json")["attributes"]
def attrs_of(d, kind):
    out = {}
    ext = d.get("extends")
    if ext and ext not in ("object",) and kind == "objects":
        out.update(attrs_of(load(f"objects/{ext}.json"), kind))
    if ext == "object":
        pass
    if ext and kind == "events":
        base = {"base_event": "events/base_event.json", "finding": "events/findings/finding.json"}[ext]
        out.update(attrs_of(load(base), kind))
    for k, v in d.get("attributes", {}).items():
        if k == "$include":
            for inc in (v if isinstance(v, list) else [v]):
                if inc.startswith("profiles/"):
                    out.update(profile_attrs(load(inc)))
                else:
                    out.update(attrs_of(load(inc), kind))
            continue
        merged = {**out.get(k, {}), **v}
        # A class refines an inherited enum by adding values: keep both.
        if "enum" in out.get(k, {}) and "enum" in v:
            merged["enum"] = {**out[k]["enum"], **v["enum"]}
        out[k] = merged
    for prof in d.get("profiles", []) or []:
        out.update(profile_attrs(load(f"profiles/{prof}.json")))
    return out
def profile_attrs(d):
    """Attributes a profile adds: allowed, never required (profiles are opt-in)."""
    out = {}
    for k, v in d.get("attributes", {}).items():
        if k == "$include":
            for inc in (v if isinstance(v, list) else [v]):
                out.update(profile_attrs(load(inc)))
            continue
        out[k] = {kk: vv for kk, vv in v.items() if kk != "requirement"}
    return out
def object_type(name):
    t = dictionary.get(name, {}).get("type", "")
    return t[:-2] if t.endswith("_t") else t
NESTED = {"metadata": "metadata", "product": "product", "finding_info": "finding_info",
          "analytic": "analytic", "vulnerabilities": "vulnerability", "cve": "cve", "cwe": "cwe",
          "remediation": "remediation", "resources": "resource_details"}
def schema_for(attrs, top=False):
    props, req = {}, []
    for k, v in attrs.items():
        if v.get("requirement") == "required":
            req.append(k)
        sub = {}
        if k in NESTED:
            inner = schema_for(attrs_of(load(f"objects/{NESTED[k]}.json"), "objects"))
            sub = {"type": "array", "items": inner} if dictionary.get(k, {}).get("is_array") else inner
        if "enum" in v or "enum" in dictionary.get(k, {}):
            enum = v.get("enum") or dictionary[k]["enum"]
            sub["enum"] = [int(x) for x in enum]
        props[k] = sub
    return {"type": "object", "properties": props, "required": sorted(req), "additionalProperties": False}
vf = load("events/findings/vulnerability_finding.json")
s = schema_for(attrs_of(vf, "events"), top=True)
# vulnerability.json's constraint: at least one of cve, cwe.
s["properties"]["vulnerabilities"]["items"]["anyOf"] = [{"required": ["cve"]}, {"required": ["cwe"]}]
s["properties"]["class_uid"] = {"const": 2002}
s["properties"]["category_uid"] = {"const": 2}
s["properties"]["type_uid"] = {"enum": [200200, 200201, 200202, 200203, 200299]}
s = {"$schema": "http://json-schema.org/draft-07/schema#",
     "title": "OCSF 1.3.0 Vulnerability Finding (class 2002), derived from ocsf/ocsf-schema v1.3.0",
     **s}
print(json.dumps(s, indent=1, sort_keys=True))
