//! The bounded tar reader's extension paths: GNU long names and long links, PAX records
//! (path, linkpath, size, mtime, garbage), PAX global headers, sizes that disagree, base-256
//! size fields, header-only types. The input describes entries, written here with valid
//! checksums so that the fuzzer gets past the header checks; the archive is then read by
//! the reader directly and, for one input length in eight (files are slow), gzipped through
//! `inspect` and `untar`. The raw input is read too.
#![no_main]
use std::io::{Read, Write};

use helm_ccr::chart::tar_reader::TarReader;
use helm_ccr::chart::tgz;
use libfuzzer_sys::fuzz_target;

fn header(name: &[u8], typeflag: u8, size: u64, base256: bool) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..107].copy_from_slice(b"0000644");
    if base256 {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    } else {
        let s = format!("{:011o}", size.min(0o77777777777));
        h[124..135].copy_from_slice(s.as_bytes());
    }
    h[136..147].copy_from_slice(b"14540000000");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

fn record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// Entries from the input: `op`, name length, data length (2 bytes), name, data.
fn build(mut input: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    while input.len() >= 4 {
        let (op, nlen, dlen) = (input[0], input[1] as usize, u16::from_le_bytes([input[2], input[3]]) as usize);
        input = &input[4..];
        let name = &input[..nlen.min(input.len())];
        input = &input[name.len()..];
        let data = &input[..dlen.min(input.len())];
        input = &input[data.len()..];
        let mut name = name.to_vec();
        if name.is_empty() {
            name = b"app/f".to_vec();
        }
        let (flag, payload): (u8, Vec<u8>) = match op & 0x0f {
            0 => (b'0', data.to_vec()),
            1 => (b'5', Vec::new()),
            2 => (b'2', Vec::new()),
            3 => (b'L', data.to_vec()),
            4 => (b'K', data.to_vec()),
            5 => (b'x', data.to_vec()),
            6 => {
                let mut r = record("path", data);
                r.extend(record("size", (data.len() / 3).to_string().as_bytes()));
                (b'x', r)
            }
            7 => (b'g', data.to_vec()),
            8 => (b'x', record("linkpath", data)),
            9 => (b'x', record("mtime", data)),
            10 => (b'S', data.to_vec()),
            11 => (b'1', data.to_vec()),
            12 => (b'3', Vec::new()),
            13 => (0, data.to_vec()),
            14 => (b'7', data.to_vec()),
            _ => (op, data.to_vec()),
        };
        // The size field: the payload's length, or a lie (bigger or smaller), possibly
        // in base 256.
        let lie = u64::from(op >> 4);
        let size = match lie {
            0..=7 => payload.len() as u64,
            8..=11 => payload.len() as u64 + lie * 512,
            12 => (payload.len() as u64) / 2,
            13 => 1 << 21,
            14 => u64::MAX >> 2,
            _ => 0,
        };
        t.extend_from_slice(&header(&name, flag, size, op & 0x20 != 0 && lie >= 13));
        t.extend_from_slice(&payload);
        t.resize(t.len().div_ceil(512) * 512, 0);
    }
    t
}

fn read_through(bytes: &[u8]) {
    let mut r = TarReader::new(bytes);
    loop {
        match r.next_entry() {
            Ok(Some(h)) => {
                assert!(h.shown_path().len() < 200);
                let mut sink = Vec::new();
                if let Ok(n) = (&mut r).take(h.size.saturating_add(1)).read_to_end(&mut sink) {
                    assert!(n as u64 <= h.size);
                }
            }
            Ok(None) => break,
            Err(e) => {
                assert!(e.to_string().len() < 400, "{e}");
                break;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read_through(data);
    let tar = build(data);
    read_through(&tar);
    if data.len() % 8 != 0 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("p.tgz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&pkg).unwrap(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap();
    if let Err(e) = tgz::inspect(&pkg) {
        assert!(format!("{e:#}").len() < 600, "{e:#}");
    }
    let out = dir.path().join("out");
    if let Err(e) = tgz::untar(&pkg, &out) {
        assert!(format!("{e:#}").len() < 600, "{e:#}");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(names.len() <= 2, "wrote next to the target: {names:?}");
});
