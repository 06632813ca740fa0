//! Human text formatting in one place: durations, byte counts and aligned tables.

use std::time::Duration;

/// A duration, short: `500ms`, `4s`, `60s`, `90s`, `5m`, `1h30m`.
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    if secs < 120 {
        return format!("{secs}s");
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A byte count for a message: bytes, KiB or MiB.
pub fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes >= 10 * MIB {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= 1 << 10 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// A byte count as a short label in whole units: `48 MiB`, `512 KiB`, `900 B` (the packaging
/// spinner). Differs from [`size_text`] on purpose: no decimal between 1 and 10 MiB, and `B`
/// rather than `bytes`, so that a label stays short.
pub fn size_label(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// Aligned columns like `helm search`: each column padded to its widest cell plus a tab stop
/// of spaces; no trailing blanks; control characters from the registry shown as spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let clean = |s: &str| -> String { crate::ui::output::printable(s).into_owned() };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = Vec::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count() + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push(line.trim_end().to_string());
    }
    out.join("\n")
}

/// `url` with any `user:password@` before the host replaced by `***@`, for messages: a secret
/// pasted into a URL must not be echoed back.
pub fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn durations_and_sizes_read_well() {
        let d = |ms| duration_text(Duration::from_millis(ms));
        assert_eq!(d(500), "500ms");
        assert_eq!(d(4000), "4s");
        assert_eq!(d(60_000), "60s");
        assert_eq!(d(90_000), "90s");
        assert_eq!(d(150_000), "2m30s");
        assert_eq!(d(3_600_000), "1h");
        assert_eq!(d(3_661_000), "1h1m1s");
        assert_eq!(size_text(512), "512 bytes");
        assert_eq!(size_text(5 << 10), "5 KiB");
        assert_eq!(size_text(3 * MIB / 2), "1.5 MiB");
        assert_eq!(size_text(512 * MIB), "512 MiB");
    }

    #[test]
    fn size_labels_are_whole_units() {
        assert_eq!(size_label(48 << 20), "48 MiB");
        assert_eq!(size_label(2048), "2 KiB");
        assert_eq!(size_label(9), "9 B");
    }

    #[test]
    fn tables_align() {
        let t = table(&[
            vec!["NAME".into(), "VERSION".into()],
            vec!["a-long-name".into(), "1.0.0".into()],
            vec!["b".into(), "".into()],
        ]);
        assert_eq!(t, "NAME         VERSION\na-long-name  1.0.0\nb");
    }
}
