//! The reader's extension paths: any mix of GNU long names and links, PAX paths, links and
//! sizes (agreeing with the header or overriding it), directories and links reads back as
//! written; bytes flipped anywhere never panic, never yield more data than an entry says,
//! and never a message longer than a few hundred bytes.

use proptest::prelude::*;

use super::tests::{entry, header, pax_record};
use super::*;

/// How one entry is written.
#[derive(Debug, Clone)]
enum Way {
    Plain,
    GnuLongName,
    PaxPath,
    /// PAX `size` with a header size of 0.
    PaxSizeOnly,
    /// PAX path and size, and a GNU long link.
    Everything,
    Dir,
    Symlink,
}

fn way() -> impl Strategy<Value = Way> {
    prop_oneof![
        Just(Way::Plain),
        Just(Way::GnuLongName),
        Just(Way::PaxPath),
        Just(Way::PaxSizeOnly),
        Just(Way::Everything),
        Just(Way::Dir),
        Just(Way::Symlink),
    ]
}

/// Names of any length up to a few KiB (long names need extensions), never with NUL.
fn name() -> impl Strategy<Value = Vec<u8>> {
    // Long runs of control characters, invalid UTF-8 or quotes too: their escapes count
    // against the shown length.
    (
        "[a-z]{1,8}(/[a-zA-Z0-9._-]{1,12}){0,3}",
        0usize..3000,
        prop::sample::select(vec![b'p', 7, 0x1b, 0xff, b'"']),
        prop::collection::vec(1u8..=255, 0..8),
    )
        .prop_map(|(base, pad, fill, tail)| {
            let mut n = base.into_bytes();
            if pad > 0 {
                n.push(b'/');
                n.extend(std::iter::repeat_n(fill, pad));
            }
            n.extend(tail.into_iter().filter(|b| *b != b'/' && *b != 0));
            n
        })
}

/// What a reader must see of one entry: path, data, type flag.
type Seen = (Vec<u8>, Vec<u8>, u8);

/// Writes the entries; returns the archive and what a reader must see.
fn build(entries: &[(Way, Vec<u8>, Vec<u8>)]) -> (Vec<u8>, Vec<Seen>) {
    let mut t = Vec::new();
    let mut want = Vec::new();
    for (way, name, data) in entries {
        // A name that fits the header: its first 100 bytes (no NUL), else a stub.
        let short: Vec<u8> = name.iter().copied().take(100).collect();
        match way {
            Way::Plain => {
                entry(&mut t, &short, b'0', data);
                want.push((short, data.clone(), b'0'));
            }
            Way::GnuLongName => {
                let mut ln = name.clone();
                ln.push(0);
                entry(&mut t, b"././@LongLink", b'L', &ln);
                entry(&mut t, b"stub", b'0', data);
                want.push((name.clone(), data.clone(), b'0'));
            }
            Way::PaxPath => {
                entry(&mut t, b"PaxHeaders/x", b'x', &pax_record("path", name));
                entry(&mut t, b"stub", b'0', data);
                want.push((name.clone(), data.clone(), b'0'));
            }
            Way::PaxSizeOnly => {
                let rec = pax_record("size", data.len().to_string().as_bytes());
                entry(&mut t, b"PaxHeaders/x", b'x', &rec);
                t.extend_from_slice(&header(&short, b'0', 0));
                t.extend_from_slice(data);
                t.resize(t.len().div_ceil(512) * 512, 0);
                want.push((short, data.clone(), b'0'));
            }
            Way::Everything => {
                let mut recs = pax_record("path", name);
                recs.extend(pax_record("size", data.len().to_string().as_bytes()));
                recs.extend(pax_record("mtime", b"1700000000.5"));
                recs.extend(pax_record("comment", b"ignored"));
                entry(&mut t, b"PaxHeaders/x", b'x', &recs);
                entry(&mut t, b"././@LongLink", b'K', b"target\0");
                t.extend_from_slice(&header(b"stub", b'0', 7));
                t.extend_from_slice(data);
                t.resize(t.len().div_ceil(512) * 512, 0);
                want.push((name.clone(), data.clone(), b'0'));
            }
            Way::Dir => {
                let mut d = short.clone();
                d.truncate(99);
                d.push(b'/');
                entry(&mut t, &d, b'5', b"");
                want.push((d, Vec::new(), b'5'));
            }
            Way::Symlink => {
                // A size field on a symlink is ignored: no data follows.
                t.extend_from_slice(&header(&short, b'2', data.len() as u64));
                want.push((short, Vec::new(), b'2'));
            }
        }
    }
    t.extend_from_slice(&[0u8; 1024]);
    (t, want)
}

fn read_all(bytes: &[u8]) -> Result<Vec<(EntryHeader, Vec<u8>)>> {
    let mut r = TarReader::new(bytes);
    let mut out = Vec::new();
    while let Some(h) = r.next_entry()? {
        let mut data = Vec::new();
        (&mut r).take(h.size + 1).read_to_end(&mut data)?;
        out.push((h, data));
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn extension_headers_read_back_as_written(
        entries in prop::collection::vec((way(), name(), prop::collection::vec(any::<u8>(), 0..1200)), 0..6)
    ) {
        let (bytes, want) = build(&entries);
        let got = read_all(&bytes).unwrap();
        prop_assert_eq!(got.len(), want.len());
        for ((h, data), (path, wdata, flag)) in got.iter().zip(&want) {
            prop_assert_eq!(&h.path, path);
            prop_assert_eq!(data, wdata);
            prop_assert_eq!(h.typeflag, *flag);
            prop_assert_eq!(h.size, wdata.len() as u64);
            prop_assert!(h.shown_path().len() < 200);
        }
    }

    #[test]
    fn flipped_bytes_never_panic_or_overread(
        entries in prop::collection::vec((way(), name(), prop::collection::vec(any::<u8>(), 0..600)), 1..5),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate: bool,
    ) {
        let (mut bytes, _) = build(&entries);
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        if truncate {
            let keep = cut.index(bytes.len());
            bytes.truncate(keep);
        }
        let mut r = TarReader::new(bytes.as_slice());
        loop {
            match r.next_entry() {
                Ok(Some(h)) => {
                    prop_assert!(h.shown_path().len() < 200);
                    let mut data = Vec::new();
                    let n = (&mut r).take(h.size + 1).read_to_end(&mut data);
                    if let Ok(n) = n {
                        prop_assert!(n as u64 <= h.size);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    prop_assert!(e.to_string().len() < 400, "{}", e);
                    break;
                }
            }
        }
    }
}
