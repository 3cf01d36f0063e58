{{/*
Helpers of the CRM chart. Conventions:
  - "root" is the top-level context ($), "name" a key of .Values.services.
  - Effective per-service settings come from "crm.service" (defaults deep-merged with the
    service entry); every template uses it, so a service behaves the same everywhere.
*/}}

{{/* Chart name (part-of label, name prefix). */}}
{{- define "crm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-derived prefix of every resource name. Release "crm" -> "crm"; "prod" -> "prod-crm". */}}
{{- define "crm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* helm.sh/chart label value. */}}
{{- define "crm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name of a service's Deployment, Service, ServiceAccount, ConfigMap and NetworkPolicy.
This is also the DNS name its callers are given, so names and addresses cannot drift apart.
Usage: include "crm.componentFullname" (dict "root" $ "name" "customers")
*/}}
{{- define "crm.componentFullname" -}}
{{- printf "%s-%s" (include "crm.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The address a caller uses for a service: http(s)://<Service name>:<port> (https with tls on). */}}
{{- define "crm.serviceAddress" -}}
{{- $cfg := include "crm.service" . | fromJson -}}
{{- printf "%s://%s:%d" (eq (include "crm.tlsOn" .root) "true" | ternary "https" "http") $cfg.fullname (int $cfg.service.port) -}}
{{- end -}}

{{/* The gRPC port every container listens on (CRM_SERVER__PORT). */}}
{{- define "crm.grpcPort" -}}50051{{- end -}}

{{/*
Deep merge for values: maps merge key by key, anything else in "over" replaces "base" - including
false, 0 and "" (sprig's merge/mergeOverwrite skip those, which would make `enabled: false` or
`replicas: 0` in a service impossible to express). Returns JSON.
Usage: include "crm.merge" (dict "base" $a "over" $b) | fromJson
*/}}
{{- define "crm.merge" -}}
{{- $out := deepCopy (.base | default dict) -}}
{{- range $k, $v := (.over | default dict) -}}
{{- $cur := get $out $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $cur) -}}
{{- $_ := set $out $k (include "crm.merge" (dict "base" $cur "over" $v) | fromJson) -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
Effective settings of one service as JSON: .Values.defaults deep-merged with
.Values.services.<name>, plus computed fields: name, fullname, binary, imageRef, version,
secretName, serviceAccountName.
Usage: $cfg := include "crm.service" (dict "root" $ "name" "customers") | fromJson
*/}}
{{- define "crm.service" -}}
{{- $root := .root -}}
{{- $svc := get $root.Values.services .name -}}
{{- if not (kindIs "map" $svc) -}}
{{- fail (printf "services.%s is not defined" .name) -}}
{{- end -}}
{{- $cfg := include "crm.merge" (dict "base" $root.Values.defaults "over" $svc) | fromJson -}}
{{- $fullname := include "crm.componentFullname" (dict "root" $root "name" .name) -}}
{{- $_ := set $cfg "name" .name -}}
{{- $_ := set $cfg "fullname" $fullname -}}
{{- $_ := set $cfg "binary" (default (printf "crm-%s" .name) $cfg.binary) -}}
{{- $img := $cfg.image -}}
{{- $repo := replace "{service}" .name $img.repository -}}
{{- if $img.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $img.registry) $repo -}}
{{- end -}}
{{- $tag := toString (default $root.Chart.AppVersion $img.tag) -}}
{{- $ref := printf "%s:%s" $repo $tag -}}
{{- if $img.digest -}}
{{- $ref = printf "%s@%s" $ref $img.digest -}}
{{- end -}}
{{- $_ := set $cfg "imageRef" $ref -}}
{{- $_ := set $cfg "version" ($tag | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "_" | trimSuffix ".") -}}
{{- $secret := $cfg.secrets.existingSecret | replace "{release}" $root.Release.Name | replace "{service}" .name -}}
{{- $_ := set $cfg "secretName" $secret -}}
{{- $_ := set $cfg "serviceAccountName" (include "crm.serviceAccountName" .) -}}
{{- $_ := set $cfg "subject" (include "crm.subject" .) -}}
{{- /* The chart's [auth], [tls] and [pii] sections first, the values' config over them (see crm.authConfig, crm.tlsConfig). */ -}}
{{- $chartConfig := dict "auth" (include "crm.authConfig" $root | fromJson) -}}
{{- if include "crm.tlsOn" $root -}}
{{- $_ := set $chartConfig "tls" (include "crm.tlsConfig" $root | fromJson) -}}
{{- $_ := set $cfg "tlsSecretName" ($root.Values.tls.secretName | replace "{release}" $root.Release.Name | replace "{service}" .name) -}}
{{- $_ := set $cfg.service "appProtocol" $root.Values.tls.appProtocol -}}
{{- end -}}
{{- if $cfg.personalData -}}
{{- $_ := set $chartConfig "pii" (include "crm.piiConfig" $root | fromJson) -}}
{{- $_ := set $cfg "piiSecretName" (include "crm.piiSecretName" $root) -}}
{{- end -}}
{{- if eq .name "customers" -}}
{{- /* Customers waits for an erasure report from each service that scrubs erased customers:
the enabled ones of those (a disabled one would leave every erasure PENDING). */ -}}
{{- $reporters := list -}}
{{- range $name := list "loyalty" "tickets" "campaigns" "recommendations" -}}
{{- if (get $root.Values.services $name).enabled -}}
{{- $reporters = append $reporters $name -}}
{{- end -}}
{{- end -}}
{{- $_ := set $chartConfig "customers" (dict "erasure" (dict "reporting_services" $reporters)) -}}
{{- end -}}
{{- $_ := set $cfg "config" (include "crm.merge" (dict "base" $chartConfig "over" $cfg.config) | fromJson) -}}
{{- toJson $cfg -}}
{{- end -}}

{{/*
A service's ServiceAccount name, from the serviceAccount values alone (crm.authGrants needs it
for every service without the whole of crm.service, which needs the grants).
Usage: include "crm.serviceAccountName" (dict "root" $ "name" "customers")
*/}}
{{- define "crm.serviceAccountName" -}}
{{- $svc := get .root.Values.services .name -}}
{{- $sa := include "crm.merge" (dict "base" .root.Values.defaults.serviceAccount "over" ($svc.serviceAccount | default dict)) | fromJson -}}
{{- if $sa.create -}}
{{- default (include "crm.componentFullname" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* The subject of a service's tokens: system:serviceaccount:<namespace>:<ServiceAccount>. */}}
{{- define "crm.subject" -}}
{{- printf "system:serviceaccount:%s:%s" .root.Release.Namespace (include "crm.serviceAccountName" .) -}}
{{- end -}}

{{/* Where a service pod's projected credentials are (the crm-auth volume). */}}
{{- define "crm.authDir" -}}/var/run/secrets/crm{{- end -}}

{{/*
The [[auth.grants]] tables, as a JSON list of {issuer, subject, scopes}: every enabled service's
callScopes for its own subject, united with auth.grants, all for the service-account issuer
(a grant names its issuer, so another issuer's token with the same subject gets nothing).
*/}}
{{- define "crm.authGrants" -}}
{{- $root := . -}}
{{- $grants := dict -}}
{{- range $name := include "crm.enabledServices" $root | fromJsonArray -}}
{{- $scopes := (get $root.Values.services $name).callScopes | default list -}}
{{- if $scopes -}}
{{- $subject := include "crm.subject" (dict "root" $root "name" $name) -}}
{{- $_ := set $grants $subject (concat (get $grants $subject | default list) $scopes) -}}
{{- end -}}
{{- end -}}
{{- range $subject, $scopes := $root.Values.auth.grants -}}
{{- $_ := set $grants $subject (concat (get $grants $subject | default list) ($scopes | default list)) -}}
{{- end -}}
{{- $list := list -}}
{{- range $subject, $scopes := $grants -}}
{{- $list = append $list (dict "issuer" $root.Values.auth.issuer "subject" $subject "scopes" ($scopes | uniq | sortAlpha)) -}}
{{- end -}}
{{- range $identity, $scopes := include "crm.tlsGrants" $root | fromJson -}}
{{- $list = append $list (dict "subject" $identity "scopes" ($scopes | uniq | sortAlpha)) -}}
{{- end -}}
{{- toJson $list -}}
{{- end -}}

{{/*
Scopes by client-certificate identity, as a JSON map (tls on; {} otherwise): every enabled
service's callScopes for its certificate identity (tls.identity, when set), united with
tls.grants. Rendered as [[auth.grants]] without issuer: they apply to verified client
certificates only, never to a token with the same subject.
*/}}
{{- define "crm.tlsGrants" -}}
{{- $root := . -}}
{{- $grants := dict -}}
{{- if include "crm.tlsOn" $root -}}
{{- if $root.Values.tls.identity -}}
{{- range $name := include "crm.enabledServices" $root | fromJsonArray -}}
{{- $scopes := (get $root.Values.services $name).callScopes | default list -}}
{{- if $scopes -}}
{{- $identity := include "crm.tlsIdentity" (dict "root" $root "name" $name) -}}
{{- $_ := set $grants $identity (concat (get $grants $identity | default list) $scopes) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $identity, $scopes := $root.Values.tls.grants -}}
{{- $_ := set $grants $identity (concat (get $grants $identity | default list) ($scopes | default list)) -}}
{{- end -}}
{{- end -}}
{{- toJson $grants -}}
{{- end -}}

{{/* A service's client-certificate identity: tls.identity with its placeholders replaced. */}}
{{- define "crm.tlsIdentity" -}}
{{- .root.Values.tls.identity | replace "{namespace}" .root.Release.Namespace | replace "{serviceaccount}" (include "crm.serviceAccountName" .) | replace "{service}" .name | replace "{release}" .root.Release.Name -}}
{{- end -}}

{{/* TLS is on (tls.enabled). */}}
{{- define "crm.tlsOn" -}}
{{- if .Values.tls.enabled -}}true{{- end -}}
{{- end -}}

{{/* Where a service pod's certificate Secret is mounted (the crm-tls volume). */}}
{{- define "crm.tlsDir" -}}/var/run/secrets/crm-tls{{- end -}}

{{/*
The [tls] section of every service's config file with tls on, as JSON: serve TLS with the pod's
certificate, require client certificates signed by its ca.crt (tls.requireClientCertificates),
and present the same certificate on outgoing https:// calls, verifying servers against ca.crt.
*/}}
{{- define "crm.tlsConfig" -}}
{{- $dir := include "crm.tlsDir" . -}}
{{- $crt := printf "%s/tls.crt" $dir -}}
{{- $key := printf "%s/tls.key" $dir -}}
{{- $ca := printf "%s/ca.crt" $dir -}}
{{- $tls := dict "enabled" true "cert_file" $crt "key_file" $key "reload_secs" (int .Values.tls.reloadSeconds) "client" (dict "ca_file" $ca "cert_file" $crt "key_file" $key) -}}
{{- if .Values.tls.requireClientCertificates -}}
{{- $_ := set $tls "client_ca_file" $ca -}}
{{- end -}}
{{- toJson $tls -}}
{{- end -}}

{{/*
The [auth] section of every service's config file (the platform's AuthSettings), as JSON.
Auth on: mode jwt, the cluster's service-account issuer with its JWKS, the grants, and the
pod's projected token on its own calls. Off (auth.insecureDisableAuthentication): mode off.
*/}}
{{- define "crm.authConfig" -}}
{{- $a := .Values.auth -}}
{{- if $a.insecureDisableAuthentication -}}
{{- toJson (dict "mode" "off" "reflection" $a.reflection) -}}
{{- else -}}
{{- $dir := include "crm.authDir" . -}}
{{- $issuer := dict "issuer" $a.issuer "audiences" (list $a.audience) "algorithms" $a.algorithms "jwks_url" $a.jwks.url "jwks_refresh_secs" $a.jwks.refreshSeconds -}}
{{- if $a.jwks.caConfigMap -}}
{{- $_ := set $issuer "jwks_ca_file" (printf "%s/jwks/ca.crt" $dir) -}}
{{- end -}}
{{- if $a.jwks.apiServerToken -}}
{{- $_ := set $issuer "jwks_bearer_token_file" (printf "%s/jwks/token" $dir) -}}
{{- end -}}
{{- toJson (dict "mode" "jwt" "reflection" $a.reflection "grants" (include "crm.authGrants" . | fromJsonArray) "issuers" (prepend ($a.extraIssuers | default list) $issuer) "client" (dict "token_file" (printf "%s/token" $dir))) -}}
{{- end -}}
{{- end -}}

{{/* Where the PII key Secret is mounted (the crm-pii volume). */}}
{{- define "crm.piiDir" -}}/var/run/secrets/crm-pii{{- end -}}

{{/* The PII key Secret's name (pii.existingSecret with "{release}" replaced). */}}
{{- define "crm.piiSecretName" -}}
{{- .Values.pii.existingSecret | replace "{release}" .Release.Name -}}
{{- end -}}

{{/*
The [pii] section of a personal-data service's config file, as JSON: encrypt, active_key and
one [[pii.keys]] table per KEK, read from its file in the mounted Secret. With
pii.developmentKey and no keys: a key file the service creates in the pod's /tmp.
*/}}
{{- define "crm.piiConfig" -}}
{{- $p := .Values.pii -}}
{{- $dir := include "crm.piiDir" . -}}
{{- $pii := dict "encrypt" $p.encrypt -}}
{{- if $p.keys -}}
{{- $keys := list -}}
{{- range $p.keys -}}
{{- $keys = append $keys (dict "id" .id "secret_file" (printf "%s/%s" $dir .secretKey)) -}}
{{- end -}}
{{- $_ := set $pii "keys" $keys -}}
{{- $_ := set $pii "active_key" ($p.activeKey | default "") -}}
{{- else -}}
{{- $_ := set $pii "dev_key_file" "/tmp/crm-pii-dev.key" -}}
{{- end -}}
{{- toJson $pii -}}
{{- end -}}

{{/* The PII keys are mounted (a personal-data service with pii.keys). */}}
{{- define "crm.piiMounted" -}}
{{- if and .cfg.personalData .root.Values.pii.keys -}}true{{- end -}}
{{- end -}}

{{/*
The crm-pii volume: one file per KEK (named by its key in the Secret), readable by the pod's
group only (fsGroup); 0440 = 288. A key missing from the Secret keeps the pod from starting.
*/}}
{{- define "crm.piiVolume" -}}
- name: crm-pii
  secret:
    secretName: {{ .cfg.piiSecretName }}
    defaultMode: 288
    items:
      {{- range .root.Values.pii.keys }}
      - key: {{ .secretKey }}
        path: {{ .secretKey }}
      {{- end }}
{{- end -}}

{{/* Auth is on (the chart's default). */}}
{{- define "crm.authOn" -}}
{{- if not .Values.auth.insecureDisableAuthentication -}}true{{- end -}}
{{- end -}}

{{/* Sorted names of the enabled services, as a JSON list. */}}
{{- define "crm.enabledServices" -}}
{{- $out := list -}}
{{- range $name := keys .Values.services | sortAlpha -}}
{{- if (get $.Values.services $name).enabled -}}
{{- $out = append $out $name -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Sorted enabled services that declare .name among their callees (its callers), as JSON. */}}
{{- define "crm.callers" -}}
{{- $out := list -}}
{{- range $caller := include "crm.enabledServices" .root | fromJsonArray -}}
{{- if has $.name ((get $.root.Values.services $caller).callees | default list) -}}
{{- $out = append $out $caller -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Labels shared by every resource of the release. */}}
{{- define "crm.commonLabels" -}}
helm.sh/chart: {{ include "crm.chart" . }}
app.kubernetes.io/part-of: {{ include "crm.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Selector labels of a component: stable for the life of the release (never the version).
Usage: include "crm.selectorLabels" (dict "root" $ "name" "crm-customers" "component" "customers")
*/}}
{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
All labels of a component's resources.
Usage: include "crm.labels" (dict "root" $ "name" "crm-customers" "component" "customers" "version" "0.1.0")
*/}}
{{- define "crm.labels" -}}
{{ include "crm.selectorLabels" . }}
app.kubernetes.io/version: {{ .version | default .root.Chart.AppVersion | quote }}
{{ include "crm.commonLabels" .root }}
{{- end -}}

{{/* Labels of a service's workload: name = its binary (crm-customers), component = its key. */}}
{{- define "crm.serviceLabels" -}}
{{- include "crm.labels" (dict "root" .root "name" .cfg.binary "component" .cfg.name "version" .cfg.version) -}}
{{- end -}}
{{- define "crm.serviceSelectorLabels" -}}
{{- include "crm.selectorLabels" (dict "root" .root "name" .cfg.binary "component" .cfg.name) -}}
{{- end -}}

{{/* Labels of a service's migration Job and its pod. */}}
{{- define "crm.migrationSelectorLabels" -}}
{{- include "crm.selectorLabels" (dict "root" .root "name" .cfg.binary "component" "migration") -}}
{{- end -}}
{{- define "crm.migrationLabels" -}}
{{- include "crm.labels" (dict "root" .root "name" .cfg.binary "component" "migration" "version" .cfg.version) -}}
{{- end -}}

{{/* Labels of the helm test pod. */}}
{{- define "crm.testSelectorLabels" -}}
{{- include "crm.selectorLabels" (dict "root" . "name" (include "crm.name" .) "component" "test") -}}
{{- end -}}
{{- define "crm.testLabels" -}}
{{- include "crm.labels" (dict "root" . "name" (include "crm.name" .) "component" "test") -}}
{{- end -}}

{{/* Name of the ConfigMap holding the optional config file (only rendered when config is set). */}}
{{- define "crm.configFileName" -}}
{{- printf "%s-file" .fullname | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Arguments of a subcommand: [<cmd>] plus --config when a config file is mounted. */}}
{{- define "crm.args" -}}
- {{ .cmd }}
{{- if .cfg.config }}
- --config
- /etc/crm/config.toml
{{- end }}
{{- end -}}

{{/*
Environment of a service's containers (service and migration Job): downward-API pod facts,
OTEL_RESOURCE_ATTRIBUTES built from them and from values, then the Secret references, then the
user's env. The non-secret settings come from the service's ConfigMap through envFrom.
*/}}
{{- define "crm.env" -}}
{{- $root := .root -}}
{{- $cfg := .cfg -}}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
- name: K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- $attrs := list (printf "service.namespace=%s" (include "crm.name" $root)) (printf "service.version=%s" $cfg.version) "service.instance.id=$(K8S_POD_UID)" "k8s.namespace.name=$(K8S_NAMESPACE)" "k8s.pod.name=$(K8S_POD_NAME)" "k8s.pod.uid=$(K8S_POD_UID)" "k8s.node.name=$(K8S_NODE_NAME)" (printf "k8s.%s.name=%s" (.workloadKind | default "deployment") (.workloadName | default $cfg.fullname)) }}
{{- range $k := keys $root.Values.otel.resourceAttributes | sortAlpha }}
{{- $attrs = append $attrs (printf "%s=%v" $k (get $root.Values.otel.resourceAttributes $k)) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
- name: CRM_DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ $cfg.secretName }}
      key: {{ $cfg.secrets.databaseUrlKey }}
{{- if $cfg.secrets.redisUrlKey }}
- name: CRM_CACHE__REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $cfg.secretName }}
      key: {{ $cfg.secrets.redisUrlKey }}
# The event backbone shares the cache's Redis (its streams, consumer groups, dead letters).
- name: CRM_EVENTS__REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $cfg.secretName }}
      key: {{ $cfg.secrets.redisUrlKey }}
{{- end }}
{{- if $cfg.secrets.pageTokenSecretKey }}
- name: CRM_SECURITY__PAGE_TOKEN_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $cfg.secretName }}
      key: {{ $cfg.secrets.pageTokenSecretKey }}
{{- end }}
{{- with $cfg.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The crm-tls volume: a service's certificate (tls.crt, tls.key) and the CA of its peers (ca.crt)
from its Secret (tls.secretName), readable by the pod's group only (fsGroup); 0440 = 288.
*/}}
{{- define "crm.tlsVolume" -}}
- name: crm-tls
  secret:
    secretName: {{ .cfg.tlsSecretName }}
    defaultMode: 288
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- end -}}

