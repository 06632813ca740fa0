//! One request: route, authenticate, answer, count and log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::body::Body;
use super::index::{Answer, Built};
use super::metrics::{IndexGauge, Metrics};
use super::routes::{self, Route};
use super::App;

/// The longest a request's answer may take to start (an upstream download included).
const REQUEST_LIMIT: Duration = Duration::from_secs(600);

pub async fn handle<B>(app: Arc<App>, req: Request<B>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = routes::route(&path, &app.prefixes);
    let label = route.label();
    let resp = match tokio::time::timeout(REQUEST_LIMIT, answer(&app, &req, &route)).await {
        Ok(r) => r,
        Err(_) => plain(
            StatusCode::GATEWAY_TIMEOUT,
            "the upstream registry took too long\n",
        ),
    };
    let status = resp.status().as_u16();
    let bytes = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bytes = if method == Method::HEAD { 0 } else { bytes };
    if matches!(route, Route::File(..)) && status == 200 {
        Metrics::add(&app.metrics.served_bytes, bytes);
    }
    app.metrics.request(label, status);
    super::log::request(method.as_str(), &path, status, bytes, started.elapsed());
    if method == Method::HEAD {
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    resp
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::text(text.to_string()));
    *r.status_mut() = status;
    set(
        r.headers_mut(),
        header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    );
    set(
        r.headers_mut(),
        header::CONTENT_LENGTH,
        &text.len().to_string(),
    );
    r
}

fn set(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

async fn answer<B>(app: &App, req: &Request<B>, route: &Route) -> Response<Body> {
    if *req.method() != Method::GET && *req.method() != Method::HEAD {
        if *route == Route::NotFound {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        }
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        set(r.headers_mut(), header::ALLOW, "GET, HEAD");
        return r;
    }
    match route {
        Route::Healthz => return plain(StatusCode::OK, "ok\n"),
        Route::Readyz => {
            let waiting: Vec<&str> = app
                .indexes
                .iter()
                .filter(|c| !c.ready())
                .map(|c| c.name.as_str())
                .collect();
            return if waiting.is_empty() {
                plain(StatusCode::OK, "ready\n")
            } else {
                plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("no index to serve yet for: {}\n", waiting.join(", ")),
                )
            };
        }
        _ => {}
    }
    let public =
        app.public_provenance && matches!(route, Route::File(_, f) if f.ends_with(".prov"));
    if (app.auth.is_some() || app.tokens.is_some()) && !public {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let by_token = app.tokens.as_ref().is_some_and(|t| t.allows(given));
        let allowed = by_token
            || match &app.auth {
                Some(h) => h.allows(given).await,
                None => false,
            };
        if !allowed {
            let mut r = plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
            set(
                r.headers_mut(),
                header::WWW_AUTHENTICATE,
                super::auth::CHALLENGE,
            );
            if app.tokens.is_some() {
                r.headers_mut().append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(super::auth::BEARER_CHALLENGE),
                );
            }
            return r;
        }
    }
    if matches!(route, Route::Index(_) | Route::File(..)) {
        app.refresh_keys();
    }
    match route {
        Route::Metrics => {
            let gauges: Vec<IndexGauge> = app
                .indexes
                .iter()
                .map(|c| {
                    let (build_seconds, age_seconds) = c.gauges();
                    IndexGauge {
                        repo: c.name.clone(),
                        build_seconds,
                        age_seconds,
                    }
                })
                .collect();
            let text = app.metrics.render(&gauges);
            let mut r = plain(StatusCode::OK, &text);
            set(
                r.headers_mut(),
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            );
            r
        }
        Route::Index(i) => match app.indexes[*i].get().await {
            Answer::Fresh(built, warning) => index_response(req.headers(), &built, warning),
            Answer::Unavailable(reason) => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the index is unavailable: {reason}\n"),
            ),
        },
        Route::File(i, file) => file_response(app, *i, file).await,
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn index_response(headers: &HeaderMap, built: &Built, warning: Option<String>) -> Response<Body> {
    let last_modified = httpdate::fmt_http_date(built.last_modified);
    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        Some(v) => v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == built.etag)
        }),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| {
                // Whole seconds, as the header has them.
                let lm = httpdate::parse_http_date(&last_modified).unwrap_or(built.last_modified);
                lm <= since
            }),
    };
    let mut r = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::text(built.text.clone()));
        set(r.headers_mut(), header::CONTENT_TYPE, "application/x-yaml");
        set(
            r.headers_mut(),
            header::CONTENT_LENGTH,
            &built.text.len().to_string(),
        );
        r
    };
    let h = r.headers_mut();
    set(h, header::ETAG, &built.etag);
    set(h, header::LAST_MODIFIED, &last_modified);
    set(h, header::CACHE_CONTROL, "no-cache");
    if let Some(w) = warning {
        let reason: String = w
            .chars()
            .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
            .take(300)
            .collect();
        set(
            h,
            header::WARNING,
            &format!("110 - \"stale index: {reason}\""),
        );
    }
    r
}

async fn file_response(app: &App, repo: usize, file: &str) -> Response<Body> {
    let cache = &app.indexes[repo];
    let built = match cache.get().await {
        Answer::Fresh(built, _) => built,
        Answer::Unavailable(reason) => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the index is unavailable: {reason}\n"),
            )
        }
    };
    let package = file.strip_suffix(".prov").unwrap_or(file);
    let Some(version) = built.files.get(package).cloned() else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    for _ in 0..2 {
        let (path, size) = match app
            .packages
            .get(&app.registries[repo], file, &version)
            .await
        {
            Ok(got) => got,
            Err(f) => {
                super::log::event(&format!("{file}: {}", f.reason));
                let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY);
                let text = if f.status == 404 {
                    "not found\n".to_string()
                } else {
                    format!("the upstream registry failed: {}\n", f.reason)
                };
                return plain(status, &text);
            }
        };
        match tokio::fs::File::open(&path).await {
            Ok(f) => {
                let mut r = Response::new(Body::file(f, size));
                let h = r.headers_mut();
                let kind = if file.ends_with(".prov") {
                    "application/pgp-signature"
                } else {
                    "application/gzip"
                };
                set(h, header::CONTENT_TYPE, kind);
                set(h, header::CONTENT_LENGTH, &size.to_string());
                if let Some(d) = &version.digest {
                    if !file.ends_with(".prov") {
                        set(h, header::ETAG, &format!("\"{d}\""));
                    }
                }
                return r;
            }
            // Evicted (or removed by hand) between the look-up and the open: fetch again.
            Err(_) => app.packages.forget(&path),
        }
    }
    plain(StatusCode::BAD_GATEWAY, "the cache lost the file\n")
}
