//! The verifier against every vector computed by Baidu's official SDK.

use ccr_emulator::auth::{self, RequestParts};
use ccr_emulator::{clock, Key};
use serde_json::Value;

struct Vector {
    name: String,
    ak: String,
    sk: String,
    timestamp: String,
    expiration: u64,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    signed: Vec<String>,
    canonical_request: String,
    signing_key: String,
    authorization: String,
}

fn vectors() -> Vec<Vector> {
    let raw = include_str!("data/bce-auth-v1.json");
    let doc: Value = serde_json::from_str(raw).unwrap();
    let s = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            name: s(v, "name"),
            ak: s(v, "access_key_id"),
            sk: s(v, "secret_access_key"),
            timestamp: s(v, "timestamp"),
            expiration: v["expiration_seconds"].as_u64().unwrap(),
            method: s(v, "method"),
            path: s(v, "path"),
            // The query as it would travel: each pair encoded with the spec's encoder.
            query: v["query"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    format!(
                        "{}={}",
                        auth::uri_encode(p[0].as_str().unwrap().as_bytes()),
                        auth::uri_encode(p[1].as_str().unwrap().as_bytes())
                    )
                })
                .collect::<Vec<_>>()
                .join("&"),
            headers: v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
            signed: v["signed_headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect(),
            canonical_request: s(v, "canonical_request"),
            signing_key: s(v, "signing_key"),
            authorization: s(v, "authorization"),
        })
        .collect()
}

fn key_of(v: &Vector) -> Key {
    match v.headers.iter().find(|(n, _)| n == "x-bce-security-token") {
        Some((_, t)) => Key::with_token(&v.ak, &v.sk, t),
        None => Key::new(&v.ak, &v.sk),
    }
}

fn verify(
    v: &Vector,
    key: &Key,
    path: &str,
    query: &str,
    headers: &[(String, String)],
) -> Result<String, auth::AuthError> {
    let mut h = headers.to_vec();
    if !h.iter().any(|(n, _)| n == "authorization") {
        h.push(("Authorization".into(), v.authorization.clone()));
    }
    let now = clock::parse_rfc3339(&v.timestamp).unwrap();
    auth::verify(
        &RequestParts {
            method: &v.method,
            raw_path: path,
            raw_query: query,
            headers: &h,
        },
        std::slice::from_ref(key),
        now,
    )
}

fn change_byte(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[at] = if b[at] == b'a' { b'b' } else { b'a' };
    String::from_utf8(b).unwrap()
}

#[test]
fn all_vectors_reproduce_exactly() {
    let vs = vectors();
    assert_eq!(vs.len(), 9, "vector file changed");
    for v in &vs {
        let canon = auth::canonical_request(&v.method, &v.path, &v.query, &v.headers, &v.signed);
        assert_eq!(
            canon, v.canonical_request,
            "canonical request of {}",
            v.name
        );
        let prefix = auth::auth_string_prefix(&v.ak, &v.timestamp, v.expiration);
        assert_eq!(
            auth::signing_key(&v.sk, &prefix),
            v.signing_key,
            "signing key of {}",
            v.name
        );
        let a = auth::authorization(
            &v.ak,
            &v.sk,
            &v.timestamp,
            v.expiration,
            &v.method,
            &v.path,
            &v.query,
            &v.headers,
            &v.signed,
        );
        assert_eq!(a, v.authorization, "authorization of {}", v.name);
    }
}

#[test]
fn verifier_accepts_every_vector() {
    for v in &vectors() {
        let got = verify(v, &key_of(v), &v.path, &v.query, &v.headers);
        assert_eq!(got, Ok(v.ak.clone()), "{}", v.name);
        // Header names arrive in any case; the query in any order.
        let upper: Vec<(String, String)> = v
            .headers
            .iter()
            .map(|(n, val)| (n.to_ascii_uppercase(), format!(" {val} ")))
            .collect();
        let reordered: Vec<&str> = v.query.split('&').rev().collect();
        assert!(
            verify(v, &key_of(v), &v.path, &reordered.join("&"), &upper).is_ok(),
            "{}",
            v.name
        );
    }
}

