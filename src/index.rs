//! The synthesised `index.yaml` served to Helm by the getter.
