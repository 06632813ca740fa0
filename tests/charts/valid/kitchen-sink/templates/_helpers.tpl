{{- define "ks.name" -}}kitchen-sink{{- end -}}
