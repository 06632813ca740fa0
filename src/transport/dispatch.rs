//! One request on the wire, no retries: sign (a pure function from the request, the
//! credentials and the time to the header list), then dispatch (send that list with ureq and
//! sort the answer into success, an API error or a transport failure).

use std::time::Instant;

use anyhow::anyhow;
use ureq::http;

use super::auth;
use super::limits::Transfer;
use super::retry::parse_retry_after;
use super::{header, AnswerMeta, Failure, Transport};
use crate::error::ApiError;
use crate::support::clock;
use crate::transport::auth::Keys;

/// Largest error body read, for its code and message.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// A request's headers after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// In wire order: `host`, `x-bce-date`, `authorization` and, under STS,
    /// `x-bce-security-token`.
    pub headers: Vec<(String, String)>,
    /// The same, the signature and the token redacted, for the debug line.
    pub redacted: String,
}

/// Signs a request with BCE auth v1 at `timestamp` (`YYYY-MM-DDThh:mm:ssZ`). Pure: the time is
/// an argument. `path` is encoded as it goes on the wire (see [`auth::build_path`]).
pub fn sign_headers(
    method: &str,
    path: &str,
    query: &[(String, String)],
    host: &str,
    creds: &Keys,
    timestamp: &str,
) -> Signed {
    // Every header so far is signed; the authorization goes in after them, before the token.
    let mut headers = vec![
        ("host".to_string(), host.to_string()),
        ("x-bce-date".to_string(), timestamp.to_string()),
    ];
    if let Some(token) = &creds.security_token {
        headers.push(("x-bce-security-token".to_string(), token.clone()));
    }
    let signature = auth::sign(
        &auth::Request {
            method,
            path,
            query,
            headers: &headers,
        },
        &auth::SigningKey {
            access_key_id: &creds.access_key_id,
            secret_access_key: &creds.secret_access_key,
        },
        timestamp,
        auth::DEFAULT_EXPIRATION_SECONDS,
    );
    headers.insert(2, ("authorization".to_string(), signature.authorization));
    let redacted = format!(
        "authorization: bce-auth-v1/{}/{timestamp}/{}/{}/<redacted>{}",
        creds.access_key_id,
        auth::DEFAULT_EXPIRATION_SECONDS,
        signature.signed_headers,
        if creds.security_token.is_some() {
            ", x-bce-security-token: <redacted>"
        } else {
            ""
        }
    );
    Signed { headers, redacted }
}

impl Transport {
    /// Sends one signed request to `path` (already encoded, see [`auth::build_path`]); no
    /// retries. `transfer` names an upload in messages (its body a [`super::Metered`] reader).
    #[allow(clippy::too_many_arguments)]
    pub fn send_once(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: ureq::SendBody<'_>,
        content_length: Option<u64>,
        transfer: Option<&Transfer>,
    ) -> Result<http::Response<ureq::Body>, Failure> {
        let timestamp = clock::format_timestamp(self.now_unix());
        let keys = self.keys();
        let signed = sign_headers(
            method,
            path,
            query,
            &self.cfg.endpoint.host_header(),
            &keys,
            &timestamp,
        );
        let qs = auth::canonical_query(query);
        let url = if qs.is_empty() {
            format!("{}{}", self.cfg.endpoint.base_url(), path)
        } else {
            format!("{}{}?{}", self.cfg.endpoint.base_url(), path, qs)
        };
        if self.out().debug {
            self.out()
                .debug(&format!("{method} {url} ({})", signed.redacted));
        }
        let mut headers = signed.headers;
        if let Some(ct) = content_type {
            headers.push(("content-type".to_string(), ct.to_string()));
        }
        if let Some(len) = content_length {
            headers.push(("content-length".to_string(), len.to_string()));
        }
        self.dispatch(method, &url, &headers, body, transfer)
    }

    /// Sends a request with exactly these headers under the overall deadline: the answer on
    /// success, else an API error (with what its headers say) or a transport failure.
    fn dispatch(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: ureq::SendBody<'_>,
        transfer: Option<&Transfer>,
    ) -> Result<http::Response<ureq::Body>, Failure> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(body)
            .map_err(|e| Failure::Transport(anyhow!("bad request: {e}"), false))?;
        let remaining = self.remaining().map_err(|e| Failure::Transport(e, false))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(remaining)
            .build();
        let started = Instant::now();
        match self.agent.run(request) {
            Ok(resp) => {
                self.out().debug(&format!(
                    "{method} {url} -> {} ({} ms{})",
                    resp.status().as_u16(),
                    started.elapsed().as_millis(),
                    header(&resp, "x-bce-request-id")
                        .map(|id| format!(", request id {id}"))
                        .unwrap_or_default()
                ));
                if resp.status().is_success() {
                    return Ok(resp);
                }
                Err(self.api_failure(method, url, resp))
            }
            Err(e) => {
                self.out().debug(&format!("{method} {url} -> {e}"));
                let (msg, transient) = self.describe(&e, transfer);
                Err(Failure::Transport(anyhow!(msg), transient))
            }
        }
    }

    /// An error answer to `method url`: its code and message from the body (or, for an HTML
    /// page, that it is no API answer), the server's `Date` and, on a 429/503, its
    /// `Retry-After`.
    fn api_failure(
        &self,
        method: &str,
        url: &str,
        mut resp: http::Response<ureq::Body>,
    ) -> Failure {
        let status = resp.status().as_u16();
        let content_type = header(&resp, "content-type");
        let request_id = header(&resp, "x-bce-request-id");
        let date = header(&resp, "date");
        let retry_after = if matches!(status, 429 | 503) {
            header(&resp, "retry-after").and_then(|v| parse_retry_after(&v, self.now_unix()))
        } else {
            None
        };
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ERROR_BODY)
            .read_to_vec()
            .unwrap_or_default();
        Failure::Api(
            ApiError::from_body(status, &body, request_id).with_page(
                method,
                url,
                content_type.as_deref(),
                &body,
            ),
            AnswerMeta { date, retry_after },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_gives_the_wire_headers_in_order() {
        let query = vec![("pageNo".to_string(), "1".to_string())];
        let plain = Keys::new("ak", "the-secret", None).unwrap();
        let s = sign_headers(
            "GET",
            "/v1/x",
            &query,
            "ccr.bj.baidubce.com",
            &plain,
            "2026-01-02T03:04:05Z",
        );
        let names: Vec<&str> = s.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host", "x-bce-date", "authorization"]);
        let auth = &s.headers[2].1;
        assert!(
            auth.starts_with("bce-auth-v1/ak/2026-01-02T03:04:05Z/1800/host;x-bce-date/"),
            "{auth}"
        );
        assert_eq!(
            s.redacted,
            "authorization: bce-auth-v1/ak/2026-01-02T03:04:05Z/1800/host;x-bce-date/<redacted>"
        );
        assert!(!s.redacted.contains("the-secret"));

        let sts = Keys::new("ak", "the-secret", Some("the-session")).unwrap();
        let s = sign_headers("GET", "/v1/x", &query, "h", &sts, "2026-01-02T03:04:05Z");
        let names: Vec<&str> = s.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "host",
                "x-bce-date",
                "authorization",
                "x-bce-security-token"
            ]
        );
        assert!(s.headers[2]
            .1
            .contains("/host;x-bce-date;x-bce-security-token/"));
        assert!(s.redacted.ends_with(", x-bce-security-token: <redacted>"));
        assert!(!s.redacted.contains("the-session") && !s.redacted.contains("the-secret"));
    }
}
