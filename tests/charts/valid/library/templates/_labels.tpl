{{- define "library.labels" -}}
app: {{ .Chart.Name }}
{{- end -}}
