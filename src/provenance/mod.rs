//! Helm's provenance file (`NAME-VERSION.tgz.prov`), the parts that are plain text: the message
//! Helm clear-signs and the `files:` block it checks on verification. Pure; making and checking
//! the OpenPGP signature is [`crate::provenance::gpg`]'s job.
//!
//! The message is the chart's `Chart.yaml` data as Helm marshals it, the YAML document-end line
//! `...` (a `---` line is not allowed inside a clear-signed text), then
//! `files:` / `  NAME-VERSION.tgz: sha256:HEX`. Verification reads the part after the first
//! `...` line and looks the package up by its base name.
pub mod gpg;
pub mod identity;
pub mod sign;

use std::collections::BTreeMap;

use crate::chart::yaml::{self, Node, Out};
use crate::ui::output::printable;

/// Between the chart's metadata and the files block.
pub const SEPARATOR: &str = "\n...\n";

/// What cannot be accepted in a signed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvError {
    #[error("the signed text has no `...` line separating the chart data from the files block")]
    NoSeparator,
    #[error("the files block of the signed text is not valid YAML: {0}")]
    BadFiles(String),
    #[error("the provenance file names no sha256 for {0}")]
    NotListed(String),
    #[error("the sha256 of {file} does not match its provenance file: the .prov signs {signed}, the chart is sha256:{actual}")]
    Mismatch {
        file: String,
        signed: String,
        actual: String,
    },
}

/// The message Helm signs for a package: `chart_yaml` (the `Chart.yaml` data as `helm package`
/// writes it, ending in a newline), `...`, then the files block naming `file_name` with the
/// lower-case hex `sha256` of the package.
pub fn message(chart_yaml: &str, file_name: &str, sha256: &str) -> String {
    let files = Out::Map(vec![(
        "files".to_string(),
        Out::Map(vec![(
            file_name.to_string(),
            Out::Str(format!("sha256:{sha256}")),
        )]),
    )]);
    let mut m = String::with_capacity(chart_yaml.len() + 128);
    m.push_str(chart_yaml);
    m.push_str(SEPARATOR);
    m.push_str(&yaml::emit_document(&files));
    m
}

/// The `files:` entries of a signed message: file name to `sha256:HEX`, as Helm reads them
/// (the part after the first `...` line, up to a further one; other keys ignored).
pub fn files(signed_text: &str) -> Result<BTreeMap<String, String>, ProvError> {
    let text = signed_text.replace("\r\n", "\n");
    let mut parts = text.split(SEPARATOR);
    parts.next();
    let Some(block) = parts.next() else {
        return Err(ProvError::NoSeparator);
    };
    let doc = yaml::parse_first_document(block).map_err(ProvError::BadFiles)?;
    let mut out = BTreeMap::new();
    let entries = match doc {
        Node::Null => return Ok(out),
        Node::Map(entries) => entries,
        other => {
            return Err(ProvError::BadFiles(format!(
                "a {} where a map was expected",
                other.kind_name()
            )))
        }
    };
    for (k, v) in entries {
        if yaml::map_key_string(&k).as_deref() != Ok("files") {
            continue;
        }
        match v {
            Node::Null => {}
            Node::Map(files) => {
                for (name, sum) in files {
                    let name = yaml::map_key_string(&name).map_err(ProvError::BadFiles)?;
                    let sum = sum.scalar_text().ok_or_else(|| {
                        ProvError::BadFiles(format!("the entry for {name:?} is not a string"))
                    })?;
                    out.insert(name, sum);
                }
            }
            other => {
                return Err(ProvError::BadFiles(format!(
                    "`files` is a {}, not a map",
                    other.kind_name()
                )))
            }
        }
    }
    Ok(out)
}

/// Checks that the signed text names `file_name` (a base name) with this lower-case hex
/// `sha256`; returns the hash as Helm prints it (`sha256:HEX`).
pub fn check_hash(signed_text: &str, file_name: &str, sha256: &str) -> Result<String, ProvError> {
    let files = files(signed_text)?;
    let want = format!("sha256:{sha256}");
    match files.get(file_name) {
        None => Err(ProvError::NotListed(file_name.to_string())),
        Some(signed) if *signed != want => Err(ProvError::Mismatch {
            file: file_name.to_string(),
            signed: signed.clone(),
            actual: sha256.to_string(),
        }),
        Some(_) => Ok(want),
    }
}

/// The lines `helm verify` and `helm pull --verify` print for a good provenance file. A user
/// id is whatever the key's owner wrote: it is shown [`printable`], like any text from outside.
pub fn verified_lines(identities: &[String], fingerprint: &str, hash: &str) -> Vec<String> {
    let mut lines: Vec<String> = identities
        .iter()
        .map(|id| format!("Signed by: {}", printable(id)))
        .collect();
    lines.push(format!(
        "Using Key With Fingerprint: {}",
        fingerprint.to_ascii_uppercase()
    ));
    lines.push(format!("Chart Hash Verified: {hash}"));
    lines
}

/// The first clear-signed block of a provenance file (from its `BEGIN PGP SIGNED MESSAGE`
/// line to its `END PGP SIGNATURE` line), which is all Helm reads of it; None without one.
pub fn clearsigned_block(prov: &[u8]) -> Option<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----";
    const END: &[u8] = b"-----END PGP SIGNATURE-----";
    let start = find(prov, BEGIN)?;
    // The armor header must start a line.
    if start > 0 && prov[start - 1] != b'\n' {
        return None;
    }
    let end = start + find(&prov[start..], END)? + END.len();
    Some(&prov[start..end])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The name of a package's provenance file.
