//! Errors that code decides on: registry answers, usage errors and exit codes.

use std::fmt;

use crate::ui::output::printable;

/// Exit status for every failure but usage errors.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status for a usage error (bad flags or arguments), as clap uses.
pub const EXIT_USAGE: i32 = 2;

/// A command line that cannot work whatever the registry says (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A run whose failures were each said already, one `Error:` line apiece (a mirror whose
/// packages failed): exit 1 with nothing more to print.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AlreadyReported(pub String);

/// A non-2xx answer from the registry, from any of the body shapes CCR and Harbor use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: u16,
    /// The registry's error code (`NotFound`, `SignatureDoesNotMatch`, ...), when it gave one.
    pub code: Option<String>,
    /// The registry's message, when it gave one.
    pub message: Option<String>,
    /// The request id, from the body or the `X-Bce-Request-Id` header.
    pub request_id: Option<String>,
    /// True when the answer was an HTML page, not a CCR API response (a wrong endpoint, or a
    /// proxy or gateway in between); `message` is then the request that got it, `METHOD URL`
    /// (no secrets: the signature travels in headers). A flag, so that every `Result`
    /// carrying this error stays small.
    pub not_api: bool,
}

impl std::error::Error for ApiError {}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.not_api {
            return self.fmt_not_api(f);
        }
        // Everything but the status comes from the registry: no control characters.
        write!(f, "registry answered {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {}", printable(code))?;
        }
        if let Some(msg) = &self.message {
            write!(f, ": {}", printable(msg))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {})", printable(id))?;
        }
        if let Some(hint) = self.hint() {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Reads an error answer: `{"code","message","requestId"}`, `{"error": "..."}`,
    /// `{"errors":[{"code","message"}]}`, plain text or nothing at all.
    pub fn from_body(status: u16, body: &[u8], header_request_id: Option<String>) -> ApiError {
        let mut err = ApiError {
            status,
            code: None,
            message: None,
            request_id: header_request_id,
            not_api: false,
        };
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => {
                let s = |v: Option<&serde_json::Value>| match v {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                err.code = s(map.get("code"));
                err.message = s(map.get("message"));
                if let Some(id) = s(map.get("requestId")).or_else(|| s(map.get("request_id"))) {
                    err.request_id = Some(id);
                }
                if err.message.is_none() {
                    err.message = s(map.get("error"));
                }
                if let Some(serde_json::Value::Array(errors)) = map.get("errors") {
                    if let Some(serde_json::Value::Object(first)) = errors.first() {
                        err.code = err.code.or_else(|| s(first.get("code")));
                        err.message = err.message.or_else(|| s(first.get("message")));
                    }
                }
            }
            _ if !text.is_empty() => {
                let line: String = text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect();
                err.message = Some(line);
            }
            _ => {}
        }
        err
    }

    /// Marks the answer to `method url` as not a CCR API response when it is an HTML page:
    /// `Content-Type: text/html`, or a body whose first character (after blanks and a BOM) is
    /// `<`. Its message becomes the request.
    pub fn with_page(
        mut self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> ApiError {
        if !is_html(content_type, body) {
            return self;
        }
        self.not_api = true;
        self.code = None;
        self.message = Some(format!("{method} {url}"));
        self
    }

    /// An HTML page where an API answer belongs: says so, names the request, and where the
    /// endpoint comes from.
    fn fmt_not_api(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {} with an HTML page",
            printable(self.message.as_deref().unwrap_or("the request")),
            self.status
        )?;
        f.write_str(", not a CCR API response")?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {})", printable(id))?;
        }
        if self.is_transient() {
            f.write_str("; a proxy or gateway may be failing; if it persists,")?;
        } else {
            f.write_str(";")?;
        }
        f.write_str(
            " is the endpoint right? Set it with --endpoint or HELM_CCR_ENDPOINT (https://ccr.REGION.baidubce.com), or the region with --region (helm ccr env REPO shows the endpoint used)",
        )
    }

    /// True for the registry's `code` (compared case-insensitively).
    pub fn is_code(&self, code: &str) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(code))
    }

    /// A 404 from the registry itself: an HTML page's 404 says nothing about charts.
    pub fn is_not_found(&self) -> bool {
        self.status == 404 && !self.not_api
    }

    pub fn is_conflict(&self) -> bool {
        self.status == 409
    }

    /// A fault worth retrying: 429 and the 5xx family that usually heals.
    pub fn is_transient(&self) -> bool {
        matches!(self.status, 429 | 500 | 502 | 503 | 504)
    }

    pub fn is_request_expired(&self) -> bool {
        self.is_code("RequestExpired")
    }

    fn hint(&self) -> Option<&'static str> {
        let code = self.code.as_deref().unwrap_or("");
        Some(match code {
            "SignatureDoesNotMatch" | "IamSignatureInvalid" => "check the secret access key",
            "InvalidAccessKeyId" => "check the access key id",
            "AccessDenied" | "Unauthorized" => "the credentials lack permission on this namespace",
            "RequestExpired" => "check the local clock",
            // STS: the temporary credentials' token (none of the vendor pages at hand lists
            // more codes than these; the BCE and AWS-style names alike).
            "InvalidSessionToken" | "ExpiredToken" | "InvalidSecurityToken"
            | "SecurityTokenExpired" | "TokenExpired" => {
                "the security token was refused or has expired: refresh BCE_SECURITY_TOKEN (or the profile's session token)"
            }
            "QuotaExceed" => "the instance's chart quota is used up",
            _ if self.status == 401 || self.status == 403 => "check the credentials",
            _ => return None,
        })
    }
}

