//! `.helmignore` with Helm's exact semantics.
//!
//! One Go `filepath.Match` pattern per line (ported here, byte for byte in behaviour: `*`, `?`,
//! character classes with ranges and `^` negation, backslash escapes, `ErrBadPattern`), with
//! Helm's rule evaluation on top:
//! - lines are trimmed; blank lines and `#` comments are skipped; `**` is an error; a pattern
//!   that Go's matcher reports as malformed is an error;
//! - `!pat` is a negative rule; a trailing `/` makes the rule apply to directories only;
//! - a leading `/` anchors the pattern at the chart root; a pattern containing `/` matches
//!   the whole chart-relative path; a pattern without `/` matches the base name at any depth;
//! - rules are evaluated in order and the first decision wins. A negative rule decides
//!   "ignore" for every path it does *not* match (and for every non-directory when it is
//!   directory-only); a path it matches moves on to the next rule;
//! - `templates/.?*` is always added last ([`Rules::add_defaults`]).

use std::fmt;

/// `filepath.ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

impl fmt::Display for BadPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

impl std::error::Error for BadPattern {}

/// Decodes one UTF-8 character as Go's `utf8.DecodeRune` does: invalid input yields
/// U+FFFD with width 1.
fn decode_rune(b: &[u8]) -> (u32, usize) {
    let Some(&c0) = b.first() else {
        return (0xFFFD, 0);
    };
    if c0 < 0x80 {
        return (c0 as u32, 1);
    }
    let width = match c0 {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return (0xFFFD, 1),
    };
    if b.len() < width {
        return (0xFFFD, 1);
    }
    match std::str::from_utf8(&b[..width]) {
        Ok(s) => (s.chars().next().unwrap() as u32, width),
        Err(_) => (0xFFFD, 1),
    }
}

