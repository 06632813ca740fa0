//! Reading what gpg reports: `--status-fd` lines of a verification ([`judge_signature`]), of
//! signing ([`judge_signing`]) and of an import ([`import_counts`]), `--with-colons` listings
//! ([`colon_user_ids`]) and its messages on stderr ([`gpg_reason`]). Pure text, no process.
use super::GoodSignature;

/// `: REASON` from gpg's messages, or nothing.
pub(super) fn reason_suffix(stderr: &str) -> String {
    match gpg_reason(stderr) {
        Some(r) => format!(": {r}"),
        None => String::new(),
    }
}

/// The most telling line of gpg's messages, without the `gpg: ` prefix and file names.
pub(super) fn gpg_reason(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim().trim_start_matches("gpg: ").trim())
        .filter(|l| !l.is_empty())
        .filter(|l| {
            !(l.contains("created") && (l.contains("keybox") || l.contains("trustdb")))
                && !l.starts_with("WARNING: unsafe")
                && !l.starts_with("Total number")
        })
        .collect();
    let pick = lines
        .iter()
        .find(|l| l.contains("failed:") || l.starts_with("skipped"))
        .or_else(|| lines.last())?;
    // `FILE: clear-sign failed: X` names our temporary file: keep what failed and why.
    let text = match pick.find("failed:") {
        Some(i) => {
            let head = &pick[..i];
            let what = head.rsplit(": ").next().unwrap_or(head).trim();
            format!("{what} failed:{}", &pick[i + "failed:".len()..])
        }
        None => pick.to_string(),
    };
    Some(text)
}

/// Counts from gpg's `IMPORT_RES` status line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct ImportCounts {
    pub(super) imported: u64,
    pub(super) unchanged: u64,
    pub(super) secret_read: u64,
    pub(super) secret_imported: u64,
    pub(super) secret_dups: u64,
}

/// `IMPORT_RES <count> <no_user_id> <imported> 0 <unchanged> <n_uids> <n_subk> <n_sigs>
/// <n_revoc> <sec_read> <sec_imported> <sec_dups> ...`
pub(super) fn import_counts(status: &str) -> ImportCounts {
    let mut c = ImportCounts::default();
    for line in status.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 13 && f[0] == "[GNUPG:]" && f[1] == "IMPORT_RES" {
            let n = |i: usize| f[i].parse::<u64>().unwrap_or(0);
            c = ImportCounts {
                imported: n(4),
                unchanged: n(6),
                secret_read: n(11),
                secret_imported: n(12),
                secret_dups: f.get(13).and_then(|s| s.parse().ok()).unwrap_or(0),
            };
        }
    }
    c
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("the provenance file holds no OpenPGP signature")]
    NoSignature,
    #[error("the provenance file holds {0} signatures; a Helm provenance file has exactly one")]
    Several(usize),
    #[error("BAD signature from key {0}: the provenance file was changed after it was signed")]
    Bad(String),
    #[error("the provenance file is signed by key {0}, which is not in the keyring")]
    NoPublicKey(String),
    #[error("the signature of key {0} has expired")]
    Expired(String),
    #[error("the signing key {0} has expired")]
    KeyExpired(String),
    #[error("the signing key {0} has been revoked")]
    KeyRevoked(String),
    #[error("gpg could not check the signature of key {0} (error code {1})")]
    Error(String, String),
}

