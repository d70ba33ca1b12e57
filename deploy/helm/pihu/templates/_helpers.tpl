{{/* The chart's name. */}}
{{- define "pihu.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, used for every object. */}}
{{- define "pihu.fullname" -}}
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

{{- define "pihu.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "pihu.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pihu.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pihu.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pihu.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pihu.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the database and Redis URLs. */}}
{{- define "pihu.secretName" -}}
{{- default (include "pihu.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Whether the database is SQLite, on the volume at /data. */}}
{{- define "pihu.sqlite" -}}
{{- if eq .Values.database.type "sqlite" }}true{{ end }}
{{- end }}

{{/*
The shapes that cannot work, refused at install rather than discovered in
production: SQLite on several instances (each would have its own database,
or corrupt a shared one), several instances without Redis (each would keep
its own rate limits and revocation cache), PostgreSQL without a URL.
*/}}
{{- define "pihu.validate" -}}
{{- if not (has .Values.database.type (list "sqlite" "postgres")) }}
{{- fail (printf "database.type %q: use sqlite or postgres" .Values.database.type) }}
{{- end }}
{{- if and (include "pihu.sqlite" .) (gt (int .Values.replicaCount) 1) }}
{{- fail "database.type sqlite serves one instance: set replicaCount 1, or database.type postgres with database.url and redis.url for several" }}
{{- end }}
{{- if and (not (include "pihu.sqlite" .)) (not .Values.existingSecret) (not .Values.database.url) }}
{{- fail "database.type postgres needs database.url (postgres://…) or existingSecret" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.existingSecret) (not .Values.redis.url) }}
{{- fail "several instances need redis.url (or existingSecret with it), to share rate limits and revocations" }}
{{- end }}
{{- if ne (empty .Values.config.trustedProxyHeader) (empty .Values.config.trustedProxies) }}
{{- fail "config.trustedProxyHeader and config.trustedProxies go together: set both or neither" }}
{{- end }}
{{- end }}
