//! Client authentication: HTTP basic auth against an htpasswd file of bcrypt entries (what
//! `htpasswd -B` writes), and/or bearer tokens from a file of one token a line ([`Tokens`]).
//! Both files are re-read when their modification time or size changes.
//! A verified `Authorization` header is remembered (by its sha256, for this version of the
//! file) so that bcrypt's deliberate cost is paid once per client, not per request. Neither
//! the header nor the password is ever logged.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::watched::Watched;

/// The `WWW-Authenticate` challenge of a 401.
pub const CHALLENGE: &str = "Basic realm=\"helm-ccr\"";
/// The second challenge of a 401 when bearer tokens are accepted.
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"helm-ccr\"";

/// At most this many verified headers are remembered; then the memory starts over.
const REMEMBERED: usize = 4096;

pub struct Htpasswd {
    file: Watched,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    users: Arc<HashMap<String, String>>,
    verified: HashSet<[u8; 32]>,
}

impl Htpasswd {
    /// Reads `path` once (an unreadable file or one without a bcrypt entry is an error at
    /// start-up, not a server that lets nobody in without saying why).
    pub fn open(path: PathBuf) -> anyhow::Result<Htpasswd> {
        let h = Htpasswd {
            file: Watched::new(path),
            state: Mutex::new(State::default()),
        };
        h.reload()?;
        if h.state().users.is_empty() {
            anyhow::bail!(
                "{} has no bcrypt entries (write them with `htpasswd -B`)",
                h.file.path().display()
            );
        }
        Ok(h)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the file when it changed; on a read error the entries stay as they were.
    fn reload(&self) -> anyhow::Result<()> {
        self.file.reload(|text| {
            let mut s = self.state();
            s.users = Arc::new(parse(text));
            s.verified.clear();
            Ok(())
        })?;
        Ok(())
    }

    /// Whether `authorization` (the header's value) names a user of the file with the right
    /// password. Runs bcrypt on a blocking thread.
    pub async fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        if let Err(e) = self.reload() {
            super::log::event(&format!("{e:#}; keeping the entries read before"));
        }
        let key: [u8; 32] = Sha256::digest(authorization.unwrap_or_default()).into();
        let users = {
            let s = self.state();
            if s.verified.contains(&key) {
                return true;
            }
            s.users.clone()
        };
        let Some(hash) = users.get(&user).cloned() else {
            return false;
        };
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if ok {
            let mut s = self.state();
            if Arc::ptr_eq(&s.users, &users) {
                if s.verified.len() >= REMEMBERED {
                    s.verified.clear();
                }
                s.verified.insert(key);
            }
        }
        ok
    }
}

/// Bearer tokens from a file: one a line, blank lines and `#` comments left out. Only their
/// sha256 digests are kept, and a presented token is compared digest to digest in constant
/// time. Re-read when the file's modification time or size changes.
pub struct Tokens {
    file: Watched,
    digests: Mutex<Vec<[u8; 32]>>,
}

impl Tokens {
    /// Reads `path` once (an unreadable file or one without a token is an error at start-up).
    pub fn open(path: PathBuf) -> anyhow::Result<Tokens> {
        let t = Tokens {
            file: Watched::new(path),
            digests: Mutex::new(Vec::new()),
        };
        t.reload()?;
        if t.digests().is_empty() {
            anyhow::bail!(
                "{} has no token (one a line; '#' starts a comment)",
                t.file.path().display()
            );
        }
        Ok(t)
    }

    fn digests(&self) -> std::sync::MutexGuard<'_, Vec<[u8; 32]>> {
        self.digests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the file when it changed; on a read error the tokens stay as they were.
    fn reload(&self) -> anyhow::Result<()> {
        self.file.reload(|text| {
            *self.digests() = token_digests(text);
            Ok(())
        })?;
        Ok(())
    }

    /// Whether `authorization` (the header's value) is `Bearer TOKEN` with a token of the file.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some(token) = authorization.and_then(bearer_token) else {
            return false;
        };
        if let Err(e) = self.reload() {
            super::log::event(&format!("{e:#}; keeping the tokens read before"));
        }
        let given: [u8; 32] = Sha256::digest(token).into();
        // Every digest is compared, each in full: the time taken says nothing of which
        // (or how much of one) matched.
        self.digests()
            .iter()
            .fold(false, |found, d| found | same_digest(d, &given))
    }
}

/// Constant-time equality of two digests.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The sha256 digests of a token file's tokens.
pub fn token_digests(text: &str) -> Vec<[u8; 32]> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|t| Sha256::digest(t.as_bytes()).into())
        .collect()
}

/// The token of a `Bearer` authorization header.
pub fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token.as_bytes())
}

/// The bcrypt entries of an htpasswd file (`user:$2y$…`); other lines (comments, other hash
/// schemes) are left out.
pub fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (user, hash) = line.split_once(':')?;
            let bcrypt = ["$2a$", "$2b$", "$2x$", "$2y$"]
                .iter()
                .any(|p| hash.starts_with(p));
            (bcrypt && !user.is_empty()).then(|| (user.to_string(), hash.to_string()))
        })
        .collect()
}

/// The user and password of a `Basic` authorization header.
pub fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(token.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 with padding (what clients send in `Authorization: Basic`).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = s.as_bytes();
    if bytes.len() % 4 != 0 || bytes.len() > 8192 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers() {
        // "user:pa:ss" and "a:" in base64.
        assert_eq!(
            basic_credentials(b"Basic dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(
            basic_credentials(b"basic YTo="),
            Some(("a".into(), String::new()))
        );
        for bad in [
            &b"Bearer dXNlcjpwYXNz"[..],
            b"Basic",
            b"Basic dXNlcjpwYXNz=",
            b"Basic dXNl*jpwYXNz",
            b"Basic dXNlcg==",
        ] {
            assert_eq!(basic_credentials(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bearer_headers_and_token_files() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
        for bad in [&b"Basic abc"[..], b"Bearer", b"Bearer  ", b"abc"] {
            assert_eq!(bearer_token(bad), None, "{bad:?}");
        }
        let d = token_digests("# comment\n\n  one  \ntwo\n");
        assert_eq!(d.len(), 2);
        let one: [u8; 32] = Sha256::digest(b"one").into();
        assert!(same_digest(&d[0], &one));
        assert!(!same_digest(&d[1], &one));
    }

    #[test]
    fn htpasswd_entries() {
        let users = parse("# c\nalice:$2y$05$abc\nbob:{SHA}xyz\n\ncarol:$2b$10$def\n:$2y$x\n");
        assert_eq!(users.len(), 2);
        assert_eq!(users["alice"], "$2y$05$abc");
        assert!(users.contains_key("carol"));
    }
}