{{/* Environment that switches off the config file's [tls] files, for a pod without the certificate. */}}
{{- define "crm.tlsOffEnv" -}}
- name: CRM_TLS__ENABLED
  value: "false"
{{- range $key := list "CRM_TLS__CLIENT_CA_FILE" "CRM_TLS__CLIENT__CA_FILE" "CRM_TLS__CLIENT__CERT_FILE" "CRM_TLS__CLIENT__KEY_FILE" }}
- name: {{ $key }}
  value: ""
{{- end }}
{{- end -}}

{{/* envFrom of a service's containers: its ConfigMap, then the user's sources. */}}
{{- define "crm.envFrom" -}}
- configMapRef:
    name: {{ .cfg.fullname }}
{{- with .cfg.envFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
A probe: the values' timings plus a default handler unless the values give one of their own
(grpc, exec, tcpSocket or httpGet). Defaults: a native gRPC health check of .service on the gRPC
port; with "tcp" true a TCP connect to it; with "tls" true (tls on) an exec probe running
`crm healthcheck --addr https://localhost:<port>`.
Usage: include "crm.probe" (dict "probe" $cfg.probes.readiness "service" "crm.x.v1.X")
*/}}
{{- define "crm.probe" -}}
{{- $p := omit .probe "enabled" -}}
{{- if not (or $p.grpc $p.exec $p.tcpSocket $p.httpGet) -}}
{{- if .tcp -}}
{{- $_ := set $p "tcpSocket" (dict "port" "grpc") -}}
{{- else if .tls -}}
{{- /* The kubelet's gRPC probe speaks no TLS: the image's binary probes over TLS with the
[tls.client] files of the config (the pod's own certificate), within the probe's timeout. */ -}}
{{- $timeoutMs := max 500 (sub (mul (int ($p.timeoutSeconds | default 1)) 1000) 500) -}}
{{- $cmd := list "/usr/local/bin/crm" "healthcheck" "--addr" (printf "https://localhost:%s" (include "crm.grpcPort" .)) "--service" (.service | default "") "--timeout-ms" (toString $timeoutMs) "--config" "/etc/crm/config.toml" -}}
{{- $_ := set $p "exec" (dict "command" $cmd) -}}
{{- else -}}
{{- $grpc := dict "port" (include "crm.grpcPort" . | int) -}}
{{- if .service -}}
{{- $_ := set $grpc "service" .service -}}
{{- end -}}
{{- $_ := set $p "grpc" $grpc -}}
{{- end -}}
{{- end -}}
{{- toYaml $p -}}
{{- end -}}

