//! Durations as users write them (`90s`, `5m`, `1h30m`, `500ms`): `--timeout` and
//! `HELM_CCR_TIMEOUT`.

use std::time::Duration;

use anyhow::{bail, Result};

/// The longest duration accepted: a year. Longer is a typo (or an attempt to overflow).
pub const MAX_DURATION: Duration = Duration::from_secs(8760 * 3600);

/// Parses a Go-style duration: `90s`, `5m`, `1h30m`, `500ms`, or a bare number of seconds.
/// Zero in any form (`0`, `0s`, `0m0s`) is zero: the caller decides what it means (no limit).
/// Longer than [`MAX_DURATION`] is an error.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(secs) if secs <= MAX_DURATION.as_secs() => Ok(Duration::from_secs(secs)),
            _ => bail!("duration {s:?} is longer than a year (8760h); use 0 for no limit"),
        };
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        bail!("invalid duration {s:?}");
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid duration {s:?} (use e.g. 90s, 5m, 1h30m)"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let factor = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => bail!("invalid duration {s:?} (use e.g. 90s, 5m, 1h30m)"),
        };
        total += value * factor;
        rest = next;
    }
    if !total.is_finite() || total < 0.0 {
        bail!("invalid duration {s:?}");
    }
    if total > MAX_DURATION.as_secs_f64() {
        bail!("duration {s:?} is longer than a year (8760h); use 0 for no limit");
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        for zero in ["0", "0s", "0ms", "0m0s", "00"] {
            assert_eq!(parse_duration(zero).unwrap(), Duration::ZERO, "{zero}");
        }
        for bad in ["", "5x", "m", "-1s", "s", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for huge in [
            "18446744073709551615",
            "99999999999999999999999",
            "31536001",
            "8761h",
            "99999999999999999999h",
            "1e400s",
        ] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_duration("8760h").unwrap(), MAX_DURATION);
    }
}
