//! What the user reads when a request fails without an answer: the stall messages (which
//! limit, how far a transfer got, what to raise), the retry-wait message and the description
//! of a transport error. Pure functions, for snapshot tests, plus the [`Transport`] methods
//! that fill them in.

use std::io;
use std::time::Duration;

use super::endpoint::Endpoint;
use super::limits::{Deadline, Limits, Stall, TooSlow, Transfer};
use super::Transport;
use crate::ui::text::{duration_text, size_text};

impl Transport {
    /// The message for a request that ran into `stall`, with the transfer's progress.
    pub(super) fn stall_text(&self, stall: Stall, transfer: Option<&Transfer>) -> String {
        stall_message(
            stall,
            &self.cfg.endpoint.base_url(),
            &self.limits,
            self.cfg.deadline.as_ref(),
            transfer.map(|t| TransferState {
                label: &t.label,
                upload: t.upload,
                done: t.done(),
                total: t.total,
            }),
        )
    }

    /// A failure to send or to read: a stall named with its limit, or the transport error.
    /// Returns the message and whether another attempt may help.
    pub(super) fn describe(&self, e: &ureq::Error, transfer: Option<&Transfer>) -> (String, bool) {
        match stall_of(e) {
            Some(stall) => (self.stall_text(stall, transfer), stall != Stall::Overall),
            None => {
                let transient = matches!(
                    e,
                    ureq::Error::Io(_)
                        | ureq::Error::Timeout(_)
                        | ureq::Error::ConnectionFailed
                        | ureq::Error::Protocol(_)
                );
                (describe_transport(e, &self.cfg.endpoint), transient)
            }
        }
    }
}

/// Which limit a failed request ran into, if a liveliness limit it was.
fn stall_of(e: &ureq::Error) -> Option<Stall> {
    match e {
        ureq::Error::Timeout(t) => match t {
            ureq::Timeout::Global | ureq::Timeout::PerCall => Some(Stall::Overall),
            ureq::Timeout::PerRead | ureq::Timeout::PerWrite => Some(Stall::Idle),
            ureq::Timeout::RecvResponse => Some(Stall::Response),
            _ => None,
        },
        ureq::Error::Io(io) => stall_of_io(io),
        _ => None,
    }
}

/// [`stall_of`] for an I/O error from a body reader or from our own [`Metered`] reader.
pub(super) fn stall_of_io(e: &io::Error) -> Option<Stall> {
    if let Some(inner) = e.get_ref() {
        if inner.is::<TooSlow>() {
            return Some(Stall::Floor);
        }
        if let Some(u) = inner.downcast_ref::<ureq::Error>() {
            return stall_of(u);
        }
    }
    None
}

/// A transfer's state for a message.
#[derive(Debug, Clone, Copy)]
pub struct TransferState<'a> {
    pub label: &'a str,
    pub upload: bool,
    pub done: u64,
    pub total: Option<u64>,
}

/// `14 of 49 MiB sent`, `3.2 MiB received`, ...
fn progress_text(t: &TransferState<'_>) -> String {
    const MIB: u64 = 1 << 20;
    let verb = if t.upload { "sent" } else { "received" };
    match t.total {
        // Under a MiB of a large total: `29 KiB of 40 MiB`, not `0 of 40 MiB`.
        Some(total) if total >= 10 * MIB && t.done < MIB => {
            format!(
                "{} of {} MiB {verb}",
                size_text(t.done),
                total.div_ceil(MIB)
            )
        }
        Some(total) if total >= 10 * MIB => {
            format!("{} of {} MiB {verb}", t.done / MIB, total.div_ceil(MIB))
        }
        Some(total) if total >= MIB => format!(
            "{:.1} of {:.1} MiB {verb}",
            t.done as f64 / MIB as f64,
            total as f64 / MIB as f64
        ),
        Some(total) => format!("{} of {total} bytes {verb}", t.done),
        None => format!("{} {verb}", size_text(t.done)),
    }
}

/// The one line for a request that ran into a liveliness limit. Pure, for snapshot tests.
pub fn stall_message(
    stall: Stall,
    base: &str,
    limits: &Limits,
    deadline: Option<&Deadline>,
    transfer: Option<TransferState<'_>>,
) -> String {
    let during = transfer.map(|t| {
        format!(
            " while {} {} ({})",
            if t.upload { "uploading" } else { "downloading" },
            t.label,
            progress_text(&t)
        )
    });
    match stall {
        Stall::Overall => {
            let (limit, source, knob) = match deadline {
                Some(d) => (duration_text(d.limit), d.source.clone(), d.knob),
                None => ("the limit".to_string(), "--timeout".to_string(), "--timeout"),
            };
            let during = during.unwrap_or_else(|| format!(" waiting for {base}"));
            format!("timed out after {limit} ({source}){during}; raise {knob}")
        }
        Stall::Idle => match during {
            Some(during) => format!(
                "no data for {} (the idle limit){during}",
                duration_text(limits.idle)
            ),
            None => format!(
                "{base}: no answer for {} (the idle limit)",
                duration_text(limits.idle)
            ),
        },
        Stall::Response => format!(
            "{base}: no answer within {} of the request (the response limit; interim 1xx answers do not count)",
            duration_text(limits.response)
        ),
        Stall::Floor => {
            let rate = limits.floor_bytes as f64
                / limits.floor_window.as_secs_f64().max(0.001)
                / 1024.0;
            let what = during.unwrap_or_else(|| format!(" while reading an answer from {base}"));
            format!(
                "the transfer stayed under {rate:.0} KiB/s for {}{what}; the connection is too slow or the registry stalled",
                duration_text(limits.floor_window)
            )
        }
    }
}

