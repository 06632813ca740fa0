{{- define "libsub.label" -}}lib{{- end -}}
