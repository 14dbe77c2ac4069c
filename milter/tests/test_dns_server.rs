//! The test infrastructure for the authentication checks, proven against
//! third parties: `TestDns` is asked by hickory-resolver (the one mail-auth
//! uses) and by BIND's `dig` (Debian bind9-dnsutils); messages signed by
//! dkimpy (Debian python3-dkim, python3-authres) verify with dkimpy and with
//! mail-auth through `TestDns`.

use mail_auth::{
    hickory_resolver::{
        config::{NameServerConfig, ResolverConfig, ResolverOpts},
        net::{runtime::TokioRuntimeProvider, DnsError, NetError},
        proto::{op::ResponseCode, rr::RData},
        TokioResolver,
    },
    AuthenticatedMessage, DkimResult, DmarcResult, MessageAuthenticator, SpfResult,
};
use std::{
    net::Ipv4Addr,
    process::Command,
    time::{Duration, Instant},
};
use teaminbox_testkit::{
    dkim::{arc_seal, arc_verify, crlf, dkim_sign, dkim_verify, DkimKey},
    dns::TestDns,
};

const MESSAGE: &str = "From: Alice <alice@example.org>\n\
To: support@inbox.example.com\n\
Subject: Printer on fire\n\
Date: Mon, 02 Jun 2025 10:00:00 +0000\n\
Message-ID: <fire-1@example.org>\n\
\n\
Hello,\n\
the printer on the second floor is on fire.\n\
\n\
-- \n\
Alice\n";

fn zone(key: &DkimKey) -> TestDns {
    TestDns::builder()
        .txt("example.org", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.example.org", "v=DMARC1; p=reject")
        .txt(&key.record_name(), &key.dns_txt)
        .a("mail.example.org", Ipv4Addr::new(127, 0, 0, 1))
        .a("mail.example.org", Ipv4Addr::new(127, 0, 0, 2))
        .mx("example.org", 10, "mail.example.org")
        .mx("example.org", 20, "backup.example.net.")
        .txt("Mixed.Case.EXAMPLE", "found")
        .txt("broken.example", "never served")
        .servfail("broken.example")
        .start()
}

/// A resolver that asks only `dns`, once, over UDP (TCP on truncation) or
/// over TCP only.
fn resolver(dns: &TestDns, tcp_only: bool) -> TokioResolver {
    let ip = dns.addr().ip();
    let mut server = if tcp_only {
        NameServerConfig::tcp(ip)
    } else {
        NameServerConfig::udp_and_tcp(ip)
    };
    for connection in &mut server.connections {
        connection.port = dns.addr().port();
    }
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![server]),
        TokioRuntimeProvider::default(),
    )
    .with_options(options())
    .build()
    .expect("resolver")
}

fn options() -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.timeout = Duration::from_secs(2);
    options.attempts = 1;
    options.cache_size = 0;
    options
}

/// What became of a lookup: "NOERROR", "NODATA", "NXDOMAIN", "SERVFAIL"...
fn outcome<T>(result: &Result<T, NetError>) -> String {
    match result {
        Ok(_) => "NOERROR".to_owned(),
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => match no.response_code {
            ResponseCode::NoError => "NODATA".to_owned(),
            code => rcode(code),
        },
        Err(NetError::Dns(DnsError::ResponseCode(code))) => rcode(*code),
        Err(e) => format!("other error: {e}"),
    }
}

fn rcode(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Header fields unfolded (the signers fold long ones).
fn unfold(text: &str) -> String {
    text.replace("\r\n ", " ").replace("\r\n\t", "\t")
}

/// The TXT strings of each answer record, as hickory decoded them.
async fn txt_strings(resolver: &TokioResolver, name: &str) -> Vec<Vec<Vec<u8>>> {
    let lookup = resolver.txt_lookup(name).await.expect(name);
    lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
            _ => None,
        })
        .collect()
}

