//! What a package and its provenance file say they are, held against the version that was
//! selected from the registry's listing. A registry that lists 2.0.0 but serves a (validly
//! signed) 1.1.0 passes every digest and hash check, since it lists the digest of what it
//! serves and the provenance file signs those bytes; only the chart's own `Chart.yaml`, and
//! the `Chart.yaml` data in the signed message, say which chart and version the bytes are.

use std::io::Read;

use anyhow::{anyhow, bail, Result};
use flate2::read::MultiGzDecoder;

use crate::chart::metadata::{self, Metadata};
use crate::chart::tar_reader::TarReader;
use crate::chart::tgz::{INSPECT_MAX_BYTES, MAX_FILE_BYTES};
use crate::provenance::SEPARATOR;
use crate::ui::output::printable;

/// The chart and version a registry listing selected (its `name` and `version` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

impl Selected<'_> {
    /// Whether `name` and `version` are this chart and version: the name exactly, the version
    /// exactly or as the same SemVer (Helm's loose parsing: `v1.0` is `1.0.0`), pre-release
    /// and build metadata included.
    fn is(&self, name: &str, version: &str) -> bool {
        name == self.name && same_version(version, self.version)
    }
}

fn same_version(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (metadata::parse_loose_version(a), metadata::parse_loose_version(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// `NAME VERSION` for a message, made safe for a terminal.
fn shown(name: &str, version: &str) -> String {
    let name = if name.is_empty() { "(no name)" } else { name };
    let version = if version.is_empty() {
        "(no version)"
    } else {
        version
    };
    printable(&format!("{name} {version}")).into_owned()
}

/// The `Chart.yaml` data of the package read from `package` (gzip tar bytes), as Helm's
/// loader reads it: every entry whose path, less its first component, is `Chart.yaml`,
/// decoded in order onto the same metadata (a later one overrides the fields it names).
/// `label` names the package in errors. Reads the whole archive, stopping at
/// [`INSPECT_MAX_BYTES`] of expanded data.
pub fn package_metadata(package: impl Read, label: &str) -> Result<Metadata> {
    let bad = |e: &dyn std::fmt::Display| anyhow!("{label} is not a valid chart package: {e}");
    // Go's gzip reader, which Helm's loader uses, reads concatenated gzip members as one
    // stream: so does this.
    let mut archive = TarReader::new(MultiGzDecoder::new(package));
    let mut md: Option<Metadata> = None;
    let mut expanded = 0u64;
    while let Some(entry) = archive.next_entry().map_err(|e| bad(&format!("{e:#}")))? {
        expanded = expanded.saturating_add(entry.size);
        if expanded > INSPECT_MAX_BYTES {
            bail!(
                "{label} expands to more than {} MiB; not reading further",
                INSPECT_MAX_BYTES >> 20
            );
        }
        if entry.is_dir() {
            continue;
        }
        let is_chart_yaml = entry
            .path
            .splitn(2, |&b| b == b'/')
            .nth(1)
            .is_some_and(|rest| rest == b"Chart.yaml");
        if !is_chart_yaml {
            continue;
        }
        let mut bytes = Vec::new();
        (&mut archive)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(&e))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            bail!("{label}: its Chart.yaml is larger than 5 MiB");
        }
        md.get_or_insert_with(Metadata::default)
            .merge_yaml(&bytes)
            .map_err(|e| anyhow!("{label}: Chart.yaml: {e:#}"))?;
    }
    // The data after the end of the archive is not read: Helm does not read it either, and
    // the digest (checked before) covers it.
    md.ok_or_else(|| {
        anyhow!("{label} is not a chart package: no Chart.yaml in its top-level directory")
    })
}

/// Refuses a package (read from `package`, gzip tar bytes, named `label`) whose `Chart.yaml`
/// names another chart or version than `selected`.
pub fn check_package(package: impl Read, label: &str, selected: Selected<'_>) -> Result<()> {
    let md = package_metadata(package, label)?;
    if !selected.is(&md.name, &md.version) {
        bail!(
            "{label} is not {}: its Chart.yaml says {}; the registry serves another package than the version it lists, refusing it",
            shown(selected.name, selected.version),
            shown(&md.name, &md.version)
        );
    }
    Ok(())
}

/// The `Chart.yaml` data of a signed provenance message: the part before its first `...` line.
pub fn signed_metadata(signed_text: &str) -> Result<Metadata> {
    let text = signed_text.replace("\r\n", "\n");
    let Some((chart, _)) = text.split_once(SEPARATOR) else {
        bail!("the signed text has no `...` line separating the chart data from the files block");
    };
    let mut md = Metadata::default();
    md.merge_yaml(chart.as_bytes())
        .map_err(|e| anyhow!("the chart data of the signed text is not valid: {e:#}"))?;
    Ok(md)
}

/// Refuses a verified provenance message (its signed text) that signs another chart or
/// version than `selected` (`file_name`: the package, for the message).
pub fn check_signed(signed_text: &str, file_name: &str, selected: Selected<'_>) -> Result<()> {
    let md = signed_metadata(signed_text)?;
    if !selected.is(&md.name, &md.version) {
        bail!(
            "the provenance file of {file_name} signs {}, not the selected {}; refusing it",
            shown(&md.name, &md.version),
            shown(selected.name, selected.version)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const APP_2: Selected<'static> = Selected {
        name: "app",
        version: "2.0.0",
    };

    /// A gzip tar of `(path, content)` file entries.
    fn tgz(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar_entries(entries);
        tar.resize(tar.len() + 1024, 0);
        gzip(&tar)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    /// Tar entries, without the archive's end.
    fn tar_entries(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = Vec::new();
        for (path, content) in entries {
            let mut h = [0u8; 512];
            h[..path.len()].copy_from_slice(path.as_bytes());
            h[100..107].copy_from_slice(b"0000644");
            h[108..115].copy_from_slice(b"0000000");
            h[116..123].copy_from_slice(b"0000000");
            h[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
            h[136..147].copy_from_slice(b"00000000000");
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&b| b as u32).sum();
            h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
            tar.extend_from_slice(&h);
            tar.extend_from_slice(content.as_bytes());
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar
    }

    fn check(entries: &[(&str, &str)]) -> Result<()> {
        check_package(&tgz(entries)[..], "app-2.0.0.tgz", APP_2)
    }

    #[test]
    fn the_package_must_be_the_selected_version() {
        let ok = "apiVersion: v2\nname: app\nversion: 2.0.0\n";
        check(&[("app/Chart.yaml", ok), ("app/values.yaml", "")]).unwrap();
        // The same SemVer spelt otherwise.
        check(&[("app/Chart.yaml", "name: app\nversion: v2.0\n")]).unwrap();
        let err = check(&[("app/Chart.yaml", "name: app\nversion: 1.1.0\n")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "app-2.0.0.tgz is not app 2.0.0: its Chart.yaml says app 1.1.0; the registry serves another package than the version it lists, refusing it"
        );
        for wrong in [
            "name: other\nversion: 2.0.0\n",
            "name: app\nversion: 2.0.0+b.1\n",
            "name: app\nversion: 2.0.0-rc.1\n",
            "name: app\n",
            "version: 2.0.0\n",
        ] {
            assert!(check(&[("app/Chart.yaml", wrong)]).is_err(), "{wrong}");
        }
        // A later Chart.yaml overrides what it names, as Helm's loader decodes it.
        let err = check(&[
            ("app/Chart.yaml", ok),
            ("app/Chart.yaml", "version: 1.1.0\n"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("says app 1.1.0"), "{err}");
        // Only the top-level Chart.yaml counts.
        let err = check(&[
            ("app/Chart.yaml", "name: app\nversion: 1.1.0\n"),
            ("app/charts/sub/Chart.yaml", ok),
            ("Chart.yaml", ok),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("says app 1.1.0"), "{err}");
        // Concatenated gzip members are one stream, as Go's gzip reader (Helm's) reads them.
        let mut split = gzip(&tar_entries(&[("app/Chart.yaml", ok)]));
        let mut rest = tar_entries(&[("app/Chart.yaml", "version: 1.1.0\n")]);
        rest.resize(rest.len() + 1024, 0);
        split.extend(gzip(&rest));
        let err = check_package(&split[..], "app-2.0.0.tgz", APP_2).unwrap_err();
        assert!(err.to_string().contains("says app 1.1.0"), "{err}");
        let err = check(&[("app/values.yaml", "")]).unwrap_err();
        assert!(err.to_string().contains("no Chart.yaml"), "{err}");
        assert!(check_package(&b"not a package"[..], "x.tgz", APP_2).is_err());
    }

    #[test]
    fn names_in_messages_are_printable() {
        let err = check(&[("app/Chart.yaml", "name: \"a\\e[31mpp\"\nversion: 2.0.0\n")])
            .unwrap_err()
            .to_string();
        assert!(!err.chars().any(|c| c.is_control()), "{err:?}");
    }

    #[test]
    fn the_signed_message_must_name_the_selected_version() {
        let message = |chart: &str| crate::provenance::message(chart, "app-1.1.0.tgz", "ab");
        check_signed(
            &message("name: app\nversion: 2.0.0\n"),
            "app-2.0.0.tgz",
            APP_2,
        )
        .unwrap();
        let err = check_signed(
            &message("apiVersion: v2\nname: app\nversion: 1.1.0\n"),
            "app-1.1.0.tgz",
            APP_2,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the provenance file of app-1.1.0.tgz signs app 1.1.0, not the selected app 2.0.0; refusing it"
        );
        assert!(check_signed(&message(""), "app-2.0.0.tgz", APP_2).is_err());
        assert!(check_signed(
            &message("name: other\nversion: 2.0.0\n"),
            "app-2.0.0.tgz",
            APP_2
        )
        .is_err());
        assert!(check_signed("name: app\nversion: 2.0.0\n", "app-2.0.0.tgz", APP_2).is_err());
        // CRLF line ends, as gpg may hand them back.
        let crlf = message("name: app\nversion: 2.0.0\n").replace('\n', "\r\n");
        check_signed(&crlf, "app-2.0.0.tgz", APP_2).unwrap();
    }
}