/// Decides on `gpg --status-fd` output of a verification: exactly one signature, good
/// (`GOODSIG` and `VALIDSIG`) and neither expired nor revoked. Trust levels are not asked
/// for: as with Helm, being in the keyring is the trust.
pub fn judge_signature(status: &str) -> Result<GoodSignature, SignatureProblem> {
    let mut sigs = 0usize;
    let mut good: Option<(String, String)> = None;
    let mut valid: Option<(String, String)> = None;
    for line in status.lines() {
        let Some(rest) = line.strip_prefix("[GNUPG:] ") else {
            continue;
        };
        let mut f = rest.splitn(3, ' ');
        let keyword = f.next().unwrap_or("");
        let a = f.next().unwrap_or("").to_string();
        let tail = f.next().unwrap_or("").to_string();
        match keyword {
            "NEWSIG" => sigs += 1,
            "GOODSIG" => good = Some((a, tail)),
            "VALIDSIG" => {
                // VALIDSIG <fpr> <date> <ts> <expire> <ver> <reserved> <algo> <hash> <class> <primary>
                let fields: Vec<&str> = tail.split_whitespace().collect();
                let primary = fields.get(8).map_or(a.clone(), |p| p.to_string());
                valid = Some((a, primary));
            }
            "BADSIG" => return Err(SignatureProblem::Bad(a)),
            "EXPSIG" => return Err(SignatureProblem::Expired(a)),
            "EXPKEYSIG" => return Err(SignatureProblem::KeyExpired(a)),
            "REVKEYSIG" => return Err(SignatureProblem::KeyRevoked(a)),
            "NO_PUBKEY" => return Err(SignatureProblem::NoPublicKey(a)),
            "ERRSIG" => {
                // ERRSIG <keyid> <algo> <hash> <class> <time> <rc> [<fpr>]
                let fields: Vec<&str> = tail.split_whitespace().collect();
                let rc = fields.get(4).copied().unwrap_or("?").to_string();
                let key = fields
                    .get(5)
                    .filter(|f| f.len() > 16 && *f != &"-")
                    .map_or(a.clone(), |f| f.to_string());
                if rc == "9" {
                    return Err(SignatureProblem::NoPublicKey(key));
                }
                return Err(SignatureProblem::Error(key, rc));
            }
            _ => {}
        }
    }
    if sigs > 1 {
        return Err(SignatureProblem::Several(sigs));
    }
    match (good, valid) {
        (Some((_, uid)), Some((fpr, primary))) if sigs == 1 => Ok(GoodSignature {
            signing_fingerprint: fpr.to_ascii_uppercase(),
            primary_fingerprint: primary.to_ascii_uppercase(),
            user_id: unescape_hex(&uid, "%"),
        }),
        _ => Err(SignatureProblem::NoSignature),
    }
}

/// Decides on `gpg --status-fd` output of signing: the fingerprint and algorithm from
/// `SIG_CREATED`, or why no signature was made.
pub(super) fn judge_signing(
    status: &str,
    success: bool,
    stderr: &str,
    key: Option<&str>,
) -> std::result::Result<(String, u32), String> {
    let mut created = None;
    let mut invalid = None;
    let mut pinentry = false;
    for line in status.lines() {
        let Some(rest) = line.strip_prefix("[GNUPG:] ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        match f.first().copied() {
            // SIG_CREATED <type> <algo> <hash> <class> <timestamp> <fpr>
            Some("SIG_CREATED") if f.len() >= 7 => {
                created = Some((f[6].to_ascii_uppercase(), f[2].parse().unwrap_or(0)))
            }
            Some("INV_SGNR") => invalid = Some(f.get(1).copied().unwrap_or("0").to_string()),
            Some("PINENTRY_LAUNCHED") => pinentry = true,
            _ => {}
        }
    }
    if let (Some(c), true) = (&created, success) {
        return Ok(c.clone());
    }
    let which = key.map_or("the default key".to_string(), |k| format!("key {k:?}"));
    if let Some(code) = invalid {
        let why = match code.as_str() {
            "1" | "9" => "no secret key for it in the keyring",
            "2" => "the name matches several keys",
            "3" => "it cannot sign",
            "4" => "it is revoked",
            "5" => "it has expired",
            _ => "gpg refused it",
        };
        if key.is_none() && (code == "9" || code == "1") {
            return Err("no secret key to sign with (name one with --key or HELM_CCR_SIGN_KEY, or set default-key in gpg.conf)".into());
        }
        return Err(format!("{which}: {why}"));
    }
    let reason = gpg_reason(stderr).unwrap_or_else(|| "gpg failed".into());
    let lower = reason.to_ascii_lowercase();
    let hint = if lower.contains("bad passphrase") {
        " (the passphrase is wrong)"
    } else if pinentry
        || lower.contains("inappropriate ioctl")
        || lower.contains("no pinentry")
        || lower.contains("cancel")
    {
        " (the key needs its passphrase and no pinentry could ask for it; in CI set HELM_CCR_GPG_PASSPHRASE_FILE)"
    } else {
        ""
    };
    Err(format!("{which}: {reason}{hint}"))
}

/// User ids (`uid` records, field 10) of `--with-colons` output, `\xHH` escapes decoded.
pub(super) fn colon_user_ids(listing: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for line in listing.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() == Some(&"uid") && f.len() > 9 {
            // Revoked (r) or expired (e) user ids are not the signer's identity any more.
            if matches!(f[1], "r" | "e") {
                continue;
            }
            ids.push(unescape_hex(f[9], "\\x"));
        }
    }
    ids
}

/// Undoes the escapes gpg writes as `prefix` and two hex digits: `\x3a` in `--with-colons`
/// listings, `%0A` in status lines. Anything else is kept as it is.
pub(super) fn unescape_hex(s: &str, prefix: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(prefix.as_bytes()) {
            let at = i + prefix.len();
            if let Some(b) = s
                .get(at..at + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i = at + 2;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
