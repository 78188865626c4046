#!/usr/bin/env python3
"""Validates Kubernetes manifests offline, as `kubectl apply --dry-run=server --validate=strict`
would, without a cluster:

1. the schema: each document against its kind's OpenAPI v3 schema from Kubernetes
   (openapi-v1.32.json beside this file), strictly: a field the schema does not name is an
   error (kubectl's --validate=strict), as is a wrong type or a missing required field;
2. the API server's own checks that a schema cannot express (Kubernetes' validation of names,
   labels, CronJob, Job and Pod specs, quantities, ConfigMap keys), those that apply to what
   synctool writes;
3. references inside the file: a claim or ConfigMap (and its keys) that a CronJob mounts is in
   the same file.

    k8s_validate.py [--schema FILE] MANIFEST.yaml...

Prints "N objects valid" and exits 0, or one line per problem and exits 1. Needs python3 with
PyYAML and jsonschema (Debian: python3-yaml python3-jsonschema; scripts/setup installs them).
"""
import argparse
import json
import os
import re
import sys

import jsonschema
import yaml

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
QUANTITY = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$")
CRON_FIELD = re.compile(r"^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?)*$")
CRON_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


class UniqueKeyLoader(yaml.SafeLoader):
    """Refuses a mapping that names a key twice (kubectl's strict decoding does)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def strict(node):
    """OpenAPI object schemas with named properties, closed: unknown fields are errors."""
    if isinstance(node, dict):
        out = {k: strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out and \
                not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def path_text(path):
    return ".".join(str(p) if not isinstance(p, int) else "[%d]" % p for p in path).replace(".[", "[") or "(top)"


def cron_problem(schedule):
    fields = schedule.split()
    if len(fields) != 5:
        return "schedule %r: a cron expression has 5 fields, this one has %d" % (schedule, len(fields))
    for text, (low, high) in zip(fields, CRON_BOUNDS):
        if not CRON_FIELD.match(text):
            return "schedule %r: field %r is not cron syntax" % (schedule, text)
        for item in text.split(","):
            rng = item.split("/")[0]
            if rng == "*":
                continue
            for value in rng.split("-"):
                if not low <= int(value) <= high:
                    return "schedule %r: %s is outside %d-%d" % (schedule, value, low, high)
    return None


class Checker:
    def __init__(self, schema_file):
        with open(schema_file, encoding="utf-8") as f:
            doc = json.load(f)
        self.components = strict(doc["components"])
        self.kinds = {}
        for name, schema in doc["components"]["schemas"].items():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                api = gvk["version"] if not gvk["group"] else gvk["group"] + "/" + gvk["version"]
                self.kinds[(api, gvk["kind"])] = name
        self.problems = []

    def report(self, where, message):
        self.problems.append("%s: %s" % (where, message))

    def schema_check(self, where, obj):
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key not in self.kinds:
            self.report(where, "unknown apiVersion/kind %s/%s" % key)
            return False
        root = {"components": self.components, "allOf": [{"$ref": "#/components/schemas/" + self.kinds[key]}]}
        validator = jsonschema.Draft7Validator(root)
        ok = True
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            ok = False
            self.report(where, "%s: %s" % (path_text(error.absolute_path), error.message))
        return ok

    def names(self, where, meta, max_length):
        name = meta.get("name", "")
        if not name:
            self.report(where, "metadata.name is missing")
        elif len(name) > max_length or not DNS1123_SUBDOMAIN.match(name):
            self.report(where, "metadata.name %r must be a lowercase DNS-1123 name of at most %d characters"
                        % (name, max_length))
        ns = meta.get("namespace")
        if ns is not None and (len(ns) > 63 or not DNS1123_LABEL.match(ns)):
            self.report(where, "metadata.namespace %r is not a DNS-1123 label" % ns)
        self.labels(where + " metadata.labels", meta.get("labels") or {})

    def labels(self, where, labels):
        for key, value in labels.items():
            prefix, _, name = key.rpartition("/")
            if (prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix))) or len(name) > 63 \
                    or not LABEL_NAME.match(name):
                self.report(where, "label key %r is not valid" % key)
            if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
                self.report(where, "label %r: value %r is not valid (63 characters at most, alphanumeric ends)"
                            % (key, value))

    def quantity(self, where, value):
        if not QUANTITY.match(str(value)):
            self.report(where, "%r is not a quantity" % (value,))

    def pod(self, where, spec, objects):
        if spec.get("restartPolicy") not in ("OnFailure", "Never"):
            self.report(where, "restartPolicy must be OnFailure or Never in a Job, not %r" % spec.get("restartPolicy"))
        volumes = {}
        for volume in spec.get("volumes", []):
            name = volume.get("name", "")
            if not DNS1123_LABEL.match(name) or name in volumes:
                self.report(where, "volume name %r is not a unique DNS-1123 label" % name)
            volumes[name] = volume
        for i, container in enumerate(spec.get("containers", [])):
            cw = "%s containers[%d]" % (where, i)
            if not DNS1123_LABEL.match(container.get("name", "")):
                self.report(cw, "name %r is not a DNS-1123 label" % container.get("name"))
            if not container.get("image"):
                self.report(cw, "image is missing")
            for env in container.get("env", []):
                if not ENV_NAME.match(env.get("name", "")):
                    self.report(cw, "env name %r is not valid" % env.get("name"))
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and not CONFIG_KEY.match(ref.get("key", "")):
                    self.report(cw, "secretKeyRef key %r is not valid" % ref.get("key"))
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for resource, value in resources.get(kind, {}).items():
                    self.quantity("%s resources.%s.%s" % (cw, kind, resource), value)
            mounts = set()
            for mount in container.get("volumeMounts", []):
                if mount.get("name") not in volumes:
                    self.report(cw, "volumeMount %r names no volume of the pod" % mount.get("name"))
                if not str(mount.get("mountPath", "")).startswith("/") or mount.get("mountPath") in mounts:
                    self.report(cw, "mountPath %r must be absolute and used once" % mount.get("mountPath"))
                mounts.add(mount.get("mountPath"))
        for name, volume in volumes.items():
            claim = volume.get("persistentVolumeClaim")
            if claim and ("PersistentVolumeClaim", claim.get("claimName")) not in objects:
                self.report(where, "volume %r: claim %r is not in the file" % (name, claim.get("claimName")))
            config_map = volume.get("configMap")
            if config_map:
                data = objects.get(("ConfigMap", config_map.get("name")))
                if data is None:
                    self.report(where, "volume %r: ConfigMap %r is not in the file" % (name, config_map.get("name")))
                    continue
                paths = set()
                for item in config_map.get("items", []):
                    if item.get("key") not in (data.get("data") or {}):
                        self.report(where, "volume %r: key %r is not in ConfigMap %r"
                                    % (name, item.get("key"), config_map.get("name")))
                    path = item.get("path", "")
                    if path.startswith("/") or ".." in path.split("/") or path in paths:
                        self.report(where, "volume %r: item path %r is not a unique relative path" % (name, path))
                    paths.add(path)

    def cron_job(self, where, obj, objects):
        self.names(where, obj["metadata"], 52)
        spec = obj["spec"]
        problem = cron_problem(spec.get("schedule", ""))
        if problem:
            self.report(where, problem)
        if spec.get("concurrencyPolicy", "Allow") not in ("Allow", "Forbid", "Replace"):
            self.report(where, "concurrencyPolicy %r is not Allow, Forbid or Replace" % spec.get("concurrencyPolicy"))
        for field in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
            if spec.get(field, 0) < 0:
                self.report(where, "%s must not be negative" % field)
        job = spec["jobTemplate"].get("spec", {})
        if job.get("backoffLimit", 0) < 0 or job.get("activeDeadlineSeconds", 1) <= 0:
            self.report(where, "backoffLimit must be >= 0 and activeDeadlineSeconds > 0")
        template = job.get("template", {})
        self.labels(where + " template labels", template.get("metadata", {}).get("labels") or {})
        self.pod(where + " pod", template.get("spec", {}), objects)

    def check(self, files):
        docs = []
        for file in files:
            with open(file, encoding="utf-8") as f:
                try:
                    loaded = list(yaml.load_all(f, Loader=UniqueKeyLoader))
                except yaml.YAMLError as e:
                    self.report(file, "not valid YAML: %s" % str(e).replace("\n", " "))
                    continue
            for i, obj in enumerate(d for d in loaded if d is not None):
                docs.append(("%s document %d" % (os.path.basename(file), i + 1), obj))
        objects = {}
        for where, obj in docs:
            if not isinstance(obj, dict):
                self.report(where, "a document must be a mapping")
                continue
            if not self.schema_check(where, obj):
                continue
            key = (obj["kind"], obj.get("metadata", {}).get("name"))
            if key in objects:
                self.report(where, "%s %r appears twice" % key)
            objects[key] = obj
        for where, obj in docs:
            if not isinstance(obj, dict) or (obj.get("kind"), obj.get("metadata", {}).get("name")) not in objects:
                continue
            kind = obj["kind"]
            if kind == "CronJob":
                self.cron_job(where, obj, objects)
            elif kind == "ConfigMap":
                self.names(where, obj["metadata"], 253)
                data = obj.get("data") or {}
                size = 0
                for key, value in data.items():
                    if not CONFIG_KEY.match(key) or len(key) > 253:
                        self.report(where, "data key %r is not valid" % key)
                    size += len(key) + len(value.encode("utf-8"))
                if size > 1024 * 1024:
                    self.report(where, "data is %d bytes, more than 1 MiB" % size)
            elif kind == "PersistentVolumeClaim":
                self.names(where, obj["metadata"], 253)
                spec = obj.get("spec", {})
                for mode in spec.get("accessModes", []):
                    if mode not in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"):
                        self.report(where, "access mode %r is not known" % mode)
                storage = spec.get("resources", {}).get("requests", {}).get("storage")
                if storage is None:
                    self.report(where, "spec.resources.requests.storage is missing")
                else:
                    self.quantity(where + " storage", storage)
        return len(objects)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi-v1.32.json"))
    parser.add_argument("manifests", nargs="+")
    args = parser.parse_args()
    checker = Checker(args.schema)
    count = checker.check(args.manifests)
    if checker.problems:
        for problem in checker.problems:
            print(problem)
        print("%d problems" % len(checker.problems))
        return 1
    print("%d objects valid" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