pub fn prov_name(file_name: &str) -> String {
    format!("{file_name}.prov")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "c6841b3a895f1444a6738b5d04564a57e860ce42f8519c3be807fb6d9bee7888";

    proptest::proptest! {
        #[test]
        fn any_file_name_reads_back(name in "[ -~\u{a0}-\u{17f}]{1,40}", sum in "[0-9a-f]{64}") {
            let m = message("name: x\nversion: 1.0.0\n", &name, &sum);
            proptest::prop_assert_eq!(check_hash(&m, &name, &sum), Ok(format!("sha256:{sum}")));
        }

        #[test]
        fn reading_never_panics(text in "(?s).{0,200}") {
            let _ = files(&text);
            let _ = clearsigned_block(text.as_bytes());
        }
    }

    #[test]
    fn message_is_helms_layout() {
        let m = message(
            "apiVersion: v1\ndescription: Test chart versioning\nname: hashtest\nversion: 1.2.3\n",
            "hashtest-1.2.3.tgz",
            SUM,
        );
        assert_eq!(
            m,
            format!(
                "apiVersion: v1\ndescription: Test chart versioning\nname: hashtest\nversion: 1.2.3\n\n...\nfiles:\n  hashtest-1.2.3.tgz: sha256:{SUM}\n"
            )
        );
    }

    #[test]
    fn odd_file_names_are_quoted_and_read_back() {
        for name in [
            "a: b-1.0.0.tgz",
            "#x-1.tgz",
            "true",
            "1.0",
            "- x.tgz",
            "'q'.tgz",
        ] {
            let m = message("name: x\n", name, SUM);
            assert_eq!(
                check_hash(&m, name, SUM),
                Ok(format!("sha256:{SUM}")),
                "{m}"
            );
        }
    }

    #[test]
    fn files_block_as_helm_reads_it() {
        // gpg's output of a clear-signed text may end without the last newline, or use CRLF.
        let text = format!("name: x\n\n...\r\nfiles:\r\n  x-1.tgz: sha256:{SUM}");
        assert_eq!(
            files(&text).unwrap(),
            BTreeMap::from([("x-1.tgz".to_string(), format!("sha256:{SUM}"))])
        );
        // Only the part after the first `...` counts; other keys are ignored.
        let text =
            "name: x\n...\nimages: {}\nfiles:\n  a.tgz: sha256:1\n...\nfiles:\n  b.tgz: sha256:2\n";
        let f = files(text).unwrap();
        assert_eq!(f.keys().collect::<Vec<_>>(), ["a.tgz"]);
        assert_eq!(files("name: x\n...\n").unwrap(), BTreeMap::new());
    }

    #[test]
    fn refusals_name_the_reason() {
        assert_eq!(files("name: x\nfiles: {}\n"), Err(ProvError::NoSeparator));
        assert!(matches!(
            files("name: x\n...\nfiles: [a, b]\n"),
            Err(ProvError::BadFiles(_))
        ));
        assert!(matches!(
            files("name: x\n...\nfiles:\n  a.tgz: {x: 1}\n"),
            Err(ProvError::BadFiles(_))
        ));
        assert!(matches!(
            files("name: x\n...\nfiles: [\n"),
            Err(ProvError::BadFiles(_))
        ));
        let m = message("name: x\n", "x-1.tgz", SUM);
        assert_eq!(
            check_hash(&m, "y-1.tgz", SUM),
            Err(ProvError::NotListed("y-1.tgz".into()))
        );
        let other = "0".repeat(64);
        let err = check_hash(&m, "x-1.tgz", &other).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the sha256 of x-1.tgz does not match its provenance file: the .prov signs sha256:{SUM}, the chart is sha256:{other}")
        );
        // The hash is compared exactly, as Helm does.
        assert!(check_hash(&m, "x-1.tgz", &SUM.to_ascii_uppercase()).is_err());
    }

    #[test]
    fn the_clearsigned_block_alone() {
        let block = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nx\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----";
        let prov = format!("junk before\n{block}\ntrailing\n-----BEGIN PGP MESSAGE-----\n");
        assert_eq!(clearsigned_block(prov.as_bytes()), Some(block.as_bytes()));
        assert_eq!(clearsigned_block(block.as_bytes()), Some(block.as_bytes()));
        assert_eq!(
            clearsigned_block(b"-----BEGIN PGP MESSAGE-----\nxx\n"),
            None
        );
        assert_eq!(
            clearsigned_block(&block.as_bytes()[..block.len() - 5]),
            None
        );
        assert_eq!(clearsigned_block(format!("x{block}").as_bytes()), None);
        assert_eq!(clearsigned_block(b""), None);
    }

    #[test]
    fn lines_as_helm_prints_them() {
        assert_eq!(
            verified_lines(
                &["A <a@x>".into(), "B".into()],
                "c2a72a5afca01f80ac658c981e13bf3f124cba4b",
                "sha256:ab"
            ),
            [
                "Signed by: A <a@x>",
                "Signed by: B",
                "Using Key With Fingerprint: C2A72A5AFCA01F80AC658C981E13BF3F124CBA4B",
                "Chart Hash Verified: sha256:ab"
            ]
        );
        assert_eq!(prov_name("a-1.tgz"), "a-1.tgz.prov");
        // A user id's escape sequences never reach the terminal.
        let lines = verified_lines(
            &["Evil \u{1b}[31mRed\u{1b}]0;pwned\u{7} <e@x>".into()],
            "ab",
            "sha256:ab",
        );
        assert_eq!(lines[0], "Signed by: Evil  [31mRed ]0;pwned  <e@x>");
    }
}
