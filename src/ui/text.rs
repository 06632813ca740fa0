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

/// Edits between `a` and `b` (insertions, deletions, substitutions and swaps of neighbours,
/// counted in characters): the optimal string alignment distance.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: the one before the previous (for swaps), the previous, the current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word` (case aside), if it is close enough to be a slip of the
/// keyboard: at most a third of `word`'s length away (at least 1 edit, at most 3). Ties go to
/// the first candidate in sort order; `word` itself is never suggested.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// `; did you mean "web"?` for the closest candidate (see [`closest`]), or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean {:?}?", crate::ui::output::printable(c)))
        .unwrap_or_default()
}

/// `e` with `; did you mean "x"?` added when its message starts with `not_found` and one of
/// `names()` (asked only then; `None` when they cannot be had) is close to `word`; else `e`
/// as it was.
pub fn suggest_on_not_found(
    e: anyhow::Error,
    not_found: &str,
    word: &str,
    names: impl FnOnce() -> Option<Vec<String>>,
) -> anyhow::Error {
    if !e.to_string().starts_with(not_found) {
        return e;
    }
    let Some(names) = names() else { return e };
    let hint = did_you_mean(word, names.iter().map(String::as_str));
    if hint.is_empty() {
        return e;
    }
    anyhow::anyhow!("{e:#}{hint}")
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

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("myccr", "mycrc"), 1, "a swap is one edit");
        assert_eq!(edit_distance("mychart", "mychrat"), 1);
        assert_eq!(edit_distance("web", "wbe"), 1);
        assert_eq!(edit_distance("é", "e"), 1, "characters, not bytes");
    }

    #[test]
    fn only_close_names_are_suggested() {
        let names = ["myccr", "other", "prod-charts"];
        assert_eq!(closest("mycr", names), Some("myccr"));
        assert_eq!(closest("MYCCR", names), Some("myccr"), "case aside");
        assert_eq!(closest("prodcharts", names), Some("prod-charts"));
        assert_eq!(closest("prd-chrts", names), Some("prod-charts"), "2 of 9");
        assert_eq!(closest("xyz", names), None);
        assert_eq!(
            closest("ab", ["xy"]),
            None,
            "2 edits in 2 letters is no slip"
        );
        assert_eq!(closest("myccr", ["myccr"]), None);
        assert_eq!(
            closest("web", ["wab", "wbe"]),
            Some("wab"),
            "ties: sort order"
        );
        assert_eq!(did_you_mean("mycr", names), "; did you mean \"myccr\"?");
        assert_eq!(did_you_mean("zzz", names), "");
    }
}
