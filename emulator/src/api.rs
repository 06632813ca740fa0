//! The CCR Helm chart API: authentication, routing and the eight endpoints.

use serde_json::{json, Value};

use crate::auth::{self, RequestParts};
use crate::http::{Body, Request, Response};
use crate::multipart;
use crate::store::{parse_chart, StoreError};
use crate::Shared;

/// A CCR error response: `{"code","message","requestId"}`.
pub(crate) fn error(status: u16, code: &str, message: &str, rid: &str) -> Response {
    Response::json(
        status,
        &json!({"code": code, "message": message, "requestId": rid}),
    )
}

fn bad(message: &str, rid: &str) -> Response {
    error(400, "InvalidParameter", message, rid)
}

fn not_found(message: &str, rid: &str) -> Response {
    error(404, "NotFound", message, rid)
}

/// Decoded path segments, or `None` when one is not UTF-8.
fn segments(raw_path: &str) -> Option<Vec<String>> {
    let mut segs: Vec<String> = raw_path
        .split('/')
        .skip(1)
        .map(|s| String::from_utf8(auth::percent_decode(s)).ok())
        .collect::<Option<_>>()?;
    if segs.len() > 1 && segs.last().is_some_and(String::is_empty) {
        segs.pop();
    }
    Some(segs)
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Query {
        Query(
            auth::parse_query(raw)
                .into_iter()
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(&k).into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    )
                })
                .collect(),
        )
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

/// Applies `pageNo`/`pageSize` and builds the list body.
fn page(items: Vec<Value>, q: &Query, rid: &str) -> Response {
    let num = |k: &str, default: u64| -> Result<u64, Response> {
        match q.get(k) {
            None | Some("") => Ok(default),
            Some(s) => match s.trim().parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(bad(&format!("{k} must be a positive integer"), rid)),
            },
        }
    };
    let page_no = match num("pageNo", 1) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let page_size = match num("pageSize", 10) {
        Ok(n) => n.min(100),
        Err(r) => return r,
    };
    let total = items.len();
    let start = (page_no - 1).saturating_mul(page_size);
    let page: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(page_size as usize)
        .collect();
    Response::json(
        200,
        &json!({"total": total, "pageNo": page_no, "pageSize": page_size, "items": page}),
    )
}

fn json_items(body: &[u8], rid: &str) -> Result<Vec<String>, Response> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(&format!("body is not JSON: {e}"), rid))?;
    let items = v
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("body must be {\"items\":[...]}", rid))?;
    let names: Option<Vec<String>> = items
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect();
    match names {
        Some(n) if !n.is_empty() => Ok(n),
        Some(_) => Err(bad("items must not be empty", rid)),
        None => Err(bad("items must be strings", rid)),
    }
}

fn store_err(e: StoreError, rid: &str) -> Response {
    match e {
        StoreError::Conflict(m) => error(409, "StatusConflict", &m, rid),
        StoreError::NotFound(m) => not_found(&m, rid),
        StoreError::Io(m) => error(500, "InternalError", &format!("storage failed: {m}"), rid),
    }
}

