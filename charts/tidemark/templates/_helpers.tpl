{{/* The chart's name, or nameOverride. */}}
{{- define "tidemark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name (or fullnameOverride), at most 63 characters. */}}
{{- define "tidemark.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "tidemark.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the operator's Pods (never change after install). */}}
{{- define "tidemark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tidemark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Labels on every object: the standard ones plus extraLabels. */}}
{{- define "tidemark.labels" -}}
{{ include "tidemark.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tidemark
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of the CRDs: the standard ones without the operator's component, plus extraLabels. */}}
{{- define "tidemark.crdLabels" -}}
app.kubernetes.io/name: {{ include "tidemark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: crd
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tidemark
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tidemark.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tidemark.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tidemark.operatorImage" -}}
{{- $img := .Values.operator.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* The default runner image: repository@digest, or repository:tag (tag empty: appVersion). */}}
{{- define "tidemark.runnerImage" -}}
{{- $img := .Values.runner.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The pod defaults of runner Jobs as the operator reads them (TIDEMARK_JOB_DEFAULTS, JSON):
only the settings that are set. Missing keys (values of an older chart reused on upgrade)
are no defaults.
*/}}
{{- define "tidemark.jobDefaults" -}}
{{- $runner := .Values.runner | default dict -}}
{{- $out := dict -}}
{{- range $key := list "imagePullSecrets" "resources" "nodeSelector" "tolerations" -}}
{{- with get $runner $key -}}
{{- $_ := set $out $key . -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The rules the operator needs in every namespace it watches. Each verb is there for
one thing the operator does; nothing else is granted.
*/}}
{{- define "tidemark.watchRules" -}}
# BackupPolicies and RestoreRequests: the controllers list and watch them (informers)
# and get one before acting. patch: adding/removing the operator's finalizer (a
# metadata patch). No create/update/delete: users own these objects.
- apiGroups: [tidemark.dev]
  resources: [backuppolicies, restorerequests]
  verbs: [get, list, watch, patch]
# Status is written with server-side apply, which is a PATCH on the status subresource.
- apiGroups: [tidemark.dev]
  resources: [backuppolicies/status, restorerequests/status]
  verbs: [patch]
# Jobs carry an owner reference with blockOwnerDeletion to their policy or request;
# clusters with the OwnerReferencesPermissionEnforcement admission plugin require
# update on the owner's finalizers subresource for that.
- apiGroups: [tidemark.dev]
  resources: [backuppolicies/finalizers, restorerequests/finalizers]
  verbs: [update]
# Backup, verify, prune, restore-test and restore runs are Jobs: created once per run
# (deterministic names), watched for completion, deleted when a run is cancelled or its
# policy/request is deleted with deletionPolicy Delete (purge).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
# The runner's result is the Pod's termination message
# (status.containerStatuses[].state.terminated.message); read only.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# One Kubernetes Event per run (kube-rs Recorder: events.k8s.io/v1, create and patch to
# update a repeated event's series).
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# The same Events through core/v1 (the API serves both; some clients still use it).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- if dig "stopWriters" "enabled" true (.Values.rbac | merge dict) }}
# Optional (rbac.stopWriters.enabled, on by default): RestoreRequest spec.stopWriters.
# Read the writers' replica count, scale them to zero before the restore and back
# afterwards (patch on the scale subresource; get on the workload to remember and wait
# for its replicas). Any Deployment or StatefulSet in the watched namespaces.
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, patch]
# The scale subresource of the same writers: read and set spec.replicas.
- apiGroups: [apps]
  resources: [deployments/scale, statefulsets/scale]
  verbs: [get, patch]
{{- end }}
{{- if .Values.rbac.webhookSecrets.enabled }}
# Optional (rbac.webhookSecrets.enabled): the webhook URL of spec.notifications is read
# from a Secret. get only (no list/watch){{ if .Values.rbac.webhookSecrets.names }}, and only the Secrets named here{{ end }}.
# Database, S3 and age-identity Secrets are never read by the operator.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- with .Values.rbac.webhookSecrets.names }}
  resourceNames:
{{ toYaml . | indent 4 }}
{{- end }}
{{- end }}
{{- end -}}
