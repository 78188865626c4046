#!/usr/bin/env python3
"""Cuts Kubernetes' OpenAPI v3 documents down to what `synctool cron --format kubernetes`
writes: batch/v1 CronJob, core/v1 ConfigMap and PersistentVolumeClaim, and every schema they
refer to, without the descriptions. The output is data (facts of the Kubernetes API), read by
k8s_validate.py.

    trim_openapi.py api__v1_openapi.json apis__batch__v1_openapi.json > openapi-v1.32.json

The inputs are kubernetes/kubernetes api/openapi-spec/v3/ of the release named in the output's
"source" (the same documents an API server of that release serves at /openapi/v3).
"""
import json
import sys

ROOTS = [
    "io.k8s.api.batch.v1.CronJob",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.PersistentVolumeClaim",
]


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out.add(ref[len("#/components/schemas/"):])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: trim_openapi.py OPENAPI_V3_JSON... (core v1 and batch v1) > out.json")
    schemas = {}
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            schemas.update(json.load(f)["components"]["schemas"])
    keep, todo = {}, list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = strip(schemas[name])
        found = set()
        refs(keep[name], found)
        todo.extend(sorted(found - keep.keys()))
    json.dump({"source": "Kubernetes v1.32 api/openapi-spec/v3: api__v1 and apis__batch__v1 (as kubernetes-sigs/kubectl-validate ships them for 1.32), only the schemas the three kinds reach, descriptions removed",
               "components": {"schemas": dict(sorted(keep.items()))}}, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
