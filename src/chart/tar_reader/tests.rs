use super::*;

/// A raw header block: name, type, size field as given, checksum set.
pub(crate) fn header(name: &[u8], typeflag: u8, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"14540000000");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    set_checksum(&mut h);
    h
}

pub(crate) fn set_checksum(h: &mut [u8; 512]) {
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
}

pub(crate) fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body_len + 1;
    while format!("{len}").len() + body_len != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// Appends an entry: header then data padded to a block.
pub(crate) fn entry(out: &mut Vec<u8>, name: &[u8], typeflag: u8, data: &[u8]) {
    out.extend_from_slice(&header(name, typeflag, data.len() as u64));
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn all(bytes: &[u8]) -> Result<Vec<(EntryHeader, Vec<u8>)>> {
    let mut r = TarReader::new(bytes);
    let mut out = Vec::new();
    while let Some(h) = r.next_entry()? {
        let mut data = Vec::new();
        r.read_to_end(&mut data)?;
        out.push((h, data));
    }
    Ok(out)
}

#[test]
fn reads_what_the_tar_crate_writes() {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("app/{}/file.txt", "d".repeat(150));
    for (name, data) in [("app/Chart.yaml", &b"name: app\n"[..]), (&long, b"x")] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    b.append_data(&mut h, "app/templates/", &b""[..]).unwrap();
    let bytes = b.into_inner().unwrap();
    let got = all(&bytes).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].0.path, b"app/Chart.yaml");
    assert_eq!(got[0].1, b"name: app\n");
    assert!(got[0].0.is_file());
    assert_eq!(got[1].0.path, long.as_bytes(), "GNU long name");
    assert_eq!(got[1].1, b"x");
    assert!(got[2].0.is_dir());
}

#[test]
fn pax_size_frames_the_entry() {
    // Header size 0, PAX size 3: three bytes of data, as Go reads it.
    let mut t = Vec::new();
    entry(&mut t, b"PaxHeaders/a", b'x', &pax_record("size", b"3"));
    let mut data_entry = Vec::new();
    data_entry.extend_from_slice(&header(b"app/a", b'0', 0));
    data_entry.extend_from_slice(b"abc");
    data_entry.resize(1024, 0);
    t.extend_from_slice(&data_entry);
    entry(&mut t, b"app/b", b'0', b"bb");
    let got = all(&t).unwrap();
    assert_eq!(got[0].0.size, 3);
    assert_eq!(got[0].1, b"abc");
    assert_eq!(got[1].0.path, b"app/b");
    assert_eq!(got[1].1, b"bb");
}

#[test]
fn pax_path_and_ustar_prefix() {
    let mut t = Vec::new();
    entry(&mut t, b"x", b'x', &pax_record("path", b"app/../../evil"));
    entry(&mut t, b"app/innocent", b'0', b"1");
    let mut h = header(b"name", b'0', 0);
    h[345..348].copy_from_slice(b"pre");
    set_checksum(&mut h);
    t.extend_from_slice(&h);
    let got = all(&t).unwrap();
    assert_eq!(got[0].0.path, b"app/../../evil");
    assert_eq!(got[1].0.path, b"pre/name");
}

#[test]
fn oversized_extension_headers_are_refused_before_reading() {
    for (flag, what) in [
        (b'L', "GNU long name"),
        (b'K', "GNU long link"),
        (b'x', "PAX header"),
        (b'g', "PAX global header"),
    ] {
        // Only the header: reading any of the declared data would hit the end of input
        // and say "truncated" instead.
        let t = header(b"././@LongLink", flag, MAX_SPECIAL_BYTES + 1);
        let err = all(&t).unwrap_err().to_string();
        assert!(
            err.contains(what) && err.contains("over the limit"),
            "{err}"
        );
    }
    // Exactly at the limit is read.
    let mut t = Vec::new();
    let mut name = b"app/".to_vec();
    name.resize(MAX_SPECIAL_BYTES as usize, b'n');
    entry(&mut t, b"././@LongLink", b'L', &name);
    entry(&mut t, b"short", b'0', b"");
    let got = all(&t).unwrap();
    assert_eq!(got[0].0.path.len(), MAX_SPECIAL_BYTES as usize);
    assert!(got[0].0.shown_path().len() < 200);
}

#[test]
fn header_only_types_carry_no_data() {
    // A symlink whose size field says 512: Go reads no data for it, so the next block is
    // the next header.
    let mut t = Vec::new();
    t.extend_from_slice(&header(b"app/link", b'2', 512));
    entry(&mut t, b"app/next", b'0', b"n");
    let got = all(&t).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0.size, 0);
    assert_eq!(got[1].0.path, b"app/next");
}

#[test]
fn malformed_archives_are_errors() {
    let mut bad_sum = header(b"a", b'0', 0);
    bad_sum[0] = b'b';
    assert!(all(&bad_sum).is_err());
    let mut truncated = Vec::new();
    truncated.extend_from_slice(&header(b"a", b'0', 100));
    truncated.extend_from_slice(b"short");
    assert!(all(&truncated).is_err());
    assert!(all(&header(b"a", b'0', 0)[..300]).is_err());
    let mut dangling = Vec::new();
    entry(&mut dangling, b"x", b'x', &pax_record("path", b"a"));
    assert!(all(&dangling).is_err());
    for record in [&b"3 a\n"[..], b"99 path=a\n", b"x path=a\n", b"10 path a\n"] {
        let mut t = Vec::new();
        entry(&mut t, b"x", b'x', record);
        entry(&mut t, b"a", b'0', b"");
        assert!(all(&t).is_err(), "{:?}", String::from_utf8_lossy(record));
    }
    let mut t = Vec::new();
    entry(&mut t, b"x", b'x', &pax_record("size", b"-1"));
    entry(&mut t, b"a", b'0', b"");
    assert!(all(&t).is_err());
    // Empty input and a zero block are empty archives.
    assert!(all(b"").unwrap().is_empty());
    assert!(all(&[0u8; 1024]).unwrap().is_empty());
}

#[test]
fn numeric_fields() {
    assert_eq!(parse_numeric(b"00000000012\0"), Some(10));
    assert_eq!(parse_numeric(b"   12 \0"), Some(10));
    assert_eq!(parse_numeric(b"\0\0\0"), Some(0));
    assert_eq!(parse_numeric(b"0009"), None);
    let mut b256 = [0u8; 12];
    b256[0] = 0x80;
    b256[11] = 7;
    assert_eq!(parse_numeric(&b256), Some(7));
    b256[0] = 0xff;
    assert_eq!(parse_numeric(&b256), None, "negative");
    let mut huge = [0xffu8; 12];
    huge[0] = 0x80;
    assert_eq!(parse_numeric(&huge), None, "overflow");
}

#[test]
fn shown_names_are_short() {
    assert_eq!(shown_name(b"app/x"), "\"app/x\"");
    let long = vec![b'a'; 10_000];
    let s = shown_name(&long);
    assert!(s.len() < 200 && s.contains("10000 bytes"), "{s}");
    assert_eq!(shown_name(b"a\x1b[2J"), "\"a\\u{1b}[2J\"");
    // Escapes count: a name of control characters is cut as short (found by fuzzing).
    let bells = vec![7u8; 1000];
    let s = shown_name(&bells);
    assert!(s.len() < 160 && s.contains("1000 bytes"), "{s}");
    let s = shown_name(&[0xff; 500]);
    assert!(s.len() < 160, "{s}");
}