/// An HTML page rather than an API answer: `text/html`, or a body that starts with `<`
/// after blanks and a byte-order mark.
pub fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    if content_type.is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or("").trim();
        mime.eq_ignore_ascii_case("text/html") || mime.eq_ignore_ascii_case("application/xhtml+xml")
    }) {
        return true;
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sts_token_error_says_to_refresh_the_token() {
        let lines: Vec<String> = ["InvalidSessionToken", "ExpiredToken"]
            .iter()
            .map(|code| {
                let body = format!(r#"{{"code":"{code}","message":"token","requestId":"r1"}}"#);
                format!("Error: {}", ApiError::from_body(403, body.as_bytes(), None))
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn reads_every_body_shape() {
        let e = ApiError::from_body(
            404,
            br#"{"code":"NotFound","message":"no chart","requestId":"r1"}"#,
            Some("h".into()),
        );
        assert_eq!(e.code.as_deref(), Some("NotFound"));
        assert_eq!(e.request_id.as_deref(), Some("r1"));
        assert_eq!(
            e.to_string(),
            "registry answered 404 NotFound: no chart (request id r1)"
        );

        let e = ApiError::from_body(409, br#"{"error":"file already exists"}"#, None);
        assert_eq!(e.message.as_deref(), Some("file already exists"));
        assert!(e.is_conflict());

        let e = ApiError::from_body(
            401,
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}"#,
            Some("h2".into()),
        );
        assert_eq!(e.code.as_deref(), Some("UNAUTHORIZED"));
        assert_eq!(e.request_id.as_deref(), Some("h2"));

        let e = ApiError::from_body(502, b"<html>Bad Gateway</html>\nmore", None);
        assert_eq!(e.message.as_deref(), Some("<html>Bad Gateway</html>"));
        assert!(e.is_transient());

        let e = ApiError::from_body(500, b"", None);
        assert_eq!(e.to_string(), "registry answered 500");

        // Control characters from the registry never reach a terminal.
        let e = ApiError::from_body(
            403,
            b"{\"code\":\"Denied\\u001b[2J\",\"message\":\"no\\r\\nError: fake\\u0007\",\"requestId\":\"r\\u001b]0;t\\u0007\"}",
            None,
        );
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(
            shown.contains("Denied [2J") && shown.contains("no  Error: fake"),
            "{shown}"
        );
    }

    #[test]
    fn html_pages_are_not_api_answers() {
        let page = b"\xEF\xBB\xBF\n  <!DOCTYPE HTML>\n<html><head><TITLE>404  Not\nFound</TITLE></head></html>";
        assert!(is_html(None, page));
        assert!(is_html(Some("text/html; charset=utf-8"), b"Not Found"));
        assert!(!is_html(
            Some("application/json"),
            br#"{"code":"NotFound"}"#
        ));
        assert!(!is_html(None, b""));
        let e = ApiError::from_body(404, page, None).with_page(
            "GET",
            "https://example.com/v1/instances/i/charts",
            None,
            page,
        );
        assert!(!e.is_not_found() && !e.is_transient());
        assert_eq!(
            e.to_string(),
            "GET https://example.com/v1/instances/i/charts answered 404 with an HTML page, not a CCR API response; is the endpoint right? Set it with --endpoint or HELM_CCR_ENDPOINT (https://ccr.REGION.baidubce.com), or the region with --region (helm ccr env REPO shows the endpoint used)"
        );
        // A gateway's 502 page: still retried, and said to be a gateway's perhaps.
        let e = ApiError::from_body(502, b"<html>Bad Gateway</html>", Some("r".into())).with_page(
            "GET",
            "https://h/x",
            Some("text/html"),
            b"<html>Bad Gateway</html>",
        );
        assert!(e.is_transient());
        let shown = e.to_string();
        assert!(shown.contains("answered 502 with an HTML page, not a CCR API response (request id r); a proxy or gateway"), "{shown}");
        // An API answer stays as it was.
        let body = br#"{"code":"NotFound","message":"no chart"}"#;
        let e = ApiError::from_body(404, body, None).with_page(
            "GET",
            "u",
            Some("application/json"),
            body,
        );
        assert!(e.is_not_found() && !e.not_api);
    }
}
