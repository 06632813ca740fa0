//! The GnuPG flows around a provenance file: making one for `push --sign` ([`sign_package`])
//! and, for `pull --verify`/`--prov`, fetching one ([`fetch`]) and checking a package against
//! it ([`verify_package`]). The message itself is [`crate::provenance`]'s; running gpg is
//! [`crate::provenance::gpg`]'s.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::chart::tgz;
use crate::provenance;
use crate::provenance::gpg::Gpg;
use crate::provenance::identity::{self, Selected};
use crate::registry::{self, Registry};
use crate::support::hashing::Hashing;
use crate::ui::output::Output;

/// A package to sign.
pub struct ToSign<'a> {
    /// The package on disk.
    pub package: &'a Path,
    /// Its local file name (as the user gave it).
    pub file_name: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    /// sha256 hex of the package.
    pub sha256: &'a str,
    /// A `.prov` lies beside it (the new signature replaces it).
    pub has_prov: bool,
    /// The key to sign with (gpg's default key when none).
    pub key: Option<&'a str>,
    /// A legacy secret keyring to sign from instead of the GnuPG home.
    pub keyring: Option<&'a Path>,
}

/// A provenance file made by [`sign_package`], in a temporary file until the upload is done.
pub struct SignedProv {
    pub file: tempfile::NamedTempFile,
    /// sha256 hex of the provenance file.
    pub sha256: String,
    /// Fingerprint of the key that signed.
    pub fingerprint: String,
}

impl SignedProv {
    /// ` with NAME.prov (sha256:HEX)`, for `--dry-run`.
    pub fn describe(&self, file_name: &str) -> String {
        format!(
            " with {} (sha256:{})",
            provenance::prov_name(file_name),
            self.sha256
        )
    }
}

/// `--sign`: the provenance file `helm package --sign` would write for this package (its
/// Chart.yaml data as Helm marshals it, then its sha256), clear-signed by gpg.
pub fn sign_package(p: &ToSign<'_>, gpg: &Gpg, out: &Output) -> Result<SignedProv> {
    let mut md = tgz::inspect(p.package)?.metadata;
    md.validate()
        .map_err(|e| anyhow!("{}: cannot sign: Chart.yaml: {e}", p.file_name))?;
    // Helm checks the hash by the name the registry serves the package under, which is
    // NAME-VERSION.tgz whatever the local file is called.
    let served = format!("{}-{}.tgz", p.name, p.version);
    if served != p.file_name {
        out.debug(&format!(
            "{}: the provenance file names it {served}, as the registry serves it",
            p.file_name
        ));
    }
    let message = provenance::message(&md.to_yaml(), &served, p.sha256);
    if p.has_prov {
        out.debug(&format!(
            "{}: the .prov beside it is replaced by a new signature (--sign)",
            p.file_name
        ));
    }
    let signed = gpg
        .clearsign(&message, p.key, p.keyring)
        .with_context(|| format!("signing {}", p.file_name))?;
    if signed.algorithm == 22 {
        out.warn(&format!(
            "{} is signed with an EdDSA key: Helm 3 cannot check it (helm verify fails to read the keyring); Helm 4 and helm ccr pull --verify can",
            p.file_name
        ));
    }
    let mut file = tempfile::Builder::new()
        .prefix(".helm-ccr-")
        .suffix(".prov")
        .tempfile()
        .context("creating a temporary file for the provenance file")?;
    let mut hashing = Hashing::new(&mut file);
    hashing
        .write_all(&signed.text)
        .context("writing the provenance file")?;
    let sha256 = hashing.finish().1;
    Ok(SignedProv {
        file,
        sha256,
        fingerprint: signed.fingerprint,
    })
}

/// Provenance files are a few kilobytes; anything beyond this is refused.
const MAX_PROV_BYTES: usize = 1 << 20;

/// The provenance file of the package `file_name` from the registry (`repo`, as shown to the
/// user), at most [`MAX_PROV_BYTES`]. A package without one is an error saying it was not
/// signed.
pub fn fetch(client: &Registry, file_name: &str, repo: &str) -> Result<Vec<u8>> {
    struct Capped(Vec<u8>);
    impl Write for Capped {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0.len() + buf.len() > MAX_PROV_BYTES {
                return Err(io::Error::other("larger than 1 MiB"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let name = provenance::prov_name(file_name);
    let mut body = Capped(Vec::new());
    match client.download(&name, &mut body) {
        Ok(_) => Ok(body.0),
        Err(e) if registry::is_not_found(&e) => {
            bail!("{file_name} has no provenance file ({name}) in {repo}: it was not signed, so it cannot be verified ({e})")
        }
        Err(e) => Err(e.context(format!("downloading {name}"))),
    }
}

/// Checks the package at `package` (named `file_name` in the registry, listed as `selected`)
/// against its provenance file `prov` with gpg (`keyring`: the public keyring to trust instead
/// of the GnuPG home): the signature, the package's hash, and that the signed chart data names
/// the selected chart and version (a registry could serve another version's package with its
/// own, valid, signature). Returns the lines `helm verify` prints: who signed, and the hash
/// checked.
pub fn verify_package(
    prov: &[u8],
    package: &Path,
    file_name: &str,
    selected: Selected<'_>,
    gpg: &Gpg,
    keyring: Option<&Path>,
) -> Result<Vec<String>> {
    let name = provenance::prov_name(file_name);
    let block = provenance::clearsigned_block(prov)
        .ok_or_else(|| anyhow!("{name} is not a clear-signed provenance file"))?;
    let verified = gpg
        .verify(block, keyring)
        .with_context(|| format!("verifying {file_name}"))?;
    let sha256 = tgz::sha256_file(package)?;
    let hash = provenance::check_hash(&verified.text, file_name, &sha256)
        .with_context(|| format!("verifying {file_name}"))?;
    identity::check_signed(&verified.text, file_name, selected)?;
    Ok(provenance::verified_lines(
        &verified.identities,
        &verified.signature.primary_fingerprint,
        &hash,
    ))
}
