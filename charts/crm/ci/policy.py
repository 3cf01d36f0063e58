#!/usr/bin/env python3
"""Policy check of rendered chart manifests (run by scripts/chart-check.sh).

Reads multi-document YAML (files, or stdin with "-") and fails, naming the object, the container
and the rule, unless every pod the chart can create:
  * passes Pod Security Standards "restricted" (the baseline rules plus the restricted ones:
    non-root, no privilege escalation, capabilities drop ALL, seccomp RuntimeDefault/Localhost,
    restricted volume types, no host namespaces/ports/paths);
  * has a read-only root filesystem, a ServiceAccount of its own (not "default") with no token
    mounted, and requests for cpu and memory plus a memory limit on every container;
  * if long-running (Deployment/StatefulSet/DaemonSet): startup, readiness and liveness probes,
    startup and readiness as native gRPC health checks, or with TLS on in its config file
    ([tls] enabled; the kubelet's gRPC probe speaks no TLS) as exec probes running
    `healthcheck --addr https://... --config <its config file>`;
  * with TLS on in its config file: has every file its [tls] and [tls.client] sections name
    (from a Secret volume) if it serves, and TLS switched off in its environment if it does not
    (migration Jobs get no certificate);
  * is selected by a NetworkPolicy that restricts both ingress and egress;
  * with authentication on in its config file ([auth] mode "jwt"): has every file that section
    names (auth.client.token_file a projected token for an audience the services accept,
    jwks_bearer_token_file a projected token, jwks_ca_file a projected ConfigMap key) if it
    serves (Deployment), and no projected token at all if it does not (migration Jobs);
and that every object carries the chart's recommended labels.

Exit status: 0 clean, 1 violations, 2 bad input.
"""
from __future__ import annotations

import argparse
import posixpath
import sys
import tomllib
from typing import Any, Iterator

import yaml

