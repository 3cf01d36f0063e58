#!/usr/bin/env python3
"""Writes charts/crm/values.schema.json, the chart's strict values schema.

The schema is generated so that the settings shared by `defaults:` and every `services.<name>:`
entry are declared once, and both places still reject unknown keys with a plain
"additional properties 'x' not allowed" (unevaluatedProperties would do it in JSON Schema alone,
but reports every sibling key as a "false schema" as soon as one nested value is wrong).

  python3 charts/crm/ci/schema_gen.py          # rewrite values.schema.json
  python3 charts/crm/ci/schema_gen.py --check  # exit 1 if the file is not what this writes

Add a new setting here (and in values.yaml), never in the JSON by hand; scripts/chart-check.sh
runs --check. Standard library only.
"""
import json
import pathlib
import sys

SCHEMA_PATH = pathlib.Path(__file__).resolve().parent.parent / "values.schema.json"

def obj(props, required=None, extra=False, desc=None):
    o = {"type": "object", "additionalProperties": extra, "properties": props}
    if required: o["required"] = required
    if desc: o["description"] = desc
    return o

def s(desc=None, **kw):
    o = {"type": "string", **kw}
    if desc: o["description"] = desc
    return o

def i(minimum=None, desc=None, **kw):
    o = {"type": "integer", **kw}
    if minimum is not None: o["minimum"] = minimum
    if desc: o["description"] = desc
    return o

b = {"type": "boolean"}
strmap = {"type": "object", "additionalProperties": {"type": "string"}}
labelmap = {"type": "object", "propertyNames": {"maxLength": 253}, "additionalProperties": {"type": "string", "maxLength": 63}}

quantity = {"anyOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$"}, {"type": "number", "minimum": 0}]}
resources = obj({
    "requests": {"type": "object", "additionalProperties": quantity, "propertyNames": {"enum": ["cpu", "memory", "ephemeral-storage"]}},
    "limits": {"type": "object", "additionalProperties": quantity, "propertyNames": {"enum": ["cpu", "memory", "ephemeral-storage"]}},
}, desc="Container resources (requests/limits of cpu, memory, ephemeral-storage).")