{{/*
Pod-level scheduling fields shared by a service's Deployment and migration Job.
*/}}
{{- define "crm.podScheduling" -}}
{{- $cfg := .cfg -}}
{{- with $cfg.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $cfg.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $cfg.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $cfg.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $cfg.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The writable /tmp, the config file, for a personal-data service the PII keys (crm-pii: the
migration Job too, since it reads the same [pii] section) and, for a serving pod (.serving)
with auth on, its credentials, with tls on its certificate (crm-tls): volumes and mounts. crm-auth holds the pod's own token (audience auth.audience,
sent on its calls) and what it needs to fetch the JWKS: a token of the API server's audience
and the CA of the JWKS URL. The migration Job gets neither credentials nor certificate: it serves and calls nothing.
*/}}
{{- define "crm.volumes" -}}
{{- $a := .root.Values.auth -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .cfg.tmpSizeLimit }}
{{- if .cfg.config }}
- name: config
  configMap:
    name: {{ include "crm.configFileName" .cfg }}
{{- end }}
{{- if and .serving (include "crm.tlsOn" .root) }}
{{ include "crm.tlsVolume" . }}
{{- end }}
{{- if include "crm.piiMounted" . }}
{{ include "crm.piiVolume" . }}
{{- end }}
{{- if and .serving (include "crm.authOn" .root) }}
- name: crm-auth
  projected:
    sources:
      - serviceAccountToken:
          audience: {{ $a.audience | quote }}
          expirationSeconds: {{ int $a.tokenExpirationSeconds }}
          path: token
      {{- if $a.jwks.apiServerToken }}
      # No audience: the API server's own, for its /openid/v1/jwks.
      - serviceAccountToken:
          expirationSeconds: {{ int $a.tokenExpirationSeconds }}
          path: jwks/token
      {{- end }}
      {{- if $a.jwks.caConfigMap }}
      - configMap:
          name: {{ $a.jwks.caConfigMap }}
          items:
            - key: ca.crt
              path: jwks/ca.crt
      {{- end }}
{{- end }}
{{- end -}}
{{- define "crm.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .cfg.config }}
- name: config
  mountPath: /etc/crm
  readOnly: true
{{- end }}
{{- if and .serving (include "crm.authOn" .root) }}
- name: crm-auth
  mountPath: {{ include "crm.authDir" . }}
  readOnly: true
{{- end }}
{{- if and .serving (include "crm.tlsOn" .root) }}
- name: crm-tls
  mountPath: {{ include "crm.tlsDir" . }}
  readOnly: true
{{- end }}
{{- if include "crm.piiMounted" . }}
- name: crm-pii
  mountPath: {{ include "crm.piiDir" .root }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rule (a one-item list) from a {to, ports} block of values. */}}
{{- define "crm.egressRule" -}}
{{- $rule := dict "ports" .ports -}}
{{- with .to -}}
{{- $_ := set $rule "to" . -}}
{{- end -}}
{{- toYaml (list $rule) -}}
{{- end -}}

{{/*
data: of a service's ConfigMap (environment variables; consumed with envFrom).
*/}}
{{- define "crm.configData" -}}
{{- $root := .root -}}
{{- $cfg := .cfg -}}
CRM_SERVER__HOST: "0.0.0.0"
CRM_SERVER__PORT: {{ include "crm.grpcPort" . | quote }}
# Migrations run in the migration Job, never in the serving pods.
CRM_DATABASE__MIGRATE_ON_START: "false"
# Cache keys are "<prefix>:<service>:...": one prefix per release, so releases sharing a Redis
# never read each other's entries.
CRM_CACHE__KEY_PREFIX: {{ include "crm.fullname" $root | quote }}
CRM_TELEMETRY__FORMAT: json
CRM_TELEMETRY__LEVEL: {{ $cfg.logLevel | quote }}
{{- $clients := $cfg.clientsSection | default "clients" | upper | replace "." "__" }}
{{- range $callee := $cfg.callees | default list | sortAlpha }}
CRM_{{ $clients }}__{{ $callee | upper | replace "-" "_" }}_URL: {{ include "crm.serviceAddress" (dict "root" $root "name" $callee) | quote }}
{{- end }}
OTEL_SERVICE_NAME: {{ $cfg.binary | quote }}
{{- with $root.Values.otel.endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: grpc
{{- end }}
{{- end -}}

{{/* The optional config file (TOML). */}}
{{- define "crm.configFile" -}}
{{- if .cfg.config -}}
{{- include "crm.tomlTable" (dict "path" "" "map" .cfg.config) | trim -}}
{{- end -}}
{{- end -}}

{{/*
A small TOML writer. Helm's toToml writes every number from a values file as a float
("max_connections = 30.0"), which an integer setting rejects; here integral numbers are written
as integers, strings as JSON-escaped basic strings, maps as [tables] or inline tables in arrays.
*/}}
{{- define "crm.tomlKey" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}
{{- define "crm.tomlValue" -}}
{{- $v := . -}}
{{- if kindIs "string" $v -}}{{ toJson $v }}
{{- else if kindIs "bool" $v -}}{{ $v }}
{{- else if or (kindIs "float64" $v) (kindIs "float32" $v) -}}
{{- if eq (float64 $v) (floor $v) -}}{{ int64 $v }}{{- else -}}{{ $v }}{{- end -}}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) (kindIs "int32" $v) (kindIs "uint64" $v) -}}{{ $v }}
{{- else if kindIs "slice" $v -}}
[{{ range $i, $e := $v }}{{ if $i }}, {{ end }}{{ include "crm.tomlValue" $e }}{{ end }}]
{{- else if kindIs "map" $v -}}
{ {{- range $i, $k := keys $v | sortAlpha }}{{ if $i }},{{ end }} {{ include "crm.tomlKey" $k }} = {{ include "crm.tomlValue" (get $v $k) }}{{ end }} }
{{- else -}}
{{- fail (printf "config: a %s value cannot be written as TOML (TOML has no null)" (kindOf $v)) -}}
{{- end -}}
{{- end -}}
{{/* "true" for a non-empty list of maps only: written as an array of tables ([[x]]). */}}
{{- define "crm.tomlIsTableArray" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) -}}
{{- $all := true -}}
{{- range . }}{{ if not (kindIs "map" .) }}{{ $all = false }}{{ end }}{{ end -}}
{{- if $all }}true{{ end -}}
{{- end -}}
{{- end -}}
{{- define "crm.tomlTable" -}}
{{- $m := .map -}}
{{- $path := .path -}}
{{- range $k := keys $m | sortAlpha }}
{{- $v := get $m $k }}
{{- if not (or (kindIs "map" $v) (include "crm.tomlIsTableArray" $v)) }}
{{ include "crm.tomlKey" $k }} = {{ include "crm.tomlValue" $v }}
{{- end }}
{{- end }}
{{- range $k := keys $m | sortAlpha }}
{{- $v := get $m $k }}
{{- $p := include "crm.tomlKey" $k }}
{{- if $path }}{{ $p = printf "%s.%s" $path $p }}{{ end }}
{{- if kindIs "map" $v }}

[{{ $p }}]
{{- include "crm.tomlTable" (dict "path" $p "map" $v) }}
{{- else if include "crm.tomlIsTableArray" $v }}
{{- range $item := $v }}

[[{{ $p }}]]
{{- include "crm.tomlTable" (dict "path" $p "map" $item) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Checksum of everything a service's pods read from ConfigMaps. */}}
{{- define "crm.configChecksum" -}}
{{- print (include "crm.configData" .) "\n---\n" (include "crm.configFile" .) | sha256sum -}}
{{- end -}}