#[test]
fn verifier_rejects_one_changed_byte() {
    for v in &vectors() {
        let key = key_of(v);
        let code = |r: Result<String, auth::AuthError>| r.err().map(|e| e.code);

        let mut bad_key = key.clone();
        bad_key.secret_access_key = change_byte(&key.secret_access_key, 0);
        assert_eq!(
            code(verify(v, &bad_key, &v.path, &v.query, &v.headers)),
            Some("SignatureDoesNotMatch"),
            "secret: {}",
            v.name
        );

        let path = change_byte(&v.path, v.path.len() - 1);
        assert_eq!(
            code(verify(v, &key, &path, &v.query, &v.headers)),
            Some("SignatureDoesNotMatch"),
            "path: {}",
            v.name
        );

        let query = if v.query.is_empty() {
            "a".to_string()
        } else {
            change_byte(&v.query, v.query.len() - 1)
        };
        assert_eq!(
            code(verify(v, &key, &v.path, &query, &v.headers)),
            Some("SignatureDoesNotMatch"),
            "query: {}",
            v.name
        );

        // Date: one byte of the seconds changed in both the header and the auth timestamp
        // (still within the allowed skew), so only the signature can catch it.
        let ts = &v.timestamp;
        let mut b = ts.as_bytes().to_vec();
        b[18] = if b[18] == b'0' { b'1' } else { b'0' };
        let new_ts = String::from_utf8(b).unwrap();
        let headers: Vec<(String, String)> = v
            .headers
            .iter()
            .map(|(n, val)| {
                if n == "x-bce-date" {
                    (n.clone(), new_ts.clone())
                } else {
                    (n.clone(), val.clone())
                }
            })
            .chain([(
                "authorization".to_string(),
                v.authorization.replace(ts, &new_ts),
            )])
            .collect();
        assert_eq!(
            code(verify(v, &key, &v.path, &v.query, &headers)),
            Some("SignatureDoesNotMatch"),
            "date: {}",
            v.name
        );
        // The date header alone changed: it no longer matches the auth timestamp.
        let only_header: Vec<(String, String)> = headers
            .iter()
            .filter(|(n, _)| n != "authorization")
            .cloned()
            .collect();
        assert!(
            verify(v, &key, &v.path, &v.query, &only_header).is_err(),
            "date header: {}",
            v.name
        );
    }
}

#[test]
fn verifier_error_codes() {
    let v = &vectors()[1];
    let key = key_of(v);
    let now = clock::parse_rfc3339(&v.timestamp).unwrap();
    let run = |headers: &[(String, String)], keys: &[Key], now: i64| {
        auth::verify(
            &RequestParts {
                method: &v.method,
                raw_path: &v.path,
                raw_query: &v.query,
                headers,
            },
            keys,
            now,
        )
        .map_err(|e| (e.status, e.code))
    };
    let with_auth = |a: &str| {
        let mut h = v.headers.clone();
        h.push(("authorization".into(), a.into()));
        h
    };
    let ok = with_auth(&v.authorization);
    assert!(run(&ok, std::slice::from_ref(&key), now).is_ok());
    assert_eq!(
        run(&v.headers, std::slice::from_ref(&key), now),
        Err((400, "InvalidHTTPAuthHeader"))
    );
    assert_eq!(
        run(&with_auth("Bearer x"), std::slice::from_ref(&key), now),
        Err((400, "InvalidHTTPAuthHeader"))
    );
    assert_eq!(
        run(&ok, &[Key::new("other", "x")], now),
        Err((403, "InvalidAccessKeyId"))
    );
    // 15 minutes is fine, a second more is not, in either direction.
    assert!(run(&ok, std::slice::from_ref(&key), now + 900).is_ok());
    assert_eq!(
        run(&ok, std::slice::from_ref(&key), now + 901),
        Err((400, "RequestExpired"))
    );
    assert_eq!(
        run(&ok, std::slice::from_ref(&key), now - 901),
        Err((400, "RequestExpired"))
    );
    // Expiration shorter than the skew window.
    let short = auth::authorization(
        &v.ak,
        &v.sk,
        &v.timestamp,
        60,
        &v.method,
        &v.path,
        &v.query,
        &v.headers,
        &v.signed,
    );
    assert!(run(&with_auth(&short), std::slice::from_ref(&key), now + 60).is_ok());
    assert_eq!(
        run(&with_auth(&short), std::slice::from_ref(&key), now + 61),
        Err((400, "RequestExpired"))
    );
    // host must be signed.
    let only_date = auth::authorization(
        &v.ak,
        &v.sk,
        &v.timestamp,
        1800,
        &v.method,
        &v.path,
        &v.query,
        &v.headers,
        &["x-bce-date".to_string()],
    );
    assert_eq!(
        run(&with_auth(&only_date), std::slice::from_ref(&key), now),
        Err((403, "SignatureDoesNotMatch"))
    );
    // A key with a token needs the token.
    let sts = Key::with_token(&v.ak, &v.sk, "tok");
    assert_eq!(run(&ok, &[sts], now), Err((403, "InvalidSessionToken")));
}
