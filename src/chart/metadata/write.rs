//! `Chart.yaml` and `Chart.lock` as `helm package` writes them.

use super::super::yaml::{self, Out};
use super::{Dependency, Lock, Metadata};

impl Metadata {
    /// The data `helm package` writes as `Chart.yaml` (v1 charts drop `dependencies`).
    fn to_out(&self) -> Out {
        let mut m: Vec<(String, Out)> = Vec::new();
        let mut s = |k: &str, v: &str| {
            if !v.is_empty() {
                m.push((k.into(), Out::Str(v.into())));
            }
        };
        s("name", &self.name);
        s("home", &self.home);
        s("version", &self.version);
        s("description", &self.description);
        s("icon", &self.icon);
        s("apiVersion", &self.api_version);
        s("condition", &self.condition);
        s("tags", &self.tags);
        s("appVersion", &self.app_version);
        s("kubeVersion", &self.kube_version);
        s("type", &self.chart_type);
        if !self.sources.is_empty() {
            m.push(("sources".into(), str_seq(&self.sources)));
        }
        if !self.keywords.is_empty() {
            m.push(("keywords".into(), str_seq(&self.keywords)));
        }
        if !self.maintainers.is_empty() {
            let items = self
                .maintainers
                .iter()
                .map(|mt| {
                    let mut e = Vec::new();
                    for (k, v) in [("name", &mt.name), ("email", &mt.email), ("url", &mt.url)] {
                        if !v.is_empty() {
                            e.push((k.to_string(), Out::Str(v.clone())));
                        }
                    }
                    Out::Map(e)
                })
                .collect();
            m.push(("maintainers".into(), Out::Seq(items)));
        }
        if self.deprecated {
            m.push(("deprecated".into(), Out::Bool(true)));
        }
        if !self.annotations.is_empty() {
            m.push((
                "annotations".into(),
                Out::Map(
                    self.annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), Out::Str(v.clone())))
                        .collect(),
                ),
            ));
        }
        if self.api_version != "v1" && !self.dependencies.is_empty() {
            m.push((
                "dependencies".into(),
                Out::Seq(self.dependencies.iter().map(Dependency::to_out).collect()),
            ));
        }
        Out::Map(m)
    }

    /// `Chart.yaml` as `helm package` writes it: keys sorted as Go's YAML marshaller sorts
    /// them, empty fields omitted, `dependencies` omitted for `apiVersion: v1`.
    pub fn to_yaml(&self) -> String {
        yaml::emit_document(&self.to_out())
    }
}

impl Dependency {
    fn to_out(&self) -> Out {
        let mut e = vec![
            ("name".to_string(), Out::Str(self.name.clone())),
            ("repository".to_string(), Out::Str(self.repository.clone())),
        ];
        for (k, v) in [
            ("version", &self.version),
            ("condition", &self.condition),
            ("alias", &self.alias),
        ] {
            if !v.is_empty() {
                e.push((k.to_string(), Out::Str(v.clone())));
            }
        }
        if !self.tags.is_empty() {
            e.push(("tags".into(), str_seq(&self.tags)));
        }
        if self.enabled {
            e.push(("enabled".into(), Out::Bool(true)));
        }
        if !self.import_values.is_empty() {
            e.push(("import-values".into(), Out::Seq(self.import_values.clone())));
        }
        Out::Map(e)
    }
}

impl Lock {
    /// `Chart.lock` as `helm package` writes it.
    pub fn to_yaml(&self) -> String {
        let deps = match &self.dependencies {
            None => Out::Null,
            Some(d) => Out::Seq(
                d.iter()
                    .map(|x| x.as_ref().map_or(Out::Null, Dependency::to_out))
                    .collect(),
            ),
        };
        yaml::emit_document(&Out::Map(vec![
            ("generated".into(), Out::Str(self.generated.clone())),
            ("digest".into(), Out::Str(self.digest.clone())),
            ("dependencies".into(), deps),
        ]))
    }
}

fn str_seq(v: &[String]) -> Out {
    Out::Seq(v.iter().map(|s| Out::Str(s.clone())).collect())
}
