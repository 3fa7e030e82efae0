{{/* Namespace of the custom location: where CRs and workloads live. */}}
{{- define "iotmq.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "iotmq.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "iotmq.labels" -}}
app.kubernetes.io/part-of: iotmq
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "iotmq.agentName" -}}{{ printf "%s-agent" .Release.Name | trunc 63 }}{{- end -}}
{{- define "iotmq.operatorName" -}}{{ printf "%s-operator" .Release.Name | trunc 63 }}{{- end -}}
{{- define "iotmq.identitySecret" -}}{{ default (printf "%s-identity" .Release.Name) .Values.identity.existingSecret }}{{- end -}}

{{/* The custom resource kinds of group mq.iotoperations.azure.com, as resource names (plurals). */}}
{{- define "iotmq.crResources" -}}
- brokers
- brokerlisteners
- brokerauthentications
- brokerauthorizations
- diagnosticservices
- mqttbridgeconnectors
- mqttbridgetopicmaps
- kafkaconnectors
- kafkaconnectortopicmaps
- datalakeconnectors
- datalakeconnectortopicmaps
{{- end -}}

{{- define "iotmq.crSubresources" -}}
{{- $sub := .sub -}}
{{- range (include "iotmq.crResources" .root | fromYamlArray) }}
- {{ . }}/{{ $sub }}
{{- end }}
{{- end -}}

{{/* Validates values once; rendering fails with a message instead of a broken release. */}}
{{- define "iotmq.validate" -}}
{{- $_ := required "rpEndpoint is required (the RP's https URL)" .Values.rpEndpoint -}}
{{- $_ := required "clusterId is required" .Values.clusterId -}}
{{- if not (hasPrefix "https://" .Values.rpEndpoint) -}}{{- fail "rpEndpoint must be an https:// URL" -}}{{- end -}}
{{- $wi := .Values.identity.workloadIdentity.enabled -}}
{{- $sp := or .Values.identity.clientSecret .Values.identity.existingSecret -}}
{{- if and $wi $sp -}}{{- fail "identity: set workloadIdentity.enabled or a client secret, not both" -}}{{- end -}}
{{- if not (or $wi $sp) -}}{{- fail "identity: set workloadIdentity.enabled, identity.clientSecret or identity.existingSecret" -}}{{- end -}}
{{- if and (not .Values.identity.existingSecret) (not (and .Values.identity.tenantId .Values.identity.clientId)) -}}{{- fail "identity.tenantId and identity.clientId are required" -}}{{- end -}}
{{- end -}}