/// Go's `filepath.Match` on Unix: does `name` match the shell pattern `pattern`?
/// `*` and `?` never match `/`. A malformed pattern is an error even when the match fails
/// early (as in Go 1.16+).
pub fn go_match(pattern: &[u8], name: &[u8]) -> Result<bool, BadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing * matches the rest of the name unless it has a '/'.
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok, err) = match_chunk(chunk, name);
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if let Some(e) = err {
            return Err(e);
        }
        if star {
            // Try to match the chunk after skipping i+1 bytes; '/' cannot be skipped.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok, err) = match_chunk(chunk, &name[i + 1..]);
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                if let Some(e) = err {
                    return Err(e);
                }
                i += 1;
            }
        }
        // Before answering "no", make sure the rest of the pattern is well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if let (_, _, Some(e)) = match_chunk(chunk, b"") {
                return Err(e);
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off leading stars and the chunk up to the next star outside a class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let Some(b'*') = pattern.first() {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches one star-free chunk at the start of `s`: (rest of s, matched, pattern error).
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> (&'a [u8], bool, Option<BadPattern>) {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = 0u32;
                if !failed {
                    let (c, n) = decode_rune(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = match get_esc(chunk) {
                        Ok(v) => v,
                        Err(e) => return (b"", false, Some(e)),
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = match get_esc(&chunk[1..]) {
                            Ok(v) => v,
                            Err(e) => return (b"", false, Some(e)),
                        };
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        None => return (b"", false, Some(BadPattern)),
                        Some(&e) => e,
                    }
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        (b"", false, None)
    } else {
        (s, true, None)
    }
}

/// One (possibly escaped) character of a class; the chunk must go on after it.
fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(BadPattern);
    }
    let mut chunk = chunk;
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (r, n) = decode_rune(chunk);
    let bad_rune = r == 0xFFFD && n == 1;
    let rest = &chunk[n..];
    if bad_rune || rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

/// Go's `filepath.Base` on Unix paths.
fn go_base(p: &[u8]) -> &[u8] {
    if p.is_empty() {
        return b".";
    }
    let mut end = p.len();
    while end > 0 && p[end - 1] == b'/' {
        end -= 1;
    }
    if end == 0 {
        return b"/";
    }
    let p = &p[..end];
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Leading `/`: the pattern (without it) against the whole path.
    Anchored,
    /// Contains `/`: the pattern against the whole path.
    Path,
    /// No `/`: the pattern against the base name.
    Base,
}

#[derive(Debug, Clone)]
struct Pattern {
    raw: String,
    pat: Vec<u8>,
    kind: Kind,
    negate: bool,
    must_dir: bool,
}

impl Pattern {
    fn matches(&self, path: &[u8]) -> bool {
        let target = match self.kind {
            Kind::Anchored | Kind::Path => path,
            Kind::Base => go_base(path),
        };
        go_match(&self.pat, target).unwrap_or(false)
    }
}

/// A parsed `.helmignore`.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

/// An error in a `.helmignore` line (1-based line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RuleError {}

/// Go's `bufio.Scanner` default maximum token size.
const MAX_LINE: usize = 64 * 1024;

impl Rules {
    /// No rules at all.
    pub fn empty() -> Rules {
        Rules::default()
    }

    /// Parses the content of a `.helmignore` file (a UTF-8 BOM on the first line is dropped,
    /// `\r\n` line ends are accepted).
    pub fn parse(content: &[u8]) -> Result<Rules, RuleError> {
        let mut r = Rules::empty();
        let mut content = content;
        let mut line_no = 0;
        while !content.is_empty() {
            let (mut line, rest) = match content.iter().position(|&c| c == b'\n') {
                Some(i) => (&content[..i], &content[i + 1..]),
                None => (content, &b""[..]),
            };
            content = rest;
            if line.len() > MAX_LINE {
                return Err(RuleError {
                    line: line_no + 1,
                    message: "line too long (bufio.Scanner: token too long)".into(),
                });
            }
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            if line_no == 0 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            line_no += 1;
            r.parse_rule(line).map_err(|message| RuleError {
                line: line_no,
                message,
            })?;
        }
        Ok(r)
    }

    /// Adds the rule Helm always adds last: `templates/.?*`.
    pub fn add_defaults(&mut self) {
        self.parse_rule(b"templates/.?*")
            .expect("the default rule is valid");
    }

    fn parse_rule(&mut self, rule: &[u8]) -> Result<(), String> {
        let rule = trim_space(rule);
        if rule.is_empty() || rule[0] == b'#' {
            return Ok(());
        }
        let raw = String::from_utf8_lossy(rule).into_owned();
        if rule.windows(2).any(|w| w == b"**") {
            return Err(format!("{raw:?}: double-star (**) syntax is not supported"));
        }
        if go_match(rule, b"abc").is_err() {
            return Err(format!("{raw:?}: syntax error in pattern"));
        }
        let mut pat = rule;
        let mut negate = false;
        if let Some(p) = pat.strip_prefix(b"!") {
            negate = true;
            pat = p;
        }
        let mut must_dir = false;
        if let Some(p) = pat.strip_suffix(b"/") {
            must_dir = true;
            pat = p;
        }
        let kind = if let Some(p) = pat.strip_prefix(b"/") {
            pat = p;
            Kind::Anchored
        } else if pat.contains(&b'/') {
            Kind::Path
        } else {
            Kind::Base
        };
        self.patterns.push(Pattern {
            raw,
            pat: pat.to_vec(),
            kind,
            negate,
            must_dir,
        });
        Ok(())
    }

    /// Number of rules (comments and blank lines excluded).
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The rules as written (after trimming), in order.
    pub fn raw_rules(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.raw.as_str())
    }

    /// Should the chart-relative, `/`-separated `path` be left out? `is_dir` tells whether it
    /// is a directory (after following symlinks).
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        self.ignore_bytes(path.as_bytes(), is_dir)
    }

    /// [`Rules::ignore`] for paths that need not be UTF-8.
    pub fn ignore_bytes(&self, path: &[u8], is_dir: bool) -> bool {
        if path.is_empty() || path == b"." || path == b"./" {
            return false;
        }
        for p in &self.patterns {
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !p.matches(path) {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if p.matches(path) {
                return true;
            }
        }
        false
    }
}

