//! `ccr-emulator` binary: serves the emulator until killed.
//!
//! `ccr-emulator --port 0 [--host 127.0.0.1] --keys AK:SK[:TOKEN]... [--overwrite]
//! [--data-dir DIR] [--max-chart-size BYTES] [--latency-ms MS] [--max-in-flight N]`
//!
//! `--latency-ms` delays every API answer (as `POST /_emulator/config {"latency_ms": MS}`
//! does): a slow network for benchmarks. `--max-in-flight N` answers `429` with `Retry-After: 1`
//! to a request arriving while N are in flight (as `{"max_in_flight": N}` does): a registry that
//! throttles.
//!
//! Prints the base URL on stdout (one line), then serves. `--help` says all of this (exit 0);
//! a bad flag is one `Error:` line on stderr, exit 2.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ccr_emulator::{Config, Key};

/// `--help`: the flags, what the emulator prints, and how to point helm-ccr at it.
const HELP: &str = "\
ccr-emulator: a local stand-in for the Helm chart API of Baidu CCR Enterprise Edition, for tests
and trying helm-ccr without a cloud account. It checks BCE auth v1 signatures against the keys
given; any instance ID and namespace exist (created on first use).

Usage:
  ccr-emulator [--port N] [--host ADDR] --keys AK:SK[:TOKEN]... [--overwrite]
               [--data-dir DIR] [--max-chart-size BYTES] [--latency-ms MS] [--max-in-flight N]

Flags:
  --keys AK:SK[:TOKEN]...  the access keys it accepts (at least one; repeat the flag or list
                           several); with TOKEN, requests must carry that STS session token
  --port N                 port to listen on (default 0: any free port)
  --host ADDR              address to bind (default 127.0.0.1)
  --overwrite              uploading an existing version replaces it (default: 409, as CCR
                           configured to refuse overwrites answers)
  --data-dir DIR           keep charts in DIR and load what is there at start (default: memory)
  --max-chart-size BYTES   refuse larger chart archives with 413 (default: no limit)
  --latency-ms MS          delay every API answer by MS milliseconds (default 0)
  --max-in-flight N        answer 429 with Retry-After: 1 to a request arriving while N are
                           in flight (default: no limit)
  -h, --help               this help

On start it prints one line on stdout, its base URL (e.g. http://127.0.0.1:40123), then serves
until it is killed; errors go to stderr. Exit status: 0 after --help, 1 when it cannot start
(e.g. the port is taken), 2 for a bad flag.

Example (helm-ccr against it):
  ccr-emulator --port 8080 --keys demo-ak:demo-sk &
  export HELM_CCR_ENDPOINT=http://127.0.0.1:8080
  export BCE_ACCESS_KEY_ID=demo-ak BCE_SECRET_ACCESS_KEY=demo-sk
  helm ccr push ./mychart ccr://ccr-demo/charts
  helm ccr ls ccr://ccr-demo/charts
";

fn parse_key(s: &str) -> Result<Key, String> {
    let mut it = s.splitn(3, ':');
    match (it.next(), it.next(), it.next()) {
        (Some(ak), Some(sk), tok) if !ak.is_empty() && !sk.is_empty() => Ok(match tok {
            Some(t) if !t.is_empty() => Key::with_token(ak, sk, t),
            _ => Key::new(ak, sk),
        }),
        _ => Err(format!("bad key {s:?}: expected AK:SK or AK:SK:TOKEN")),
    }
}

fn parse_args(args: Vec<String>) -> Result<Option<Config>, String> {
    let mut cfg = Config::new(Vec::new());
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (args[i].clone(), None),
        };
        i += 1;
        let mut value = |name: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            match args.get(i) {
                Some(v) if !v.starts_with("--") => {
                    i += 1;
                    Ok(v.clone())
                }
                _ => Err(format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let v = value("--port")?;
                cfg.port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--host" => cfg.host = value("--host")?,
            "--keys" | "--key" => {
                cfg.keys.push(parse_key(&value(&flag)?)?);
                if inline.is_none() {
                    while let Some(v) = args.get(i).filter(|v| !v.starts_with("--")) {
                        cfg.keys.push(parse_key(v)?);
                        i += 1;
                    }
                }
            }
            "--overwrite" => {
                if inline.is_some() {
                    return Err("--overwrite takes no value".into());
                }
                cfg.overwrite = true;
            }
            "--data-dir" => cfg.data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--max-chart-size" => {
                let v = value("--max-chart-size")?;
                cfg.max_chart_size = Some(
                    v.parse()
                        .map_err(|_| format!("bad --max-chart-size {v:?}"))?,
                );
            }
            "--latency-ms" => {
                let v = value("--latency-ms")?;
                cfg.latency_ms = v.parse().map_err(|_| format!("bad --latency-ms {v:?}"))?;
            }
            "--max-in-flight" => {
                let v = value("--max-in-flight")?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => cfg.max_in_flight = Some(n),
                    _ => return Err(format!("bad --max-in-flight {v:?}: a positive number")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if cfg.keys.is_empty() {
        return Err("at least one --keys AK:SK[:TOKEN] is required".into());
    }
    Ok(Some(cfg))
}

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1).collect()) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("Error: {e} (see --help)");
            return ExitCode::from(2);
        }
    };
    let emu = match ccr_emulator::start(cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Error: cannot start the emulator: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", emu.url())
        .and_then(|_| out.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    drop(out);
    emu.wait();
    ExitCode::SUCCESS
}