intOrString = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+%?$"}]}
portRef = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 65535}, {"type": "string", "pattern": r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$"}]}

probe = obj({
    "enabled": b,
    "grpc": obj({"port": {"type": "integer", "minimum": 1, "maximum": 65535}, "service": {"type": "string"}}, required=["port"]),
    "exec": obj({"command": {"type": "array", "items": {"type": "string"}, "minItems": 1}}, required=["command"]),
    "tcpSocket": obj({"port": portRef, "host": {"type": "string"}}, required=["port"]),
    "httpGet": obj({"path": {"type": "string"}, "port": portRef, "host": {"type": "string"},
                    "scheme": {"enum": ["HTTP", "HTTPS"]},
                    "httpHeaders": {"type": "array", "items": obj({"name": s(), "value": s()}, required=["name", "value"])}},
                   required=["port"]),
    "initialDelaySeconds": i(0), "periodSeconds": i(1), "timeoutSeconds": i(1),
    "successThreshold": i(1), "failureThreshold": i(1), "terminationGracePeriodSeconds": i(1),
}, desc="A probe: timings, and optionally its own handler (grpc, exec, tcpSocket or httpGet) replacing the default gRPC health check.")
probe["not"] = {"anyOf": [
    {"required": ["grpc", "exec"]}, {"required": ["grpc", "tcpSocket"]}, {"required": ["grpc", "httpGet"]},
    {"required": ["exec", "tcpSocket"]}, {"required": ["exec", "httpGet"]}, {"required": ["tcpSocket", "httpGet"]}]}

seccomp = obj({"type": {"enum": ["RuntimeDefault", "Localhost", "Unconfined"]}, "localhostProfile": s()}, required=["type"])
podSC = obj({
    "runAsNonRoot": b, "runAsUser": i(0), "runAsGroup": i(0), "fsGroup": i(0),
    "fsGroupChangePolicy": {"enum": ["OnRootMismatch", "Always"]},
    "supplementalGroups": {"type": "array", "items": i(0)},
    "seccompProfile": seccomp,
    "seLinuxOptions": {"type": "object"},
    "sysctls": {"type": "array", "items": obj({"name": s(), "value": s()}, required=["name", "value"])},
}, desc="Pod securityContext. The defaults meet Pod Security Standards 'restricted'; chart CI rejects renders that do not.")
containerSC = obj({
    "allowPrivilegeEscalation": b, "privileged": b, "readOnlyRootFilesystem": b, "runAsNonRoot": b,
    "runAsUser": i(0), "runAsGroup": i(0),
    "capabilities": obj({"drop": {"type": "array", "items": s()}, "add": {"type": "array", "items": s()}}),
    "seccompProfile": seccomp, "procMount": {"enum": ["Default", "Unmasked"]},
    "seLinuxOptions": {"type": "object"},
}, desc="Container securityContext (restricted by default).")

envVar = obj({"name": s(pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"), "value": s(), "valueFrom": {"type": "object"}}, required=["name"])
envFromSource = obj({"configMapRef": obj({"name": s(), "optional": b}, required=["name"]),
                     "secretRef": obj({"name": s(), "optional": b}, required=["name"]),
                     "prefix": s()})
volume = {"type": "object", "required": ["name"], "properties": {"name": s()}, "description": "A Kubernetes Volume."}
volumeMount = obj({"name": s(), "mountPath": s(), "subPath": s(), "subPathExpr": s(), "readOnly": b,
                   "mountPropagation": s(), "recursiveReadOnly": s()}, required=["name", "mountPath"])
toleration = obj({"key": s(), "operator": {"enum": ["Exists", "Equal"]}, "value": s(),
                  "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute", ""]},
                  "tolerationSeconds": {"type": "integer"}})
labelSelector = obj({"matchLabels": labelmap, "matchExpressions": {"type": "array", "items": {"type": "object"}}})
tsc = obj({"maxSkew": i(1), "topologyKey": s(), "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
           "labelSelector": labelSelector, "matchLabelKeys": {"type": "array", "items": s()},
           "minDomains": i(1), "nodeAffinityPolicy": {"enum": ["Honor", "Ignore"]},
           "nodeTaintsPolicy": {"enum": ["Honor", "Ignore"]}},
          required=["maxSkew", "topologyKey", "whenUnsatisfiable"])
affinity = obj({"nodeAffinity": {"type": "object"}, "podAffinity": {"type": "object"}, "podAntiAffinity": {"type": "object"}})

image = obj({
    "registry": s("Registry and path prefix, e.g. ghcr.io/acme; empty for kind-loaded images."),
    "repository": s("Repository; {service} is replaced by the service key.", minLength=1),
    "tag": s("Tag; empty means the chart appVersion.", pattern=r"^([\w][\w.-]{0,127})?$"),
    "digest": s("Optional sha256 digest.", pattern=r"^(sha256:[a-f0-9]{64})?$"),
    "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
})

workload_props = {
    "image": image,
    "imagePullSecrets": {"type": "array", "items": obj({"name": s(minLength=1)}, required=["name"])},
    "replicas": i(0),
    "strategy": obj({"type": {"enum": ["RollingUpdate", "Recreate"]},
                     "rollingUpdate": obj({"maxSurge": intOrString, "maxUnavailable": intOrString})}),
    "revisionHistoryLimit": i(0),
    "resources": resources,
    "logLevel": s("CRM_TELEMETRY__LEVEL: a level or an EnvFilter directive list.", minLength=1),
    "secrets": obj({
        "existingSecret": s("Existing Secret's name; {release} and {service} are replaced."),
        "databaseUrlKey": s("Key of the PostgreSQL URL (CRM_DATABASE__URL)."),
        "redisUrlKey": s("Key of the Redis URL (CRM_CACHE__REDIS_URL); empty: no Redis."),
        "pageTokenSecretKey": s("Key of the page-token secret (CRM_SECURITY__PAGE_TOKEN_SECRET); empty: not set."),
    }),
    "config": {"type": "object", "description": "Application settings rendered as TOML into /etc/crm/config.toml (passed with --config). Free-form: the service validates it.",
               "propertyNames": {"pattern": r"^[a-z][a-z0-9_]*$"}},
    "env": {"type": "array", "items": envVar},
    "envFrom": {"type": "array", "items": envFromSource},
    "extraVolumes": {"type": "array", "items": volume},
    "extraVolumeMounts": {"type": "array", "items": volumeMount},
    "tmpSizeLimit": quantity,
    "personalData": {"type": "boolean", "description": "The service stores personal data: it mounts the PII key Secret and gets the [pii] config section."},
    "clientsSection": s("Settings section of the service's client URLs: CRM_<SECTION>__<CALLEE>_URL per callee, dots as __ (e.g. clients, campaigns.clients).",
                        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"),
    "podAnnotations": strmap,
    "podLabels": labelmap,
    "nodeSelector": strmap,
    "tolerations": {"type": "array", "items": toleration},
    "affinity": affinity,
    "topologySpreadConstraints": {"type": "array", "items": tsc},
    "priorityClassName": s(),
    "terminationGracePeriodSeconds": i(0),
    "preStopSleepSeconds": i(0, desc="preStop sleep in seconds (Kubernetes >= 1.30); 0 disables it."),
    "podSecurityContext": podSC,
    "containerSecurityContext": containerSC,
    "probes": obj({"startup": probe, "readiness": probe, "liveness": probe}),
    "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "appProtocol": s(), "annotations": strmap}),
    "serviceAccount": obj({"create": b, "name": s(), "annotations": strmap}),
    "autoscaling": obj({"enabled": b, "minReplicas": i(1), "maxReplicas": i(1),
                        "targetCPUUtilizationPercentage": i(0, maximum=100),
                        "targetMemoryUtilizationPercentage": i(0, maximum=100),
                        "behavior": obj({"scaleUp": {"type": "object"}, "scaleDown": {"type": "object"}})}),
    "pdb": obj({"enabled": b, "minAvailable": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^([0-9]+%?)?$"}]},
                "maxUnavailable": intOrString}),
}

# A scope of the suite's per-method tables: "<service>.<what>[.<what>]", e.g. customers.pii.read.
scope = s(pattern=r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")
scopes = {"type": "array", "uniqueItems": True, "items": scope}

service_only = {
    "enabled": {"type": "boolean", "description": "Deploy this service."},
    "healthService": s("grpc.health.v1 service name of the service, e.g. crm.customers.v1.CustomerService.", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$"),
    "callees": {"type": "array", "uniqueItems": True, "items": s(pattern=r"^[a-z][a-z0-9-]*$"),
                "description": "Services this one calls: CRM_CLIENTS__<CALLEE>_URL and the NetworkPolicy allow lists."},
    "binary": s("Binary name (the image entrypoint); default crm-<key>.", pattern=r"^[a-z0-9][a-z0-9_-]*$"),
    "callScopes": {**scopes, "description": "Scopes this service's own calls need, granted to its ServiceAccount's subject (auth on)."},
}

# Each shared setting is a $defs entry; defaults and services refer to them by name.
assert not {"defaultsBlock", "serviceEntry", "egressRule", "peer"} & set(workload_props)
shared_refs = {k: {"$ref": f"#/$defs/{k}"} for k in workload_props}
defaults_schema = {"type": "object", "additionalProperties": False, "properties": dict(shared_refs),
                   "description": "Settings shared by every service; each services.<name> entry is deep-merged over them."}
service_schema = {"type": "object", "additionalProperties": False, "required": ["enabled"],
                  "properties": {**service_only, **shared_refs},
                  "description": "One service: its own keys plus any key of defaults, overriding it."}

egressBlock = obj({"to": {"type": "array", "items": {"type": "object", "minProperties": 1,
                                                      "properties": {"namespaceSelector": labelSelector, "podSelector": labelSelector, "ipBlock": obj({"cidr": s(), "except": {"type": "array", "items": s()}}, required=["cidr"])},
                                                      "additionalProperties": False}},
                   "ports": {"type": "array", "minItems": 1,
                             "items": obj({"port": portRef, "endPort": i(1), "protocol": {"enum": ["TCP", "UDP", "SCTP"]}}, required=["port"])}},
                  required=["ports"])
peer = egressBlock["properties"]["to"]["items"]

url = s(pattern=r"^https?://[^\s]+$")
# [[auth.issuers]] of the platform's AuthSettings (docs: CONTRACT of issue 14); never a secret:
# no hs256_secret here (development only, and nothing secret lives in values).
issuer = obj({
    "issuer": s(minLength=1), "audiences": {"type": "array", "minItems": 1, "items": s(minLength=1)},
    "algorithms": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["RS256", "ES256"]}},
    "jwks_url": url, "jwks_file": s(), "jwks_ca_file": s(), "jwks_bearer_token_file": s(),
    "jwks_refresh_secs": i(1),
}, required=["issuer", "audiences"])
auth = obj({
    "insecureDisableAuthentication": {"type": "boolean", "description": "true turns authentication OFF (every caller may do anything); NOTES.txt warns."},
    "issuer": s("The cluster's service-account token issuer.", minLength=1),
    "audience": s("Audience the services accept and their own tokens carry.", pattern=r"^[^\s]+$"),
    "algorithms": issuer["properties"]["algorithms"],
    "jwks": obj({"url": {**url, "description": "The issuer's JWKS (the API server's by default)."},
                 "caConfigMap": s("ConfigMap whose ca.crt verifies the JWKS URL; empty: the image's CA bundle.", pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"),
                 "apiServerToken": {"type": "boolean", "description": "Send a token of the API server's audience with the JWKS request."},
                 "refreshSeconds": i(1)}, required=["url"]),
    "tokenExpirationSeconds": i(600, desc="Lifetime of the projected tokens."),
    "reflection": {"type": "boolean", "description": "Serve grpc.reflection without a token."},
    "grants": {"type": "object", "propertyNames": {"minLength": 1}, "additionalProperties": scopes,
               "description": "Calling subject (system:serviceaccount:<ns>:<sa>) -> scopes."},
    "extraIssuers": {"type": "array", "items": issuer, "description": "More [[auth.issuers]] tables."},
}, required=["insecureDisableAuthentication", "issuer", "audience", "jwks"])

# Client-certificate identities (SPIFFE id or DNS name) -> scopes.
tls = obj({
    "enabled": {"type": "boolean", "description": "Serve and call over TLS with each service's certificate Secret."},
    "secretName": s("Secret of a service's certificate (tls.crt, tls.key, ca.crt); {release} and {service} are replaced.", minLength=1),
    "requireClientCertificates": {"type": "boolean", "description": "Require client certificates signed by ca.crt (mTLS)."},
    "reloadSeconds": i(1, maximum=86400, desc="Seconds between checks of the mounted files (rotation without restart)."),
    "appProtocol": s("appProtocol of the Services' gRPC port with TLS on.", minLength=1),
    "identity": s("Client-certificate identity of each service; {namespace}, {serviceaccount}, {service}, {release} are replaced. Set: callScopes are granted to it too.",
                  pattern=r"^((spiffe://|[a-z0-9])[^\s]*)?$"),
    "grants": {"type": "object", "propertyNames": {"minLength": 1}, "additionalProperties": scopes,
               "description": "Client-certificate identity (SPIFFE id, else first DNS SAN) -> scopes."},
}, required=["enabled", "secretName"])

# The PII key-encryption keys (a Secret the chart never creates); CONTRACT of issue 15, [pii].
key_id = s(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
pii = obj({
    "encrypt": {"type": "boolean", "description": "Encrypt new writes of personal data (false: plain text, with a warning)."},
    "existingSecret": s("Secret holding the key-encryption keys; {release} is replaced. Required unless developmentKey.",
                        pattern=r"^([a-z0-9{]([-a-z0-9.{}]*[a-z0-9}])?)?$"),
    "keys": {"type": "array", "items": obj({"id": key_id, "secretKey": s("Key of the KEK in existingSecret (32 bytes, base64).", pattern=r"^[-._a-zA-Z0-9]+$")},
                                           required=["id", "secretKey"]),
             "description": "The key-encryption keys: id (stored with the data keys it wraps) and its key in existingSecret."},
    "activeKey": s("Id of the KEK new data keys are wrapped with; empty with exactly one key.", pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$"),
    "developmentKey": {"type": "boolean", "description": "No keys: each pod creates a throwaway key in /tmp (throwaway clusters only)."},
}, required=["encrypt"])

schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CRM suite chart values",
    "description": "Strict: unknown keys are rejected at every level (pass-through Kubernetes objects such as affinity terms and volumes excepted).",
    "type": "object",
    "additionalProperties": False,
    "$defs": {
        **workload_props,
        # after the settings: these names must not collide with a setting's name
        "defaultsBlock": defaults_schema,
        "serviceEntry": service_schema,
        "egressRule": egressBlock,
        "peer": peer,
    },
    "properties": {
        "nameOverride": s(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength=40),
        "fullnameOverride": s(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength=40),
        "commonLabels": labelmap,
        "defaults": {"$ref": "#/$defs/defaultsBlock"},
        "services": {"type": "object", "propertyNames": {"pattern": r"^[a-z][a-z0-9-]{0,20}$"},
                     "additionalProperties": {"$ref": "#/$defs/serviceEntry"},
                     "description": "The services, by key (customers, tickets, loyalty, campaigns, recommendations, ...)."},
        "migrations": obj({"enabled": b, "helmHook": b,
                           "hookDeletePolicy": s(pattern=r"^(before-hook-creation|hook-succeeded|hook-failed)(,(before-hook-creation|hook-succeeded|hook-failed))*$"),
                           "backoffLimit": i(0), "activeDeadlineSeconds": i(1), "ttlSecondsAfterFinished": i(0),
                           "resources": resources}),
        "otel": obj({"endpoint": s("OTLP/gRPC endpoint URL; empty exports nothing.", pattern=r"^(https?://.+)?$"),
                     "resourceAttributes": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                                            "propertyNames": {"pattern": r"^[A-Za-z0-9_.\-]+$"}}}),
        "networkPolicy": obj({"enabled": b,
                              "gateway": {"type": "array", "items": {"$ref": "#/$defs/peer"}},
                              "dns": {"$ref": "#/$defs/egressRule"}, "postgres": {"$ref": "#/$defs/egressRule"},
                              "redis": {"$ref": "#/$defs/egressRule"}, "otelCollector": {"$ref": "#/$defs/egressRule"},
                              "jwks": {"$ref": "#/$defs/egressRule"},
                              "extraIngress": {"type": "array", "items": {"type": "object"}},
                              "extraEgress": {"type": "array", "items": {"type": "object"}}}),
        "tests": obj({"enabled": b, "resources": resources}),
        "auth": auth,
        "tls": tls,
        "pii": pii,
    },
}
schema["$defs"]["egressRule"]["properties"]["to"]["items"] = {"$ref": "#/$defs/peer"}


def main() -> int:
    text = json.dumps(schema, indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        if SCHEMA_PATH.read_text(encoding="utf-8") != text:
            print(f"{SCHEMA_PATH} is out of date: run python3 {pathlib.Path(__file__).name} "
                  "(or scripts/chart-check.sh --update)", file=sys.stderr)
            return 1
        return 0
    if sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