async fn answers_over(resolver: &TokioResolver, key: &DkimKey) {
    // The SPF record: one short string.
    assert_eq!(
        txt_strings(resolver, "example.org").await,
        vec![vec![b"v=spf1 ip4:127.0.0.1 -all".to_vec()]]
    );
    // The DKIM key: about 410 bytes, so strings of at most 255 that
    // concatenate to the original.
    let key_record = txt_strings(resolver, &key.record_name()).await;
    assert_eq!(key_record.len(), 1);
    assert!(key_record[0].len() >= 2, "{key_record:?}");
    assert!(key_record[0].iter().all(|s| s.len() <= 255));
    assert_eq!(key_record[0].concat(), key.dns_txt.as_bytes());

    let mut a: Vec<Ipv4Addr> = resolver
        .ipv4_lookup("mail.example.org")
        .await
        .unwrap()
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    a.sort();
    assert_eq!(
        a,
        [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)]
    );

    let mut mx: Vec<(u16, String)> = resolver
        .mx_lookup("example.org")
        .await
        .unwrap()
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some((mx.preference, mx.exchange.to_string())),
            _ => None,
        })
        .collect();
    mx.sort();
    assert_eq!(
        mx,
        [
            (10, "mail.example.org.".to_owned()),
            (20, "backup.example.net.".to_owned())
        ]
    );

    // Names are case-insensitive.
    assert_eq!(
        txt_strings(resolver, "mixed.case.example").await,
        vec![vec![b"found".to_vec()]]
    );

    // Absent names: NXDOMAIN, also right under a name that exists (no
    // DMARC record at a subdomain, no SPF for an unknown domain).
    for name in ["nothing.example", "_dmarc.mail.example.org", "example.com"] {
        assert_eq!(
            outcome(&resolver.txt_lookup(name).await),
            "NXDOMAIN",
            "{name}"
        );
    }
    // Existing names without the type asked for, and empty non-terminals:
    // NOERROR with no answer.
    assert_eq!(
        outcome(&resolver.ipv4_lookup("example.org").await),
        "NODATA"
    );
    assert_eq!(
        outcome(&resolver.mx_lookup("_dmarc.example.org").await),
        "NODATA"
    );
    assert_eq!(
        outcome(&resolver.txt_lookup("_domainkey.example.org").await),
        "NODATA"
    );
    // The broken name and everything below it: SERVFAIL, records or not.
    for name in [
        "broken.example",
        "_dmarc.broken.example",
        "a.b.broken.example",
    ] {
        assert_eq!(
            outcome(&resolver.txt_lookup(name).await),
            "SERVFAIL",
            "{name}"
        );
    }
    // A sibling of the broken name is not broken.
    assert_eq!(
        outcome(&resolver.txt_lookup("unbroken.example").await),
        "NXDOMAIN"
    );
}

// A current-thread test runtime: the server must not need it to run.
#[tokio::test]
async fn hickory_resolver_gets_real_answers_over_udp_and_tcp() {
    let key = DkimKey::generate("example.org", "sel1");
    let dns = zone(&key);
    assert_eq!(dns.addr().ip(), Ipv4Addr::LOCALHOST);
    assert_eq!(dns.nameserver(), format!("127.0.0.1:{}", dns.addr().port()));
    answers_over(&resolver(&dns, false), &key).await;
    answers_over(&resolver(&dns, true), &key).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn works_inside_a_multi_thread_runtime_too() {
    let dns = TestDns::builder().txt("example.org", "x").start();
    assert_eq!(
        txt_strings(&resolver(&dns, false), "example.org").await,
        vec![vec![b"x".to_vec()]]
    );
}

/// `dig` with the flags, status and answer it printed.
struct Dig {
    status: String,
    authoritative: bool,
    answers: Vec<String>,
}

fn dig(dns: &TestDns, name: &str, rtype: &str, tcp: bool) -> Dig {
    let mut command = Command::new("dig");
    command.args([
        &format!("@{}", dns.addr().ip()),
        "-p",
        &dns.addr().port().to_string(),
        name,
        rtype,
        "+norecurse",
        "+time=2",
        "+tries=1",
        "+noall",
        "+comments",
        "+answer",
    ]);
    if tcp {
        command.arg("+tcp");
    }
    let output = command
        .output()
        .expect("run dig (Debian package bind9-dnsutils)");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "dig failed: {text}");
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no status from dig: {text}"))
        .to_owned();
    let flags = text
        .split("flags: ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no flags from dig: {text}"));
    let answers = text
        .lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    Dig {
        status,
        authoritative: flags.split(' ').any(|flag| flag == "aa"),
        answers,
    }
}

