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

#[test]
fn network_messages() {
    let direct = NetContext {
        base: "https://ccr.corp.example".into(),
        host: "ccr.corp.example".into(),
        authority: "ccr.corp.example:443".into(),
        proxy: None,
        client_cert: None,
        trust: "the system store".into(),
    };
    let proxied = NetContext {
        proxy: Some((
            "http://alice:xxxxx@proxy.corp:3128".into(),
            true,
            "HTTPS_PROXY",
        )),
        ..direct.clone()
    };
    let anonymous = NetContext {
        proxy: Some(("http://proxy.corp:3128".into(), false, "https_proxy")),
        ..direct.clone()
    };
    let mtls = NetContext {
        client_cert: Some("/home/me/client.pem (--cert-file/--key-file)".into()),
        ..direct.clone()
    };
    let plain = NetContext {
        base: "https://127.0.0.1:8080".into(),
        host: "127.0.0.1".into(),
        authority: "127.0.0.1:8080".into(),
        ..direct.clone()
    };
    let lines = [
        (NetFault::NotTls, &plain),
        (NetFault::Untrusted { issuer: None }, &direct),
        (
            NetFault::Untrusted {
                issuer: Some("CN=Corp Inspection CA, O=Corp".into()),
            },
            &direct,
        ),
        (NetFault::WrongName(Vec::new()), &direct),
        (NetFault::WrongName(vec!["ccr.internal".into()]), &direct),
        (NetFault::Expired, &direct),
        (NetFault::ClientCertRequired, &direct),
        (NetFault::ClientCertRefused("UnknownCA".into()), &mtls),
        (
            NetFault::ProxyUnreachable("connection refused".into()),
            &proxied,
        ),
        (NetFault::ProxyAuth, &anonymous),
        (NetFault::ProxyAuth, &proxied),
        (NetFault::ProxyRefused(502), &anonymous),
    ]
    .map(|(f, c)| {
        assert!(!f.transient() || f == NetFault::ProxyRefused(502));
        format!("Error: {}", network_message(&f, c))
    });
    let text = lines.join("\n");
    assert!(!text.contains("secret"));
    insta::assert_snapshot!(text);
}

#[test]
fn failures_sort_into_network_faults() {
    let tls = |e: rustls::Error| ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, e));
    assert_eq!(
        classify(
            &tls(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            )),
            false,
            false
        ),
        Some(NetFault::NotTls)
    );
    for untrusted in [
        rustls::CertificateError::UnknownIssuer,
        rustls::CertificateError::BadSignature,
    ] {
        assert_eq!(
            classify(
                &tls(rustls::Error::InvalidCertificate(untrusted)),
                false,
                false
            ),
            Some(NetFault::Untrusted { issuer: None })
        );
    }
    let alert = |a| tls(rustls::Error::AlertReceived(a));
    assert_eq!(
        classify(
            &alert(rustls::AlertDescription::CertificateRequired),
            false,
            false
        ),
        Some(NetFault::ClientCertRequired)
    );
    assert_eq!(
        classify(
            &alert(rustls::AlertDescription::BadCertificate),
            false,
            false
        ),
        Some(NetFault::ClientCertRequired)
    );
    assert_eq!(
        classify(
            &alert(rustls::AlertDescription::BadCertificate),
            false,
            true
        ),
        Some(NetFault::ClientCertRefused("BadCertificate".into()))
    );
    let proxy_said = |s: &str| classify(&ureq::Error::ConnectProxyFailed(s.into()), true, false);
    assert_eq!(
        proxy_said("proxy server responded 407/407"),
        Some(NetFault::ProxyAuth)
    );
    assert_eq!(
        proxy_said("proxy server responded 502/502"),
        Some(NetFault::ProxyRefused(502))
    );
    let refused = || ureq::Error::Io(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
    assert_eq!(
        classify(&refused(), true, false),
        Some(NetFault::ProxyUnreachable("connection refused".into()))
    );
    assert_eq!(classify(&refused(), false, false), None);
    assert_eq!(classify(&ureq::Error::HostNotFound, false, false), None);
}