# Where the chart mounts a service's config file (passed with --config).
CONFIG_FILE = "/etc/crm/config.toml"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/version",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)
# PSS restricted: the only volume types allowed.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}
# PSS baseline: sysctls allowed to be set.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def load(paths: list[str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
        with stream:
            for doc in yaml.safe_load_all(stream):
                if doc is None:
                    continue
                if not isinstance(doc, dict) or "kind" not in doc:
                    raise ValueError(f"{path}: a document is not a Kubernetes object")
                docs.append(doc)
    return docs


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    kind = obj["kind"]
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if kind in POD_KINDS:
        return obj["spec"]["template"]
    return None


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(field) or []:
            yield field, c


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Checker:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.violations: list[str] = []
        self.policies = [d for d in docs if d["kind"] == "NetworkPolicy"]

    def fail(self, where: str, rule: str) -> None:
        self.violations.append(f"{where}: {rule}")

    def run(self) -> None:
        for obj in self.docs:
            name = f'{obj["kind"]}/{obj.get("metadata", {}).get("name", "?")}'
            self.check_labels(name, obj)
            tpl = pod_template(obj)
            if tpl is not None:
                self.check_pod(name, obj["kind"], tpl)

    def check_labels(self, name: str, obj: dict[str, Any]) -> None:
        labels = obj.get("metadata", {}).get("labels") or {}
        missing = [k for k in REQUIRED_LABELS if not labels.get(k)]
        if missing:
            self.fail(name, f"missing labels {', '.join(missing)}")

    def check_pod(self, name: str, kind: str, tpl: dict[str, Any]) -> None:
        spec = tpl.get("spec") or {}
        meta = tpl.get("metadata") or {}
        psc = spec.get("securityContext") or {}

        # --- PSS baseline -------------------------------------------------------------------
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                self.fail(name, f"{field} must not be true (PSS baseline)")
        for vol in spec.get("volumes") or []:
            types = [k for k in vol if k != "name"]
            for t in types:
                if t == "hostPath":
                    self.fail(name, f'volume {vol["name"]}: hostPath is forbidden (PSS baseline)')
                elif t not in RESTRICTED_VOLUMES:
                    self.fail(name, f'volume {vol["name"]}: type {t} is not allowed (PSS restricted)')
        for sysctl in psc.get("sysctls") or []:
            if sysctl.get("name") not in SAFE_SYSCTLS:
                self.fail(name, f'sysctl {sysctl.get("name")} is not allowed (PSS baseline)')
        if (psc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            self.fail(name, "pod appArmorProfile Unconfined is forbidden (PSS baseline)")

        pod_nonroot = psc.get("runAsNonRoot") is True
        pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
        if pod_seccomp == "Unconfined":
            self.fail(name, "pod seccompProfile Unconfined is forbidden (PSS baseline)")
        if psc.get("runAsUser") == 0:
            self.fail(name, "pod runAsUser 0 is forbidden (PSS restricted)")

        # --- project rules at pod level -------------------------------------------------------
        sa = spec.get("serviceAccountName")
        if not sa or sa == "default":
            self.fail(name, "needs a ServiceAccount of its own (serviceAccountName), not 'default'")
        if spec.get("automountServiceAccountToken") is not False:
            self.fail(name, "automountServiceAccountToken must be false")

        for field, c in containers(spec):
            where = f'{name} {field[:-1]} {c.get("name", "?")}'
            sc = c.get("securityContext") or {}
            # baseline
            if sc.get("privileged"):
                self.fail(where, "privileged must not be true (PSS baseline)")
            for p in c.get("ports") or []:
                if p.get("hostPort"):
                    self.fail(where, "hostPort is forbidden (PSS baseline)")
            if sc.get("procMount") not in (None, "Default"):
                self.fail(where, "procMount must be Default (PSS baseline)")
            if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
                self.fail(where, "appArmorProfile Unconfined is forbidden (PSS baseline)")
            # restricted
            if sc.get("allowPrivilegeEscalation") is not False:
                self.fail(where, "allowPrivilegeEscalation must be false (PSS restricted)")
            nonroot = sc.get("runAsNonRoot")
            if nonroot is False or (nonroot is None and not pod_nonroot):
                self.fail(where, "runAsNonRoot must be true (PSS restricted)")
            if sc.get("runAsUser") == 0:
                self.fail(where, "runAsUser 0 is forbidden (PSS restricted)")
            seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
            if seccomp not in ("RuntimeDefault", "Localhost"):
                self.fail(where, "seccompProfile must be RuntimeDefault or Localhost (PSS restricted)")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                self.fail(where, "capabilities must drop ALL (PSS restricted)")
            extra = [x for x in caps.get("add") or [] if x != "NET_BIND_SERVICE"]
            if extra:
                self.fail(where, f"capabilities.add {extra} not allowed (PSS restricted)")
            # project hardening
            if sc.get("readOnlyRootFilesystem") is not True:
                self.fail(where, "readOnlyRootFilesystem must be true")
            self.check_resources(where, c)
            image = str(c.get("image", ""))
            last = image.rsplit("/", 1)[-1]
            if "@" not in last and (":" not in last or last.endswith(":latest")):
                self.fail(where, f"image {image!r} needs an explicit tag other than latest (or a digest)")
            if kind in LONG_RUNNING and field == "containers":
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if not c.get(probe):
                        self.fail(where, f"{probe} is required")
                tls_on = bool((self.config_file(spec).get("tls") or {}).get("enabled"))
                for probe in ("startupProbe", "readinessProbe"):
                    if c.get(probe):
                        self.check_health_probe(where, probe, c[probe], tls_on)

        self.check_network_policy(name, meta.get("labels") or {})
        self.check_auth_files(name, kind, spec)
        self.check_tls_files(name, kind, spec)

    def check_health_probe(self, where: str, probe: str, handler: dict[str, Any], tls_on: bool) -> None:
        if not tls_on:
            if "grpc" not in handler:
                self.fail(where, f"{probe} should be a native gRPC probe")
            return
        if "grpc" in handler:
            self.fail(where, f"{probe}: a native gRPC probe speaks no TLS, but the port serves TLS")
            return
        cmd = (handler.get("exec") or {}).get("command") or []
        args = dict(zip(cmd, cmd[1:]))
        if ("healthcheck" not in cmd or not str(args.get("--addr", "")).startswith("https://")
                or args.get("--config") != CONFIG_FILE):
            self.fail(where, f"{probe} should be an exec probe running "
                             f"`healthcheck --addr https://... --config {CONFIG_FILE}` (the port serves TLS)")

    def check_tls_files(self, name: str, kind: str, spec: dict[str, Any]) -> None:
        tls = self.config_file(spec).get("tls") or {}
        if not tls.get("enabled"):
            return
        named = {f"tls.{k}": tls.get(k) for k in ("cert_file", "key_file", "client_ca_file")}
        named.update({f"tls.client.{k}": (tls.get("client") or {}).get(k) for k in ("ca_file", "cert_file", "key_file")})
        named = {k: v for k, v in named.items() if v}
        if kind not in LONG_RUNNING:
            # A pod that does not serve must switch the file's [tls] off in its environment,
            # else it fails at start on files it was (rightly) not given.
            for _, c in containers(spec):
                env = {e["name"]: e.get("value") for e in c.get("env") or []}
                if env.get("CRM_TLS__ENABLED") != "false":
                    self.fail(name, "the config file enables TLS but this pod has no certificate: set CRM_TLS__ENABLED=false")
            return
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        # Files of Secret volumes: exact paths (items) or whole directories (no items).
        files: set[str] = set()
        dirs: set[str] = set()
        for _, c in containers(spec):
            for m in c.get("volumeMounts") or []:
                secret = volumes.get(m["name"], {}).get("secret")
                if secret is None:
                    continue
                if secret.get("items"):
                    files.update(posixpath.join(m["mountPath"], i["path"]) for i in secret["items"])
                else:
                    dirs.add(m["mountPath"])
        for key, path in named.items():
            if path not in files and posixpath.dirname(path) not in dirs:
                self.fail(name, f"{key} {path} is not a file of a Secret volume of the pod")

    def config_file(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The parsed config.toml of the ConfigMap volume mounted at /etc/crm, or {}."""
        mounted = {m["name"] for _, c in containers(spec) for m in c.get("volumeMounts") or []
                   if m.get("mountPath") == "/etc/crm"}
        for vol in spec.get("volumes") or []:
            if vol["name"] in mounted and "configMap" in vol:
                for d in self.docs:
                    if d["kind"] == "ConfigMap" and d["metadata"]["name"] == vol["configMap"]["name"]:
                        return tomllib.loads((d.get("data") or {}).get("config.toml", ""))
        return {}

    def check_auth_files(self, name: str, kind: str, spec: dict[str, Any]) -> None:
        auth = self.config_file(spec).get("auth") or {}
        if auth.get("mode") != "jwt":
            return
        # path in the container -> ("token", audience) or ("configMap", name) of a projection
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        files: dict[str, tuple[str, str | None]] = {}
        for _, c in containers(spec):
            for m in c.get("volumeMounts") or []:
                sources = (volumes.get(m["name"], {}).get("projected") or {}).get("sources") or []
                for s in sources:
                    if "serviceAccountToken" in s:
                        tok = s["serviceAccountToken"]
                        files[posixpath.join(m["mountPath"], tok["path"])] = ("token", tok.get("audience"))
                    for item in (s.get("configMap") or {}).get("items") or []:
                        files[posixpath.join(m["mountPath"], item["path"])] = ("configMap", s["configMap"]["name"])
        if kind not in LONG_RUNNING:
            for path, (what, _) in files.items():
                if what == "token":
                    self.fail(name, f"a pod that does not serve gets no service-account token ({path})")
            return
        issuers = auth.get("issuers") or []
        accepted = {a for i in issuers for a in i.get("audiences") or []}
        own = (auth.get("client") or {}).get("token_file")
        if not own:
            self.fail(name, "auth is on but auth.client.token_file is not set: its calls would carry no identity")
        elif files.get(own, ("", None))[0] != "token":
            self.fail(name, f"auth.client.token_file {own} is not a projected service-account token of the pod")
        elif files[own][1] not in accepted:
            self.fail(name, f"auth.client.token_file {own} has audience {files[own][1]!r}, which no issuer accepts")
        for i in issuers:
            for key, what in (("jwks_bearer_token_file", "token"), ("jwks_ca_file", "configMap")):
                path = i.get(key)
                if path and files.get(path, ("", None))[0] != what:
                    self.fail(name, f"{i.get('issuer')}: {key} {path} is not a projected {what} of the pod")

    def check_resources(self, where: str, c: dict[str, Any]) -> None:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for key in ("cpu", "memory"):
            if key not in req:
                self.fail(where, f"resources.requests.{key} is required")
        if "memory" not in lim:
            self.fail(where, "resources.limits.memory is required")

    def check_network_policy(self, name: str, labels: dict[str, str]) -> None:
        covered = {"Ingress": False, "Egress": False}
        for np in self.policies:
            spec = np.get("spec") or {}
            if selector_matches(spec.get("podSelector") or {}, labels):
                for t in spec.get("policyTypes") or ["Ingress"]:
                    covered[t] = True
        for t, ok in covered.items():
            if not ok:
                self.fail(name, f"no NetworkPolicy restricts its {t.lower()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="rendered manifests ('-' for stdin)")
    ap.add_argument("--quiet", action="store_true", help="print violations only")
    args = ap.parse_args()
    try:
        docs = load(args.files)
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"policy: cannot read manifests: {e}", file=sys.stderr)
        return 2
    checker = Checker(docs)
    checker.run()
    pods = sum(1 for d in docs if pod_template(d) is not None)
    if checker.violations:
        print(f"policy: FAILED, {len(checker.violations)} violation(s):", file=sys.stderr)
        for v in checker.violations:
            print(f"  - {v}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"policy: ok ({len(docs)} objects, {pods} pod templates: PSS restricted, probes, "
              "resources, ServiceAccounts, NetworkPolicies, auth and TLS files, labels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
