//! [`Registry::download_verified`]: the one verified download. It owns starting again on a
//! fresh file when the body breaks off ([`BodyBroken`]) or the bytes do not match the digest
//! the registry lists, with the transport's backoff between downloads, so that no caller ever
//! sees part of a file or unverified bytes.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::Registry;
use crate::registry::model::HelmChartVersion;
use crate::support::cleanup;
use crate::support::hashing::Hashing;
use crate::transport::BodyBroken;

/// What the registry lists for a file, to check the download against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected<'a> {
    /// The lower-case sha256 hex the registry lists (see [`crate::registry::model::normalize_digest`]).
    Sha256(&'a str),
    /// The registry lists the file without a usable digest: only its length can be checked,
    /// and a warning says so. `Some` holds the malformed digest it gave.
    NoDigest { malformed: Option<&'a str> },
    /// Nothing is listed for this kind of file (a provenance file): only its length is
    /// checked, silently.
    Unlisted,
}

impl<'a> From<&'a HelmChartVersion> for Expected<'a> {
    fn from(v: &'a HelmChartVersion) -> Expected<'a> {
        match &v.digest {
            Some(d) => Expected::Sha256(d),
            None => Expected::NoDigest {
                malformed: v.malformed_digest.as_deref(),
            },
        }
    }
}

/// Where a verified download lands. Each attempt writes a fresh file; only a verified one is
/// handed back.
pub trait Dest {
    /// One attempt's file.
    type Temp;
    /// What the caller gets once the bytes are verified.
    type Landed;
    /// A fresh, empty file for one attempt.
    fn create(&self) -> Result<Self::Temp>;
    /// The file to write to.
    fn file(temp: &mut Self::Temp) -> &mut File;
    /// Hands the verified file over.
    fn land(&self, temp: Self::Temp) -> Result<Self::Landed>;
}

/// A `.helm-ccr-XXXXXX.part` file in a directory (see [`part_file`]): the caller renames it
/// into place, or drops it.
pub struct PartIn<'a>(pub &'a Path);

impl Dest for PartIn<'_> {
    type Temp = tempfile::NamedTempFile;
    type Landed = tempfile::NamedTempFile;
    fn create(&self) -> Result<Self::Temp> {
        part_file_in(self.0)
    }
    fn file(temp: &mut Self::Temp) -> &mut File {
        temp.as_file_mut()
    }
    fn land(&self, temp: Self::Temp) -> Result<Self::Landed> {
        Ok(temp)
    }
}

/// An anonymous temporary file (gone when closed), handed back rewound.
pub struct Spool;

impl Dest for Spool {
    type Temp = File;
    type Landed = File;
    fn create(&self) -> Result<File> {
        tempfile::tempfile().context("creating a temporary file")
    }
    fn file(temp: &mut File) -> &mut File {
        temp
    }
    fn land(&self, mut temp: File) -> Result<File> {
        temp.rewind()?;
        Ok(temp)
    }
}

/// A file kept at this path: written to a part file beside it and renamed there once
/// verified, so that the path never holds anything but the whole, verified file.
pub struct KeepAt<'a>(pub &'a Path);

impl Dest for KeepAt<'_> {
    type Temp = tempfile::NamedTempFile;
    type Landed = PathBuf;
    fn create(&self) -> Result<Self::Temp> {
        let dir = match self.0.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        part_file_in(dir)
    }
    fn file(temp: &mut Self::Temp) -> &mut File {
        temp.as_file_mut()
    }
    fn land(&self, temp: Self::Temp) -> Result<PathBuf> {
        temp.persist(self.0)
            .map_err(|e| anyhow!("writing {}: {}", self.0.display(), e.error))?;
        Ok(self.0.to_path_buf())
    }
}

/// A download whose bytes were checked.
#[derive(Debug)]
pub struct Verified<L> {
    pub file: L,
    /// Lower-case sha256 hex of the bytes.
    pub sha256: String,
    pub size: u64,
}