/// Go's `bytes.TrimSpace`: Unicode white space at both ends (ASCII fast path).
fn trim_space(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Ok(s) => s.trim().as_bytes(),
        Err(_) => b.trim_ascii(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> Result<bool, BadPattern> {
        go_match(p.as_bytes(), n.as_bytes())
    }

    /// The cases of Go's own `filepath.Match` test table (Unix), re-typed.
    #[test]
    fn go_filepath_match_cases() {
        let ok: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
        ];
        for &(p, n, want) in ok {
            assert_eq!(m(p, n), Ok(want), "Match({p:?}, {n:?})");
        }
        let bad: &[(&str, &str)] = &[
            ("[]a]", "]"),
            ("[-]", "-"),
            ("[x-]", "x"),
            ("[x-]", "-"),
            ("[x-]", "z"),
            ("[-x]", "x"),
            ("[-x]", "-"),
            ("[-x]", "a"),
            ("\\", "a"),
            ("[a-b-c]", "a"),
            ("[", "a"),
            ("[^", "a"),
            ("[^bc", "a"),
            ("a[", "a"),
            ("a[", "ab"),
            ("a[", "x"),
            ("a/b[", "x"),
            ("*x[", "a"),
            ("[z-", "abc"),
            ("a*\\", "abc"),
        ];
        for &(p, n) in bad {
            assert_eq!(
                m(p, n),
                Err(BadPattern),
                "Match({p:?}, {n:?}) should be bad"
            );
        }
    }

    fn rules(s: &str) -> Rules {
        Rules::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn parse_lines() {
        let r = rules("#ignore\n\n\t#ignore\nfoo\nbar/*\nbaz/bar/foo.txt\n\none/more\n");
        assert_eq!(
            r.raw_rules().collect::<Vec<_>>(),
            vec!["foo", "bar/*", "baz/bar/foo.txt", "one/more"]
        );
        let r = rules("\u{feff}a\r\n  b  \r\nc");
        assert_eq!(r.raw_rules().collect::<Vec<_>>(), vec!["a", "b", "c"]);
        for bad in ["foo/**/bar", "[z-", "a\\", "ok\n**"] {
            assert!(Rules::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(Rules::parse(b"ok\n[").unwrap_err().line, 2);
        let mut d = Rules::empty();
        d.add_defaults();
        assert_eq!(d.len(), 1);
    }

    /// Helm's own `pkg/ignore` rule table (pattern, path, is the path a directory, ignored?).
    #[test]
    fn helm_rule_cases() {
        let cases: &[(&str, &str, bool, bool)] = &[
            ("helm.txt", "helm.txt", false, true),
            ("helm.*", "helm.txt", false, true),
            ("helm.*", "rudder.txt", false, false),
            ("*.txt", "tiller.txt", false, true),
            ("*.txt", "cargo/a.txt", false, true),
            ("cargo/*.txt", "cargo/a.txt", false, true),
            ("cargo/*.*", "cargo/a.txt", false, true),
            ("cargo/*.txt", "mast/a.txt", false, false),
            ("ru[c-e]?er.txt", "rudder.txt", false, true),
            ("templates/.?*", "templates/.dotfile", false, true),
            (".*", ".", true, false),
            (".*", "./", true, false),
            (".*", ".joonix", false, true),
            (".*", "helm.txt", false, false),
            (".*", "", true, false),
            ("cargo/", "cargo", true, true),
            ("cargo/", "cargo/", true, true),
            ("cargo/", "mast/", true, false),
            ("helm.txt/", "helm.txt", false, false),
            ("!helm.txt", "helm.txt", false, false),
            ("!helm.txt", "tiller.txt", false, true),
            ("!*.txt", "cargo", true, true),
            ("!cargo/", "mast/", true, true),
            ("/a.txt", "a.txt", false, true),
            ("/a.txt", "cargo/a.txt", false, false),
            ("/cargo/a.txt", "cargo/a.txt", false, true),
        ];
        for &(pat, path, is_dir, want) in cases {
            assert_eq!(
                rules(pat).ignore(path, is_dir),
                want,
                "pattern {pat:?} path {path:?}"
            );
        }
    }

    #[test]
    fn evaluation_order_and_negation() {
        // First decision wins: a matching positive rule ignores even if a later ! matches.
        let r = rules("*.txt\n!keep.txt\n");
        assert!(r.ignore("keep.txt", false));
        // A negative rule ignores everything it does not match...
        let r = rules("!*.yaml\n");
        assert!(r.ignore("README.md", false));
        assert!(!r.ignore("values.yaml", false));
        assert!(r.ignore("templates", true));
        // ...and a directory-only negative rule ignores every file.
        let r = rules("!templates/\n");
        assert!(r.ignore("Chart.yaml", false));
        assert!(!r.ignore("templates", true));
        // A bare "!" ignores everything.
        assert!(rules("!").ignore("Chart.yaml", false));
        // Base-name patterns apply at any depth; path patterns do not cross '/'.
        let r = rules("secret*\ndocs/*.md\n");
        assert!(r.ignore("a/b/secret.yaml", false));
        assert!(r.ignore("docs/x.md", false));
        assert!(!r.ignore("docs/sub/x.md", false));
        assert!(!r.ignore("other/docs/x.md", false));
        // The default rule: dot files directly in templates/ only.
        let mut d = Rules::empty();
        d.add_defaults();
        assert!(d.ignore("templates/.keep", false));
        assert!(!d.ignore("templates/sub/.keep", false));
        assert!(!d.ignore("charts/sub/templates/.keep", false));
        assert!(!d.ignore(".helmignore", false));
        // Directory-only positive rule skips files of that name.
        let r = rules("build/\n");
        assert!(r.ignore("x/build", true));
        assert!(!r.ignore("build", false));
        // Escapes and classes in rules.
        let r = rules("\\#literal\nfile[0-9].txt\n");
        assert!(r.ignore("#literal", false));
        assert!(r.ignore("file7.txt", false));
        assert!(!r.ignore("filex.txt", false));
    }

    #[test]
    fn base_name() {
        assert_eq!(go_base(b"a/b/c"), b"c");
        assert_eq!(go_base(b"cargo/"), b"cargo");
        assert_eq!(go_base(b""), b".");
        assert_eq!(go_base(b"///"), b"/");
    }
}