/// Authenticates and answers one API request.
pub(crate) fn handle(shared: &Shared, req: &Request, rid: &str) -> Response {
    let now = shared.now();
    let parts = RequestParts {
        method: &req.method,
        raw_path: &req.path,
        raw_query: &req.query,
        headers: &req.headers,
    };
    if let Err(e) = auth::verify(&parts, &shared.keys, now) {
        return error(e.status, e.code, &e.message, rid);
    }
    let Some(segs) = segments(&req.path) else {
        return bad("path is not UTF-8 after decoding", rid);
    };
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (inst, proj, rest) = match s.as_slice() {
        ["v1", "instances", i, "projects", p, "charts", rest @ ..]
            if !i.is_empty() && !p.is_empty() =>
        {
            (*i, *p, rest)
        }
        _ => return not_found(&format!("no such API: {}", req.path), rid),
    };
    if rest.iter().any(|x| x.is_empty()) {
        return not_found(&format!("no such API: {}", req.path), rid);
    }
    let q = Query::parse(&req.query);
    let method = if req.method == "HEAD" {
        "GET"
    } else {
        req.method.as_str()
    };
    match (method, rest) {
        ("GET", []) => {
            let filter = q.get("chartName").unwrap_or("");
            let items = lock(&shared.store).list_charts(inst, proj, filter);
            page(items, &q, rid)
        }
        ("POST", []) => upload(shared, req, inst, proj, now, rid),
        ("DELETE", []) => match json_items(&req.body, rid) {
            Ok(names) => match lock(&shared.store).delete_charts(inst, proj, &names) {
                Ok(()) => Response::empty(200),
                Err(e) => store_err(e, rid),
            },
            Err(r) => r,
        },
        ("GET", ["download", file]) if *file != "versions" => {
            match lock(&shared.store).download(inst, proj, file) {
                Some(data) => Response {
                    status: 200,
                    headers: vec![("Content-Type".into(), "application/x-tar".into())],
                    body: Body::Shared(data),
                },
                None => not_found(&format!("file not found: {file}"), rid),
            }
        }
        ("DELETE", [chart]) => {
            match lock(&shared.store).delete_charts(inst, proj, &[chart.to_string()]) {
                Ok(()) => Response::empty(200),
                Err(e) => store_err(e, rid),
            }
        }
        ("GET", [chart, "versions"]) => {
            let filter = q.get("chartVersion").unwrap_or("");
            let items = lock(&shared.store).list_versions(inst, proj, chart, filter);
            match items {
                Some(items) => page(items, &q, rid),
                None => not_found(&format!("chart not found: {chart}"), rid),
            }
        }
        ("DELETE", [chart, "versions"]) => match json_items(&req.body, rid) {
            Ok(vs) => match lock(&shared.store).delete_versions(inst, proj, chart, &vs) {
                Ok(()) => Response::empty(200),
                Err(e) => store_err(e, rid),
            },
            Err(r) => r,
        },
        ("DELETE", [chart, "versions", version]) => {
            match lock(&shared.store).delete_versions(inst, proj, chart, &[version.to_string()]) {
                Ok(()) => Response::empty(200),
                Err(e) => store_err(e, rid),
            }
        }
        (_, [] | ["download", _] | [_] | [_, "versions"] | [_, "versions", _]) => error(
            405,
            "MethodNotAllowed",
            &format!("{} is not allowed here", req.method),
            rid,
        ),
        _ => not_found(&format!("no such API: {}", req.path), rid),
    }
}

fn upload(shared: &Shared, req: &Request, inst: &str, proj: &str, now: i64, rid: &str) -> Response {
    let Some(boundary) = req.header("content-type").and_then(multipart::boundary) else {
        return bad("upload must be multipart/form-data with a boundary", rid);
    };
    let parts = match multipart::parse(&req.body, &boundary) {
        Ok(p) => p,
        Err(e) => return bad(&format!("bad multipart body: {e}"), rid),
    };
    let mut chart = None;
    let mut prov = None;
    for p in parts {
        let slot = match p.name.as_str() {
            "chart" => &mut chart,
            "prov" => &mut prov,
            _ => continue,
        };
        if slot.is_some() {
            return bad(&format!("duplicate form field {}", p.name), rid);
        }
        *slot = Some(p.data);
    }
    let Some(chart) = chart else {
        return bad("missing form file field \"chart\"", rid);
    };
    if let Some(max) = shared.max_chart_size {
        if chart.len() as u64 > max {
            return error(
                413,
                "EntityTooLarge",
                &format!("chart is {} bytes, the limit is {max}", chart.len()),
                rid,
            );
        }
    }
    let parsed = match parse_chart(&chart) {
        Ok(p) => p,
        Err(e) => return error(400, "InvalidChart", &e, rid),
    };
    let overwrite = shared.settings().overwrite;
    let result = lock(&shared.store).insert(inst, proj, &parsed, chart, prov, now, overwrite);
    match result {
        Ok(()) => Response::json(201, &json!({"success": true, "result": null})),
        Err(e) => store_err(e, rid),
    }
}

/// Locks a mutex, recovering from poisoning (a panicking test thread must not wedge the server).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
