//! What a request path asks for. Pure: the raw path (as the request line has it) in, a
//! [`Route`] out. Only the routes below exist; anything else, and any path that is not plainly
//! one of them once percent-decoded (`..`, `.`, empty segments, backslashes, NUL), is
//! [`Route::NotFound`].

use crate::getter::index::is_safe_file_name;

/// A request's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Healthz,
    Readyz,
    Metrics,
    /// `index.yaml` of the repository at this position.
    Index(usize),
    /// `charts/FILE` of the repository at this position: a package or its provenance file.
    File(usize, String),
    NotFound,
}

impl Route {
    /// The label `/metrics` counts requests by (never the path itself: that is unbounded).
    pub fn label(&self) -> &'static str {
        match self {
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::Metrics => "metrics",
            Route::Index(_) => "index",
            Route::File(_, f) if f.ends_with(".prov") => "provenance",
            Route::File(..) => "package",
            Route::NotFound => "other",
        }
    }
}

/// Names a repository may be served under with `--repo NAME=REPO`: a plain path segment that
/// is none of the operational routes.
pub fn valid_repo_name(name: &str) -> bool {
    is_safe_file_name(name)
        && !matches!(
            name,
            "healthz" | "readyz" | "metrics" | "index.yaml" | "charts"
        )
}

/// Routes `raw_path`. `prefixes` are the repositories' names in order; a single empty name
/// serves that repository at `/`.
pub fn route(raw_path: &str, prefixes: &[String]) -> Route {
    let Some(decoded) = decode(raw_path) else {
        return Route::NotFound;
    };
    let Some(rest) = decoded.strip_prefix('/') else {
        return Route::NotFound;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Route::NotFound;
    }
    match segments.as_slice() {
        ["healthz"] => return Route::Healthz,
        ["readyz"] => return Route::Readyz,
        ["metrics"] => return Route::Metrics,
        _ => {}
    }
    let (repo, tail) = if prefixes.len() == 1 && prefixes[0].is_empty() {
        (0, &segments[..])
    } else {
        let Some(at) = prefixes
            .iter()
            .position(|p| !p.is_empty() && p == segments[0])
        else {
            return Route::NotFound;
        };
        (at, &segments[1..])
    };
    match tail {
        ["index.yaml"] => Route::Index(repo),
        ["charts", file]
            if is_safe_file_name(file)
                && (file.ends_with(".tgz") || file.ends_with(".tgz.prov")) =>
        {
            Route::File(repo, file.to_string())
        }
        _ => Route::NotFound,
    }
}

/// Percent-decodes a path; None when it holds what no route has (a backslash, a NUL or other
/// control byte, invalid UTF-8, a malformed or `/` escape) before or after decoding.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            // An escaped slash would split or join segments unseen: no route has one.
            if b == b'/' {
                return None;
            }
            out.push(b);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if out.iter().any(|&b| b == b'\\' || b < 0x20 || b == 0x7f) {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one() -> Vec<String> {
        vec![String::new()]
    }

    fn two() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn routes_of_one_repository_at_the_root() {
        assert_eq!(route("/index.yaml", &one()), Route::Index(0));
        assert_eq!(
            route("/charts/app-1.0.0.tgz", &one()),
            Route::File(0, "app-1.0.0.tgz".into())
        );
        assert_eq!(
            route("/charts/app-1.0.0%2Bb.1.tgz.prov", &one()),
            Route::File(0, "app-1.0.0+b.1.tgz.prov".into())
        );
        assert_eq!(route("/healthz", &one()), Route::Healthz);
        assert_eq!(route("/readyz", &one()), Route::Readyz);
        assert_eq!(route("/metrics", &one()), Route::Metrics);
        assert_eq!(route("/a/index.yaml", &one()), Route::NotFound);
    }

    #[test]
    fn routes_of_named_repositories() {
        assert_eq!(route("/b/index.yaml", &two()), Route::Index(1));
        assert_eq!(
            route("/a/charts/x-1.tgz", &two()),
            Route::File(0, "x-1.tgz".into())
        );
        assert_eq!(route("/index.yaml", &two()), Route::NotFound);
        assert_eq!(route("/c/index.yaml", &two()), Route::NotFound);
    }

    #[test]
    fn anything_else_is_not_found() {
        for bad in [
            "",
            "/",
            "/index.yaml/",
            "//index.yaml",
            "/charts//x-1.tgz",
            "/charts/../index.yaml",
            "/charts/%2e%2e/index.yaml",
            "/charts/%2E%2E%2Fx-1.tgz",
            "/charts/..%2fx-1.tgz",
            "/./index.yaml",
            "/charts/x-1.tgz%00",
            "/charts\\x-1.tgz",
            "/charts/%5cx-1.tgz",
            "/charts/x-1.tar",
            "/charts/x%zz.tgz",
            "/charts/x-1.tgz/more",
            "/charts/a b.tgz",
            "/Healthz",
            "/etc/passwd",
        ] {
            assert_eq!(route(bad, &one()), Route::NotFound, "{bad:?}");
        }
        assert_eq!(route("/a/../b/index.yaml", &two()), Route::NotFound);
        assert_eq!(route("/a%2fcharts%2fx-1.tgz", &two()), Route::NotFound);
    }

    #[test]
    fn repository_names() {
        assert!(valid_repo_name("stable"));
        for bad in [
            "", ".", "..", "a/b", "healthz", "metrics", "readyz", "charts",
        ] {
            assert!(!valid_repo_name(bad), "{bad}");
        }
    }
}