impl Registry {
    /// Downloads `file` into `dest` and checks it against `expected`. A body cut short or a
    /// wrong digest starts again on a fresh file, up to the transport's attempts, with its
    /// backoff in between; each attempt's file is gone whenever it is not handed back.
    pub fn download_verified<D: Dest>(
        &self,
        file: &str,
        expected: Expected<'_>,
        dest: &D,
    ) -> Result<Verified<D::Landed>> {
        let out = self.transport.out();
        let attempts = self.transport().config().attempts.max(1);
        let mut last: Option<anyhow::Error> = None;
        for attempt in 1..=attempts {
            let mut temp = dest.create()?;
            let (result, sha256, size) = {
                let mut writer = Hashing::new(BufWriter::new(D::file(&mut temp)));
                let result = self
                    .download(file, &mut writer)
                    .and_then(|n| writer.flush().map(|_| n).map_err(anyhow::Error::from));
                let (_, sha256, size) = writer.finish();
                (result, sha256, size)
            };
            match result {
                Ok(_) => match self.accept(file, expected, &sha256) {
                    Ok(()) => {
                        let file = dest.land(temp)?;
                        return Ok(Verified { file, sha256, size });
                    }
                    Err(mismatch) => last = Some(mismatch),
                },
                // Only a body cut short is worth another download here: failures before the
                // body were already retried by the transport.
                Err(e) if e.downcast_ref::<BodyBroken>().is_some() => last = Some(e),
                Err(e) => return Err(e),
            }
            drop(temp);
            if let Some(e) = &last {
                out.debug(&format!("download attempt {attempt} failed: {e:#}"));
                if attempt < attempts {
                    self.transport().backoff(attempt, None, e)?;
                }
            }
        }
        let e = last.unwrap_or_else(|| anyhow!("download of {file} failed"));
        Err(if attempts > 1 {
            e.context(format!("gave up after {attempts} downloads"))
        } else {
            e
        })
    }
    /// [`Registry::download_verified`] for a caller that learns what to expect from the
    /// registry only once the file is whole (the getter, which must not make a request more
    /// than the download when the registry fails): `look_up` runs after the first whole
    /// download and names the version the file belongs to (`None`: not listed, as if without
    /// a digest). Bytes that do not match are downloaded again, as `download_verified` does;
    /// a failed look-up fails the whole. Lands in a [`Spool`], so that unchecked bytes are
    /// never at a path.
    pub fn download_verified_after(
        &self,
        file: &str,
        look_up: impl FnOnce() -> Result<Option<HelmChartVersion>>,
    ) -> Result<Verified<File>> {
        let first = self.download_verified(file, Expected::Unlisted, &Spool)?;
        let listed = look_up()?;
        let expected = match &listed {
            Some(v) => Expected::from(v),
            None => Expected::NoDigest { malformed: None },
        };
        match self.accept(file, expected, &first.sha256) {
            Ok(()) => Ok(first),
            Err(mismatch) => {
                drop(first);
                self.transport
                    .out()
                    .debug(&format!("{mismatch:#}; downloading it again"));
                self.download_verified(file, expected, &Spool)
            }
        }
    }

