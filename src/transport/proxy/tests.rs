use super::no_proxy::punycode;
use super::*;
use proptest::prelude::*;

/// `scheme://host[:port]` into the three inputs of [`ProxyEnv::route`].
fn request(req: &str) -> (Scheme, String, Option<u16>) {
    let (scheme, rest) = req.split_once("://").unwrap();
    let scheme = Scheme::parse(scheme).unwrap();
    let (host, port) = match rest.rfind(':') {
        Some(i)
            if !rest[i..].contains(']')
                && (rest.starts_with('[') || rest.matches(':').count() == 1) =>
        {
            (&rest[..i], Some(rest[i + 1..].parse().unwrap()))
        }
        _ => (rest, None),
    };
    (scheme, host.to_string(), port)
}

fn run(env: &[(&str, &str)], req: &str) -> String {
    let (scheme, host, port) = request(req);
    let lookup = |k: &str| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    match route(lookup, scheme, &host, port) {
        Ok(route) => route.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

/// An environment, a request, the route's or the error's text.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

const HP: &str = "HTTP_PROXY";
const HSP: &str = "HTTPS_PROXY";
const NP: &str = "NO_PROXY";

/// Mirrors Go's `golang.org/x/net/http/httpproxy` tests: `proxyForURLTests` (TestProxyForURL:
/// scheme-less values, unknown schemes, http vs https variables, CGI, NO_PROXY domain forms,
/// IDNA names, an IPv6 zone that looks like a domain), TestFromEnvironment,
/// TestFromEnvironmentWithRequestMethod and TestFromEnvironmentLowerCase (upper case first,
/// REQUEST_METHOD), TestInvalidNoProxy (`:1`) and TestAllNoProxy (`*`). `UseProxyTests` with
/// its NO_PROXY list is `go_use_proxy_table` below. Plus what the Go tests leave implicit:
/// empty values, ALL_PROXY, ports, brackets, credentials and the values Go would ignore.
#[test]
fn go_proxy_for_url_table() {
    #[rustfmt::skip]
    let table: &[Case] = &[
        // Values without a scheme mean http://.
        (&[(HP, "127.0.0.1:8080")], "http://example.com", "proxy http://127.0.0.1:8080 (from HTTP_PROXY)"),
        (&[(HP, "cache.corp.example.com:1234")], "http://example.com", "proxy http://cache.corp.example.com:1234 (from HTTP_PROXY)"),
        (&[(HP, "cache.corp.example.com")], "http://example.com", "proxy http://cache.corp.example.com (from HTTP_PROXY)"),
        (&[(HP, "localhost")], "http://example.com", "proxy http://localhost (from HTTP_PROXY)"),
        (&[(HP, "https://cache.corp.example.com")], "http://example.com", "proxy https://cache.corp.example.com (from HTTP_PROXY)"),
        (&[(HP, "http://127.0.0.1:8080")], "http://example.com", "proxy http://127.0.0.1:8080 (from HTTP_PROXY)"),
        (&[(HP, "https://127.0.0.1:8080")], "http://example.com", "proxy https://127.0.0.1:8080 (from HTTP_PROXY)"),
        (&[(HP, "socks5://127.0.0.1")], "http://example.com", "proxy socks5://127.0.0.1 (from HTTP_PROXY)"),
        (&[(HP, "socks5h://127.0.0.1:9050")], "http://example.com", "proxy socks5h://127.0.0.1:9050 (from HTTP_PROXY)"),
        (&[(HP, "HTTP://Proxy.Example:3128/")], "http://example.com", "proxy http://Proxy.Example:3128 (from HTTP_PROXY)"),
        // Go keeps an unknown scheme and its transport fails later: an error here.
        (&[(HP, "foo://host")], "http://example.com", "error: HTTP_PROXY=\"foo://host\" is not a proxy URL: scheme \"foo\" is not supported (use http, https, socks5 or socks5h)"),
        (&[(HSP, "socks4://host")], "https://example.com", "error: HTTPS_PROXY=\"socks4://host\" is not a proxy URL: scheme \"socks4\" is not supported (use http, https, socks5 or socks5h)"),
        // HTTP_PROXY for http, HTTPS_PROXY for https, never the other.
        (&[(HP, "http.proxy.tld"), (HSP, "secure.proxy.tld")], "http://insecure.tld", "proxy http://http.proxy.tld (from HTTP_PROXY)"),
        (&[(HP, "http.proxy.tld"), (HSP, "secure.proxy.tld")], "https://secure.tld", "proxy http://secure.proxy.tld (from HTTPS_PROXY)"),
        (&[(HP, "http.proxy.tld"), (HSP, "https://secure.proxy.tld")], "https://secure.tld", "proxy https://secure.proxy.tld (from HTTPS_PROXY)"),
        (&[(HP, "http.proxy.tld")], "https://secure.tld", "direct (no HTTPS_PROXY or https_proxy set)"),
        (&[(HSP, "secure.proxy.tld")], "http://insecure.tld", "direct (no HTTP_PROXY or http_proxy set)"),
        // ALL_PROXY is not read (Go has no ALL_PROXY).
        (&[("ALL_PROXY", "socks5h://all:1080"), ("all_proxy", "socks5h://all:1080")], "https://example.com", "direct (no HTTPS_PROXY or https_proxy set)"),
        (&[("ALL_PROXY", "socks5h://all:1080"), (HSP, "p:1")], "https://example.com", "proxy http://p:1 (from HTTPS_PROXY)"),
        // CGI: HTTP_PROXY refused, HTTPS_PROXY still used (Go's historical behaviour).
        (&[(HP, "http://10.1.2.3:8080"), ("REQUEST_METHOD", "GET")], "http://example.com", "error: refusing to use HTTP_PROXY for an http request: REQUEST_METHOD is set (a CGI environment, where HTTP_PROXY may come from the client); see golang.org/s/cgihttpproxy"),
        (&[(HSP, "https://secure.proxy.tld"), ("REQUEST_METHOD", "GET")], "https://secure.tld", "proxy https://secure.proxy.tld (from HTTPS_PROXY)"),
        (&[(HP, "http://10.1.2.3:8080"), ("REQUEST_METHOD", "")], "http://example.com", "proxy http://10.1.2.3:8080 (from HTTP_PROXY)"),
        // Nothing set.
        (&[], "http://example.com", "direct (no HTTP_PROXY or http_proxy set)"),
        // NO_PROXY domain forms: a bare domain matches itself and its subdomains, a dotted
        // one only subdomains, never a mere string suffix.
        (&[(NP, "example.com"), (HP, "proxy")], "http://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
        (&[(NP, ".example.com"), (HP, "proxy")], "http://example.com", "proxy http://proxy (from HTTP_PROXY)"),
        (&[(NP, ".example.com"), (HP, "proxy")], "http://www.example.com", "direct (NO_PROXY entry \".example.com\" matches)"),
        (&[(NP, "ample.com"), (HP, "proxy")], "http://example.com", "proxy http://proxy (from HTTP_PROXY)"),
        (&[(NP, "example.com"), (HP, "proxy")], "http://foo.example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
        (&[(NP, ".foo.com"), (HP, "proxy")], "http://example.com", "proxy http://proxy (from HTTP_PROXY)"),
        (&[(NP, "Example.COM"), (HP, "proxy")], "http://WWW.example.com", "direct (NO_PROXY entry \"Example.COM\" matches)"),
        // IDNA: Unicode and xn-- forms match each other.
        (&[(NP, ".示例.com"), (HP, "proxy")], "http://www.示例.com", "direct (NO_PROXY entry \".示例.com\" matches)"),
        (&[(NP, "xn--fsq092h.com"), (HP, "proxy")], "http://www.示例.com", "direct (NO_PROXY entry \"xn--fsq092h.com\" matches)"),
        (&[(NP, "示例.com"), (HP, "proxy")], "http://www.xn--fsq092h.com", "direct (NO_PROXY entry \"示例.com\" matches)"),
        // An IPv6 address whose zone looks like a domain is an address, not a name.
        (&[(NP, "example.com"), (HP, "proxy")], "http://[1000::%25.example.com]:123", "proxy http://proxy (from HTTP_PROXY)"),
        // Upper case first; an empty upper-case value does not hide the lower-case one.
        (&[(HSP, "upper:1"), ("https_proxy", "lower:2")], "https://example.com", "proxy http://upper:1 (from HTTPS_PROXY)"),
        (&[("https_proxy", "lower:2")], "https://example.com", "proxy http://lower:2 (from https_proxy)"),
        (&[(HSP, ""), ("https_proxy", "lower:2")], "https://example.com", "proxy http://lower:2 (from https_proxy)"),
        (&[(HSP, ""), ("https_proxy", "")], "https://example.com", "direct (no HTTPS_PROXY or https_proxy set)"),
        (&[(HP, ""), ("http_proxy", "lower:3")], "http://example.com", "proxy http://lower:3 (from http_proxy)"),
        (&[(HSP, "p:1"), (NP, "example.com"), ("no_proxy", "other.org")], "https://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
        (&[(HSP, "p:1"), (NP, "example.com"), ("no_proxy", "other.org")], "https://other.org", "proxy http://p:1 (from HTTPS_PROXY)"),
        (&[(HSP, "p:1"), (NP, ""), ("no_proxy", "example.com")], "https://example.com", "direct (no_proxy entry \"example.com\" matches)"),
        (&[(HSP, "p:1"), ("no_proxy", "example.com")], "https://example.com", "direct (no_proxy entry \"example.com\" matches)"),
        // Loopback and localhost are never proxied, NO_PROXY or not.
        (&[(HSP, "p:1")], "https://localhost:8443", "direct (loopback is never proxied)"),
        (&[(HSP, "p:1")], "https://127.0.0.1", "direct (loopback is never proxied)"),
        (&[(HSP, "p:1")], "https://127.1.2.3:9", "direct (loopback is never proxied)"),
        (&[(HSP, "p:1")], "https://[::1]:8443", "direct (loopback is never proxied)"),
        (&[(HSP, "p:1")], "https://::1", "direct (loopback is never proxied)"),
        (&[(HSP, "p:1")], "https://[::ffff:127.0.0.1]", "direct (loopback is never proxied)"),
        (&[(HSP, "p:1")], "https://[::2]", "proxy http://p:1 (from HTTPS_PROXY)"),
        (&[(HSP, "p:1")], "https://localhost.example", "proxy http://p:1 (from HTTPS_PROXY)"),
        (&[(HSP, "p:1")], "https://LOCALHOST", "proxy http://p:1 (from HTTPS_PROXY)"),
        (&[(HSP, "p:1"), (NP, "localhost")], "https://LOCALHOST", "direct (NO_PROXY entry \"localhost\" matches)"),
        // Ports: the request's default port is what a `host:port` entry compares.
        (&[(HSP, "p:1"), (NP, "example.com:443")], "https://example.com", "direct (NO_PROXY entry \"example.com:443\" matches)"),
        (&[(HSP, "p:1"), (NP, "example.com:443")], "https://example.com:8443", "proxy http://p:1 (from HTTPS_PROXY)"),
        (&[(HP, "p:1"), (NP, "example.com:443")], "http://example.com", "proxy http://p:1 (from HTTP_PROXY)"),
        (&[(HP, "p:1"), (NP, ".example.com:8080")], "http://a.example.com:8080", "direct (NO_PROXY entry \".example.com:8080\" matches)"),
        (&[(HSP, "p:1"), (NP, "10.1.2.3:8443")], "https://10.1.2.3:8443", "direct (NO_PROXY entry \"10.1.2.3:8443\" matches)"),
        (&[(HSP, "p:1"), (NP, "10.1.2.3:8443")], "https://10.1.2.3", "proxy http://p:1 (from HTTPS_PROXY)"),
        // IP and CIDR entries, v4 and v6, with and without brackets; spaces after commas.
        (&[(HSP, "p:1"), (NP, "a.org, 10.0.0.0/8 ,b.org")], "https://10.200.1.1", "direct (NO_PROXY entry \"10.0.0.0/8\" matches)"),
        (&[(HSP, "p:1"), (NP, "10.0.0.0/8")], "https://11.0.0.1", "proxy http://p:1 (from HTTPS_PROXY)"),
        (&[(HSP, "p:1"), (NP, "10.0.0.0/8")], "https://[::ffff:10.1.1.1]", "direct (NO_PROXY entry \"10.0.0.0/8\" matches)"),
        (&[(HSP, "p:1"), (NP, "fd00::/8")], "https://[fd12::1]:8443", "direct (NO_PROXY entry \"fd00::/8\" matches)"),
        (&[(HSP, "p:1"), (NP, "fd00::/8")], "https://fd12::1", "direct (NO_PROXY entry \"fd00::/8\" matches)"),
        (&[(HSP, "p:1"), (NP, "2001:db8::1")], "https://[2001:DB8::1]", "direct (NO_PROXY entry \"2001:db8::1\" matches)"),
        (&[(HSP, "p:1"), (NP, "[2001:db8::1]:443")], "https://[2001:db8::1]", "direct (NO_PROXY entry \"[2001:db8::1]:443\" matches)"),
        (&[(HSP, "p:1"), (NP, "[2001:db8::1]:80")], "https://[2001:db8::1]", "proxy http://p:1 (from HTTPS_PROXY)"),
        // Go: a bracketed address without a port is read as a domain and matches nothing.
        (&[(HSP, "p:1"), (NP, "[2001:db8::1]")], "https://[2001:db8::1]", "proxy http://p:1 (from HTTPS_PROXY)"),
        // A domain entry never matches an IP host, nor an IP entry a name.
        (&[(HSP, "p:1"), (NP, "10.0.0.1")], "https://10.0.0.1.nip.io", "proxy http://p:1 (from HTTPS_PROXY)"),
        // `*` alone, or anywhere in the list.
        (&[(HSP, "p:1"), (NP, "*")], "https://anything.example", "direct (NO_PROXY entry \"*\" matches)"),
        (&[(HSP, "p:1"), (NP, "a.org, * ")], "https://[2001:db8::9]", "direct (NO_PROXY entry \"*\" matches)"),
        // Malformed entries are skipped (TestInvalidNoProxy).
        (&[(HSP, "p:1"), (NP, ":1")], "https://example.com", "proxy http://p:1 (from HTTPS_PROXY)"),
        (&[(HSP, "p:1"), (NP, ",, ,:443,10.0.0.0/33,example.com")], "https://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
        // Credentials: kept, percent-decoded, never displayed.
        (&[(HSP, "http://user:s%40cret@proxy:3128")], "https://example.com", "proxy http://user:xxxxx@proxy:3128 (from HTTPS_PROXY)"),
        (&[(HSP, "user:secret@proxy:3128")], "https://example.com", "proxy http://user:xxxxx@proxy:3128 (from HTTPS_PROXY)"),
        (&[(HSP, "socks5h://tok@[2001:db8::7]:1080")], "https://example.com", "proxy socks5h://tok@[2001:db8::7]:1080 (from HTTPS_PROXY)"),
        // Bad values: an error naming the variable, the password redacted.
        (&[(HSP, "ht!tp://x")], "https://example.com", "error: HTTPS_PROXY=\"ht!tp://x\" is not a proxy URL: \"ht!tp\" is not a URL scheme"),
        (&[(HSP, "http://pro xy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://pro xy:1\" is not a proxy URL: invalid character in the host"),
        (&[(HSP, "http://u:pa ss@proxy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@proxy:1\" is not a proxy URL: invalid character in the user name or password"),
        (&[(HSP, "http://u:pa/ss@proxy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@proxy:1\" is not a proxy URL: '@' after the host: percent-encode '/', '?' and '#' in a user name or password"),
        (&[(HSP, "http://u:12#x@proxy:1")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@proxy:1\" is not a proxy URL: '@' after the host: percent-encode '/', '?' and '#' in a user name or password"),
        (&[(HSP, "http://proxy:99999")], "https://example.com", "error: HTTPS_PROXY=\"http://proxy:99999\" is not a proxy URL: the port is out of range"),
        (&[(HSP, "http://")], "https://example.com", "error: HTTPS_PROXY=\"http://\" is not a proxy URL: no host"),
        (&[("https_proxy", "http://[::1")], "https://example.com", "error: https_proxy=\"http://[::1\" is not a proxy URL: missing ']' in the host"),
        (&[(HSP, "http://[zz]:1")], "https://example.com", "error: HTTPS_PROXY=\"http://[zz]:1\" is not a proxy URL: the address in brackets is not an IPv6 address"),
        (&[(HSP, "http://u:%zz@p")], "https://example.com", "error: HTTPS_PROXY=\"http://u:xxxxx@p\" is not a proxy URL: invalid percent-escape in the user name or password"),
        // A bad value that would not be used is not an error (Go ignores it too).
        (&[(HSP, "ht!tp://x")], "https://localhost", "direct (loopback is never proxied)"),
        (&[(HSP, "ht!tp://x"), (NP, "example.com")], "https://example.com", "direct (NO_PROXY entry \"example.com\" matches)"),
        (&[(HP, "ht!tp://x")], "https://example.com", "direct (no HTTPS_PROXY or https_proxy set)"),
    ];
    let mut failures = Vec::new();
    for (env, req, want) in table {
        let got = run(env, req);
        if got != *want {
            failures.push(format!("{env:?} {req}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Go's `UseProxyTests` against its NO_PROXY list (TestUseProxy), and every one of them
/// direct under `*` (TestAllNoProxy). `true`: proxied.
#[test]
fn go_use_proxy_table() {
    let no_proxy = "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, \
                    192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, \
                    [2001:db8::52:0:3]:80, 2002:db8:a::45/64";
    #[rustfmt::skip]
    let table = [
        ("localhost", false), ("127.0.0.1", false), ("127.0.0.2", false), ("[::1]", false),
        ("[::2]", true),
        ("192.168.1.1", false), ("192.168.1.2", true), ("192.168.1.3", false),
        ("192.168.1.4", true), ("10.0.0.2", false), ("10.0.0.4", true),
        ("[2001:db8::52:0:1]", false), ("[2001:db8::52:0:2]", true),
        ("[2001:db8::52:0:3]", false), ("[2002:db8:a::123]", false),
        ("[fe80::424b:c8be:1643:a1b6]", true),
        ("barbaz.net", true), ("www.barbaz.net", false), ("foobar.com", false),
        ("www.foobar.com", false), ("foofoobar.com", true), ("baz.com", true),
        ("localhost.net", true), ("local.localhost", true), ("barbarbaz.net", true),
        ("wildcard.io", true), ("nested.wildcard.io", false), ("awildcard.io", true),
    ];
    let proxied = |list: &str, host: &str| {
        let env = [("HTTP_PROXY", "proxy:3128"), ("NO_PROXY", list)];
        run(&env, &format!("http://{host}:80")).starts_with("proxy ")
    };
    for (host, want) in table {
        assert_eq!(proxied(no_proxy, host), want, "{host}");
        assert!(!proxied("*", host), "{host} under *");
    }
}

#[test]
fn proxy_urls_keep_credentials_and_ports() {
    let url = parse_proxy("HTTPS_PROXY", "HTTPS://us%3Aer:p%40ss%2F@[::1]").unwrap();
    assert_eq!(url.scheme, ProxyScheme::Https);
    assert_eq!(url.host, "[::1]");
    assert_eq!(url.port(), 443);
    assert_eq!(url.username.as_deref(), Some("us:er"));
    assert_eq!(url.password.as_deref(), Some("p@ss/"));
    assert_eq!(url.to_string(), "https://us%3Aer:xxxxx@[::1]");
    assert_eq!(url.without_credentials(), "https://[::1]:443");
    assert!(!format!("{url:?}").contains("p@ss"));
    let socks = parse_proxy("HTTP_PROXY", "socks5h://gw").unwrap();
    assert_eq!(socks.port(), 1080);
    let empty_password = parse_proxy("HTTP_PROXY", "http://u:@gw:8").unwrap();
    assert_eq!(empty_password.password.as_deref(), Some(""));
    assert_eq!(empty_password.to_string(), "http://u:xxxxx@gw:8");
}

#[test]
fn variables_lists_every_name_read() {
    let read = std::cell::RefCell::new(Vec::new());
    ProxyEnv::from_lookup(|k| {
        read.borrow_mut().push(k.to_string());
        None
    });
    let mut read = read.into_inner();
    read.sort();
    let mut names = VARIABLES.map(String::from).to_vec();
    names.sort();
    assert_eq!(read, names);
}

#[test]
fn punycode_matches_rfc_3492() {
    assert_eq!(punycode("示例").as_deref(), Some("fsq092h"));
    assert_eq!(punycode("bücher").as_deref(), Some("bcher-kva"));
    assert_eq!(to_ascii("www.münchen.de"), "www.xn--mnchen-3ya.de");
}

proptest! {
    #[test]
    fn never_panics_and_never_shows_a_password(
        proxy in ".{0,40}",
        no_proxy in "[a-z0-9.:*/\\[\\], %-]{0,40}",
        host in ".{0,30}",
        port in proptest::option::of(any::<u16>()),
        https in any::<bool>(),
        password in "[A-Za-z]{12}",
    ) {
        let with_password = format!("http://user:{password}@{proxy}");
        for value in [proxy.as_str(), with_password.as_str()] {
            let env = [("HTTPS_PROXY", value), ("HTTP_PROXY", value), ("NO_PROXY", &no_proxy)];
            let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
            let snapshot = format!("{:?}", ProxyEnv::from_lookup(lookup));
            if value == with_password {
                prop_assert!(!snapshot.contains(&password), "{snapshot}");
            }
            let scheme = if https { Scheme::Https } else { Scheme::Http };
            let shown = match route(lookup, scheme, &host, port) {
                Ok(route) => format!("{route} {route:?}"),
                Err(e) => format!("{e} {e:?}"),
            };
            if value == with_password {
                prop_assert!(!shown.contains(&password), "{shown}");
            }
        }
    }
}