/// The character-strings of a TXT answer line from dig, unquoted.
fn dig_txt_strings(line: &str) -> Vec<String> {
    let rdata = line.split("TXT").nth(1).expect("a TXT answer").trim();
    rdata
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

// A plain test, no runtime at all.
#[test]
fn dig_gets_real_answers_over_udp_and_tcp() {
    let key = DkimKey::generate("example.org", "sel1");
    let dns = zone(&key);
    for tcp in [false, true] {
        let spf = dig(&dns, "example.org", "TXT", tcp);
        assert_eq!(spf.status, "NOERROR");
        assert!(spf.authoritative);
        assert_eq!(spf.answers.len(), 1, "{:?}", spf.answers);
        assert_eq!(
            dig_txt_strings(&spf.answers[0]),
            ["v=spf1 ip4:127.0.0.1 -all"]
        );

        let dkim = dig(&dns, &key.record_name(), "TXT", tcp);
        assert_eq!(dkim.status, "NOERROR");
        assert_eq!(dkim.answers.len(), 1, "{:?}", dkim.answers);
        let strings = dig_txt_strings(&dkim.answers[0]);
        assert!(strings.len() >= 2 && strings.iter().all(|s| s.len() <= 255));
        assert_eq!(strings.concat(), key.dns_txt);

        let a = dig(&dns, "mail.example.org", "A", tcp);
        assert_eq!(a.answers.len(), 2, "{:?}", a.answers);
        assert!(a.answers.iter().any(|l| l.ends_with("127.0.0.1")));
        assert!(a.answers.iter().any(|l| l.ends_with("127.0.0.2")));

        let mx = dig(&dns, "example.org", "MX", tcp);
        assert_eq!(mx.answers.len(), 2, "{:?}", mx.answers);
        assert!(mx
            .answers
            .iter()
            .any(|l| l.ends_with("10 mail.example.org.")));

        let absent = dig(&dns, "_dmarc.mail.example.org", "TXT", tcp);
        assert_eq!(absent.status, "NXDOMAIN");
        assert!(absent.authoritative);
        assert!(absent.answers.is_empty());

        let no_data = dig(&dns, "example.org", "A", tcp);
        assert_eq!(no_data.status, "NOERROR");
        assert!(no_data.answers.is_empty());

        for name in ["broken.example", "x.broken.example"] {
            assert_eq!(dig(&dns, name, "TXT", tcp).status, "SERVFAIL", "{name}");
        }
    }
}

#[test]
fn stops_on_drop() {
    let started = Instant::now();
    let dns = TestDns::builder().txt("example.org", "x").start();
    let start = started.elapsed();
    let addr = dns.addr();
    assert_eq!(dig(&dns, "example.org", "TXT", false).status, "NOERROR");
    // An idle TCP connection left open must not hold up the shutdown.
    let _idle = std::net::TcpStream::connect(addr).expect("connect over TCP");
    let started = Instant::now();
    drop(dns);
    eprintln!("timings: start {start:?}, stop {:?}", started.elapsed());
    // Both ports are free again: the sockets were closed.
    std::net::UdpSocket::bind(addr).expect("UDP port released");
    std::net::TcpListener::bind(addr).expect("TCP port released");
}

#[test]
fn dkim_signature_by_dkimpy_verifies_and_tampering_breaks_it() {
    let started = Instant::now();
    let key = DkimKey::generate("example.org", "sel1");
    let generated = started.elapsed();
    assert_eq!(key.record_name(), "sel1._domainkey.example.org");
    assert!(key
        .private_pem
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(key.dns_txt.starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"));
    let dns = TestDns::builder()
        .txt(&key.record_name(), &key.dns_txt)
        .start();

    let started = Instant::now();
    let signed = dkim_sign(MESSAGE.as_bytes(), &key);
    let signing = started.elapsed();
    let text = String::from_utf8(signed.clone()).unwrap();
    let unfolded = unfold(&text);
    assert!(
        unfolded
            .starts_with("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;"),
        "{text}"
    );
    assert!(unfolded.contains(" s=sel1;"), "{text}");
    assert!(
        unfolded.contains(" h=from : to : subject : date : message-id;"),
        "{text}"
    );
    // CRLF throughout, as over SMTP, and the message itself unchanged.
    assert!(!text.replace("\r\n", "").contains('\n'));
    assert!(signed.ends_with(&crlf(MESSAGE.as_bytes())));

    let started = Instant::now();
    assert!(dkim_verify(&signed, &dns));
    let verifying = started.elapsed();
    eprintln!("timings: generate {generated:?}, sign {signing:?}, verify {verifying:?}");

    // LF line ends (as a file on disk) verify the same.
    assert!(dkim_verify(text.replace("\r\n", "\n").as_bytes(), &dns));
    // Tampered body, tampered signed header: fail.
    let tampered = text.replace("on fire", "fine");
    assert!(!dkim_verify(tampered.as_bytes(), &dns));
    let tampered = text.replace("Subject: Printer on fire", "Subject: Printer fine");
    assert!(!dkim_verify(tampered.as_bytes(), &dns));
    // relaxed/relaxed: refolding whitespace is not tampering.
    let refolded = text.replace("Subject: Printer on fire", "Subject:   Printer  on fire ");
    assert!(dkim_verify(refolded.as_bytes(), &dns));
    // Without the key in DNS: fail (NXDOMAIN for the selector).
    let empty = TestDns::builder().start();
    assert!(!dkim_verify(&signed, &empty));
}

#[tokio::test]
async fn mail_auth_verifies_dkimpy_signatures_through_test_dns() {
    let key = DkimKey::generate("example.org", "sel1");
    let dns = zone(&key);
    let mut server = NameServerConfig::udp_and_tcp(dns.addr().ip());
    for connection in &mut server.connections {
        connection.port = dns.addr().port();
    }
    let authenticator =
        MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![server]), options())
            .expect("authenticator");

    let signed = dkim_sign(MESSAGE.as_bytes(), &key);
    let message = AuthenticatedMessage::parse(&signed).expect("parse");
    let dkim = authenticator.verify_dkim(&message).await;
    assert_eq!(dkim.len(), 1);
    assert_eq!(dkim[0].result(), &DkimResult::Pass);

    let spf = authenticator
        .verify_spf(mail_auth::spf::verify::SpfParameters::verify_mail_from(
            "127.0.0.1".parse().unwrap(),
            "mail.example.org",
            "mx.test",
            "alice@example.org",
        ))
        .await;
    assert_eq!(spf.result(), SpfResult::Pass);
    let spf_fail = authenticator
        .verify_spf(mail_auth::spf::verify::SpfParameters::verify_mail_from(
            "192.0.2.1".parse().unwrap(),
            "mail.example.org",
            "mx.test",
            "alice@example.org",
        ))
        .await;
    assert_eq!(spf_fail.result(), SpfResult::Fail);
    let spf_none = authenticator
        .verify_spf(mail_auth::spf::verify::SpfParameters::verify_mail_from(
            "127.0.0.1".parse().unwrap(),
            "mail.example.org",
            "mx.test",
            "bob@nothing.example",
        ))
        .await;
    assert_eq!(spf_none.result(), SpfResult::None);
    let spf_temp = authenticator
        .verify_spf(mail_auth::spf::verify::SpfParameters::verify_mail_from(
            "127.0.0.1".parse().unwrap(),
            "mail.example.org",
            "mx.test",
            "carol@broken.example",
        ))
        .await;
    assert_eq!(spf_temp.result(), SpfResult::TempError);

    let dmarc = authenticator
        .verify_dmarc(mail_auth::dmarc::verify::DmarcParameters::new(
            &message,
            &dkim,
            "example.org",
            &spf,
        ))
        .await;
    assert_eq!(dmarc.dkim_result(), &DmarcResult::Pass);
    assert_eq!(dmarc.spf_result(), &DmarcResult::Pass);
}

#[tokio::test]
async fn arc_seal_by_dkimpy_starts_a_chain_that_verifies() {
    let key = DkimKey::generate("forwarder.example", "arc1");
    let author_key = DkimKey::generate("example.org", "sel1");
    let dns = TestDns::builder()
        .txt(&key.record_name(), &key.dns_txt)
        .txt(&author_key.record_name(), &author_key.dns_txt)
        .start();
    let signed = dkim_sign(MESSAGE.as_bytes(), &author_key);

    let started = Instant::now();
    let sealed = arc_seal(
        &signed,
        &key,
        "mx.forwarder.example",
        "spf=pass smtp.mailfrom=alice@example.org; dkim=pass header.d=example.org; \
         dmarc=pass header.from=example.org",
    );
    eprintln!("timing: arc_seal {:?}", started.elapsed());
    let text = String::from_utf8(sealed.clone()).unwrap();
    let unfolded = unfold(&text);
    assert!(
        unfolded.starts_with("ARC-Seal: i=1; cv=none; a=rsa-sha256; d=forwarder.example; s=arc1;"),
        "{text}"
    );
    assert!(unfolded.contains("\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=forwarder.example; s=arc1;"), "{text}");
    assert!(
        unfolded.contains("\r\nARC-Authentication-Results: i=1; mx.forwarder.example; spf=pass"),
        "{text}"
    );
    assert!(
        unfolded.contains("\r\nAuthentication-Results: mx.forwarder.example; spf=pass"),
        "{text}"
    );
    assert!(sealed.ends_with(&signed));

    assert_eq!(
        arc_verify(&sealed, &dns).0,
        "pass",
        "{:?}",
        arc_verify(&sealed, &dns)
    );
    assert!(
        dkim_verify(&sealed, &dns),
        "the author's DKIM signature survives"
    );
    let tampered = text.replace("on fire", "fine");
    assert_eq!(arc_verify(tampered.as_bytes(), &dns).0, "fail");

    // mail-auth agrees.
    let mut server = NameServerConfig::udp_and_tcp(dns.addr().ip());
    for connection in &mut server.connections {
        connection.port = dns.addr().port();
    }
    let authenticator =
        MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![server]), options())
            .expect("authenticator");
    let message = AuthenticatedMessage::parse(&sealed).expect("parse");
    let arc = authenticator.verify_arc(&message).await;
    assert_eq!(arc.result(), &DkimResult::Pass);

    // A second hop: its Authentication-Results must carry arc=pass.
    let resealed = arc_seal(
        &sealed,
        &key,
        "mx2.forwarder.example",
        "arc=pass; spf=pass smtp.mailfrom=forwarder.example",
    );
    let text = String::from_utf8(resealed.clone()).unwrap();
    assert!(text.starts_with("ARC-Seal: i=2; cv=pass;"), "{text}");
    assert_eq!(arc_verify(&resealed, &dns).0, "pass");
}