    /// Whether a whole download of `file` whose bytes have `sha256` is what the registry
    /// lists: a mismatch is an error; no digest to check against is a warning. The registry's
    /// digest is normalised (any-case `sha256:` prefix, any-case hex); an empty or malformed
    /// one counts as none: only the length was checked.
    fn accept(&self, file: &str, expected: Expected<'_>, sha256: &str) -> Result<()> {
        match expected {
            Expected::Sha256(want) if want != sha256 => Err(anyhow!(
                "digest mismatch for {file}: the registry lists sha256:{want}, the download has sha256:{sha256}"
            )),
            Expected::NoDigest { malformed } => {
                self.transport
                    .out()
                    .warn(&missing_digest_warning(malformed, file));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The warning for a download that has no usable digest to check against (`malformed`: the
/// digest the registry gave, when it gave one that is not a sha256).
pub fn missing_digest_warning(malformed: Option<&str>, file_name: &str) -> String {
    match malformed {
        Some(given) => {
            let shown: String = given.chars().take(80).collect();
            format!(
                "the registry's digest for {file_name} is not a sha256 ({shown:?}); only its length could be verified"
            )
        }
        None => format!(
            "the registry gives no digest for {file_name}; only its length could be verified"
        ),
    }
}

/// Creates a download's temporary file in `dir`: `.helm-ccr-XXXXXX.part` (short and unrelated
/// to the file's name, so that a registry file name of up to 255 bytes still leaves room for
/// it), with the mode Helm gives a pulled chart (0644, less what the umask takes away), so
/// that the renamed file has it. Registered for removal on a signal.
pub fn part_file(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".helm-ccr-").suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    cleanup::create(|| b.tempfile_in(dir))
}

/// [`part_file`], its error naming the directory.
pub fn part_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    part_file(dir).with_context(|| format!("creating a temporary file in {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Duration;

    use super::*;
    use crate::transport::auth::Keys;
    use crate::transport::{Limits, Transport, TransportConfig};
    use crate::ui::output::Output;

    const BODY: &[u8] = b"package bytes";
    /// sha256 of [`BODY`].
    fn body_sha() -> String {
        let mut h = Hashing::sink();
        h.write_all(BODY).unwrap();
        h.finish().1
    }

    /// A registry that answers every request with [`BODY`].
    fn registry(attempts: u32) -> Registry {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    BODY.len()
                );
                let _ = conn.write_all(BODY);
            }
        });
        let transport = Transport::with_limits(
            TransportConfig {
                endpoint: crate::transport::Endpoint::parse(&url).unwrap(),
                keys: Keys::new("ak", "sk", None).unwrap(),
                attempts,
                deadline: None,
                max_download: crate::transport::DEFAULT_MAX_DOWNLOAD,
                tls: Default::default(),
                proxy: Default::default(),
                output: Output::new(true, false),
                parallel: 1,
            },
            Limits {
                connect: Duration::from_secs(5),
                ..Limits::default()
            },
        )
        .unwrap();
        Registry::new(transport, "i", "n")
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_matching_download_lands_where_asked() {
        let reg = registry(1);
        let dir = tempfile::tempdir().unwrap();
        let sha = body_sha();
        let got = reg
            .download_verified("a-1.0.0.tgz", Expected::Sha256(&sha), &PartIn(dir.path()))
            .unwrap();
        assert_eq!((got.sha256.as_str(), got.size), (sha.as_str(), 13));
        assert_eq!(std::fs::read(got.file.path()).unwrap(), BODY);
        let kept = dir.path().join("kept.tgz");
        let got = reg
            .download_verified("a-1.0.0.tgz", Expected::Unlisted, &KeepAt(&kept))
            .unwrap();
        assert_eq!(got.file, kept);
        assert_eq!(std::fs::read(&kept).unwrap(), BODY);
        let mut spooled = reg
            .download_verified("a-1.0.0.tgz", Expected::Sha256(&sha), &Spool)
            .unwrap()
            .file;
        let mut text = Vec::new();
        spooled.read_to_end(&mut text).unwrap();
        assert_eq!(text, BODY);
    }

    #[test]
    fn a_wrong_digest_is_downloaded_again_then_refused_leaving_nothing() {
        let reg = registry(2);
        let dir = tempfile::tempdir().unwrap();
        let want = "0".repeat(64);
        let err = reg
            .download_verified(
                "a-1.0.0.tgz",
                Expected::Sha256(&want),
                &KeepAt(&dir.path().join("a.tgz")),
            )
            .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "gave up after 2 downloads: digest mismatch for a-1.0.0.tgz: the registry lists sha256:{want}, the download has sha256:{}",
                body_sha()
            )
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "{:?}",
            files_in(dir.path())
        );
    }

    #[test]
    fn a_digest_learnt_after_the_download_is_checked_all_the_same() {
        let reg = registry(2);
        let listing = |digest: &str| {
            HelmChartVersion::from_json(&format!(
                r#"{{"name":"a","version":"1.0.0","digest":"sha256:{digest}"}}"#
            ))
        };
        let ok = reg
            .download_verified_after("a-1.0.0.tgz", || Ok(listing(&body_sha())))
            .unwrap();
        assert_eq!(ok.sha256, body_sha());
        assert!(reg
            .download_verified_after("a-1.0.0.tgz", || Ok(None))
            .is_ok());
        let want = "0".repeat(64);
        let err = reg
            .download_verified_after("a-1.0.0.tgz", || Ok(listing(&want)))
            .unwrap_err();
        assert!(
            format!("{err:#}").starts_with("gave up after 2 downloads: digest mismatch for a-1.0.0.tgz: the registry lists sha256:0000"),
            "{err:#}"
        );
        let err = reg
            .download_verified_after("a-1.0.0.tgz", || Err(anyhow!("listing failed")))
            .unwrap_err();
        assert_eq!(format!("{err:#}"), "listing failed");
    }

    #[test]
    fn the_missing_digest_warning_names_what_was_given() {
        assert_eq!(
            missing_digest_warning(None, "a.tgz"),
            "the registry gives no digest for a.tgz; only its length could be verified"
        );
        assert_eq!(
            missing_digest_warning(Some("md5:x"), "a.tgz"),
            "the registry's digest for a.tgz is not a sha256 (\"md5:x\"); only its length could be verified"
        );
    }
}