/// What a request still throttled after its throttled budget gives up with (before the last
/// answer): how many attempts, how many requests were in flight (when known) and the setting
/// that lowers them, `HELM_CCR_PARALLEL`, now `parallel`.
pub fn throttled_message(attempts: u32, in_flight: Option<usize>, parallel: usize) -> String {
    let gave_up = format!("gave up after {attempts} attempts");
    match in_flight {
        _ if parallel <= 1 => format!(
            "{gave_up} (the registry kept throttling with 1 request in flight, HELM_CCR_PARALLEL=1; try again later)"
        ),
        Some(1) => format!(
            "{gave_up} (the registry kept throttling even with 1 request in flight; try again later, or lower HELM_CCR_PARALLEL, now {parallel})"
        ),
        Some(n) => format!(
            "{gave_up} (the registry kept throttling with {n} requests in flight; lower HELM_CCR_PARALLEL, now {parallel})"
        ),
        None => format!(
            "{gave_up} (the registry kept throttling; lower HELM_CCR_PARALLEL, now {parallel})"
        ),
    }
}

/// The line for a retry that would wait past the overall deadline.
pub fn retry_wait_message(
    deadline: Option<(Duration, &str, &str)>,
    cause: &dyn std::fmt::Display,
) -> String {
    match deadline {
        Some((limit, source, knob)) => format!(
            "timed out after {} ({source}) while waiting to retry after: {cause}; raise {knob}",
            duration_text(limit)
        ),
        None => format!("timed out while waiting to retry after: {cause}"),
    }
}

fn describe_transport(e: &ureq::Error, endpoint: &Endpoint) -> String {
    let base = endpoint.base_url();
    match e {
        ureq::Error::Timeout(t) => format!("{base}: timed out ({t})"),
        ureq::Error::HostNotFound => format!("{base}: host not found"),
        ureq::Error::ConnectionFailed => format!("{base}: connection failed"),
        ureq::Error::Io(io) => match io.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => {
                format!("{base}: connection reset: the registry closed it without an answer ({io})")
            }
            io::ErrorKind::ConnectionRefused => format!("{base}: connection refused ({io})"),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                format!("{base}: timed out waiting for the registry ({io})")
            }
            _ => format!("{base}: {io}"),
        },
        other => format!("{base}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_request_throttled_to_the_end_names_helm_ccr_parallel() {
        assert_eq!(
            throttled_message(12, Some(5), 32),
            "gave up after 12 attempts (the registry kept throttling with 5 requests in flight; lower HELM_CCR_PARALLEL, now 32)"
        );
        assert_eq!(
            throttled_message(12, Some(1), 8),
            "gave up after 12 attempts (the registry kept throttling even with 1 request in flight; try again later, or lower HELM_CCR_PARALLEL, now 8)"
        );
        assert_eq!(
            throttled_message(3, None, 4),
            "gave up after 3 attempts (the registry kept throttling; lower HELM_CCR_PARALLEL, now 4)"
        );
        assert_eq!(
            throttled_message(12, Some(1), 1),
            "gave up after 12 attempts (the registry kept throttling with 1 request in flight, HELM_CCR_PARALLEL=1; try again later)"
        );
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn stall_messages() {
        let limits = Limits::default();
        let deadline = |limit: u64, source: &str, knob: &'static str| Deadline {
            at: Instant::now(),
            limit: Duration::from_secs(limit),
            source: source.into(),
            knob,
        };
        let flag = deadline(4, "--timeout 4s", "--timeout");
        let env = deadline(90, "HELM_CCR_TIMEOUT=90s", "HELM_CCR_TIMEOUT");
        let getter = deadline(600, "the getter's default limit of 10m", "HELM_CCR_TIMEOUT");
        let up = TransferState {
            label: "big-0.4.0.tgz",
            upload: true,
            done: 14 * MIB + MIB / 2,
            total: Some(49 * MIB - 4096),
        };
        let down = TransferState {
            label: "big-0.4.0.tgz",
            upload: false,
            done: 3 * MIB,
            total: Some(49 * MIB),
        };
        let small = TransferState {
            label: "app-1.0.0.tgz",
            upload: false,
            done: 700,
            total: Some(3000),
        };
        let mid = TransferState {
            label: "mid-1.0.0.tgz",
            upload: true,
            done: MIB + MIB / 5,
            total: Some(3 * MIB + MIB / 2),
        };
        let chunked = TransferState {
            label: "app-1.0.0.tgz",
            upload: false,
            done: 5 * MIB / 2,
            total: None,
        };
        let base = "https://ccr.bj.baidubce.com";
        let msg = |stall, d: Option<&Deadline>, t: Option<TransferState<'_>>| {
            format!("Error: {}", stall_message(stall, base, &limits, d, t))
        };
        let lines = [
            msg(Stall::Overall, Some(&flag), Some(up)),
            msg(Stall::Overall, Some(&flag), Some(down)),
            msg(Stall::Overall, Some(&env), Some(small)),
            msg(Stall::Overall, Some(&getter), Some(chunked)),
            msg(Stall::Overall, Some(&flag), None),
            format!(
                "Error: {}",
                retry_wait_message(
                    Some((flag.limit, &flag.source, flag.knob)),
                    &"registry answered 429 TooManyRequests"
                )
            ),
            msg(Stall::Idle, None, Some(up)),
            msg(Stall::Idle, None, Some(down)),
            msg(Stall::Idle, None, Some(mid)),
            msg(Stall::Idle, None, None),
            msg(Stall::Response, None, None),
            msg(Stall::Floor, None, Some(down)),
            msg(Stall::Floor, None, Some(up)),
            msg(Stall::Floor, None, None),
        ];
        insta::assert_snapshot!(lines.join("\n"));
    }
}
