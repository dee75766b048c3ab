{{/*
Names and labels shared by every template.
*/}}

{{/* Chart name, overridable. */}}
{{- define "authgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "authgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Selector labels of the operator's pods: stable across upgrades (a Deployment's
selector is immutable), so they keep app.kubernetes.io/component: operator. */}}
{{- define "authgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "authgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Common labels: who made the object. No component: CRDs, the provider and the
test pod are not the operator; each object that is adds "authgate.operatorLabels". */}}
{{- define "authgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "authgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: authgate
{{- end }}

{{/* Common labels plus component: operator, for the operator's own objects. */}}
{{- define "authgate.operatorLabels" -}}
{{ include "authgate.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator (and default sidecar) image reference. */}}
{{- define "authgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The ServiceAccount name. */}}
{{- define "authgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "authgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret holding the webhook's serving certificate. */}}
{{- define "authgate.webhookSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "authgate.fullname" .)) .Values.webhook.certificate.existingSecret }}
{{- end }}

{{/* In-cluster DNS name of the Service. */}}
{{- define "authgate.serviceHost" -}}
{{- printf "%s.%s.svc" (include "authgate.fullname" .) .Release.Namespace }}
{{- end }}

{{/* Rules the operator needs in every namespace it watches. */}}
{{- define "authgate.namespacedRules" -}}
- apiGroups: [authgate.io]
  resources: [oidcproviders]
  verbs: [get, list, watch, patch]
- apiGroups: [authgate.io]
  resources: [oidcproviders/status]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, patch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.accessKeys.enabled }}
- apiGroups: [authgate.io]
  resources: [accesskeys]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, update]
{{- end }}
{{- end }}

{{/* Arguments of the operator container (the image's entrypoint is `authgate`). */}}
{{- define "authgate.operatorArgs" -}}
- operator
{{- if .Values.operator.watchNamespaces }}
{{- range .Values.operator.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- else }}
- --all-namespaces
{{- end }}
{{- if .Values.operator.leaderElection }}
- --peering={{ include "authgate.fullname" . }}
{{- else }}
- --standalone
{{- end }}
- --discovery-port={{ .Values.service.targetPort }}
- --public-url=http://{{ include "authgate.serviceHost" . }}:{{ .Values.service.port }}
- --sidecar-image={{ default (include "authgate.image" .) .Values.sidecar.image }}
{{- if .Values.webhook.enabled }}
- --webhook-port={{ .Values.webhook.port }}
- --webhook-host={{ include "authgate.serviceHost" . }}
- --cert-dir=/etc/authgate/webhook
{{- else }}
- --webhook-port=0
{{- end }}
{{- if eq .Values.operator.logLevel "debug" }}
- --verbose
{{- end }}
{{- range .Values.operator.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* Fields both injection webhooks share; called with (dict "ctx" $ "caBundle" $caBundle). */}}
{{- define "authgate.webhookCommon" -}}
{{- $ := .ctx -}}
admissionReviewVersions: [v1]
sideEffects: None
failurePolicy: {{ $.Values.webhook.failurePolicy }}
# A later webhook may add containers; run again so the sidecar sees the final spec.
reinvocationPolicy: IfNeeded
matchPolicy: Equivalent
timeoutSeconds: {{ $.Values.webhook.timeoutSeconds }}
clientConfig:
  caBundle: {{ .caBundle }}
  service:
    name: {{ include "authgate.fullname" $ }}
    namespace: {{ $.Release.Namespace }}
    path: {{ $.Values.webhook.path }}
    port: 443
rules:
  - operations: [CREATE]
    apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
    scope: Namespaced
{{- end }}
