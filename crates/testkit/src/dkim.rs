//! DKIM and ARC by a third party, for tests: keys from the `openssl` CLI,
//! signatures and verification by Debian's dkimpy (`python3-dkim`) run as
//! `/usr/bin/python3` (the `python3` on PATH may be another interpreter
//! without the module).
//!
//! Debian packages needed: `openssl`, `python3-dkim` (brings
//! `python3-dnspython`, used by [`dkim_verify`] to ask our [`TestDns`]) and,
//! for [`arc_seal`], `python3-authres` (dkimpy parses Authentication-Results
//! with it and refuses to ARC-sign without it).
//!
//! Line endings: dkimpy accepts LF or CRLF and always canonicalises as CRLF,
//! so a signature it makes verifies on the CRLF message Postfix hands the
//! milter. Every function here normalises its input to CRLF (bare LF and
//! CRLF alike; a final CRLF is added if missing) and returns CRLF, which is
//! what goes over SMTP.

use super::dns::{TestDns, TestDnsBuilder};
use std::{
    io::Write,
    process::{Command, Stdio},
    sync::OnceLock,
};

/// The only interpreter known to have dkimpy (Debian's).
const PYTHON: &str = "/usr/bin/python3";
const OPENSSL: &str = "/usr/bin/openssl";

/// The headers [`dkim_sign`] signs.
pub const SIGNED_HEADERS: [&str; 5] = ["From", "To", "Subject", "Date", "Message-ID"];

/// One Python program, several jobs: argv[1] names the job, the message
/// comes on stdin, the result goes to stdout.
const SCRIPT: &str = r#"
import sys
import dkim

def dnsfunc_for(port):
    import dns.resolver, dns.rdatatype
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    def get_txt(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        try:
            answer = resolver.resolve(name, "TXT", lifetime=timeout, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return None
        for rrset in answer.response.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(list(rrset.items)[0].strings)
        return None
    return get_txt

job = sys.argv[1]
message = sys.stdin.buffer.read()
out = sys.stdout.buffer
if job == "sign":
    selector, domain, key = (a.encode() for a in sys.argv[2:5])
    headers = [h.encode() for h in sys.argv[5].split(":")]
    out.write(dkim.sign(message, selector, domain, key,
                        canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=headers))
elif job == "arc":
    selector, domain, key, srv_id = (a.encode() for a in sys.argv[2:6])
    out.write(b"".join(dkim.arc_sign(message, selector, domain, key, srv_id)))
elif job == "verify":
    ok = dkim.verify(message, dnsfunc=dnsfunc_for(int(sys.argv[2])))
    out.write(b"pass" if ok else b"fail")
elif job == "arc-verify":
    cv, results, reason = dkim.arc_verify(message, dnsfunc=dnsfunc_for(int(sys.argv[2])))
    out.write((cv or b"none") + b"\n" + reason.encode())
else:
    sys.exit("unknown job " + job)
"#;

/// An RSA-2048 DKIM key pair and where its public half lives in DNS.
#[derive(Clone, Debug)]
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    /// PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), LF line ends: the
    /// form dkimpy reads. (`openssl pkcs8 -topk8 -nocrypt` converts it if
    /// PKCS#8 is wanted.)
    pub private_pem: String,
    /// The TXT record: `v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>`
    /// (about 410 bytes: [`TestDns`] splits it into 255-byte strings).
    pub dns_txt: String,
}

impl DkimKey {
    /// A fresh RSA-2048 key from `openssl genrsa` (tens to a few hundred
    /// milliseconds).
    pub fn generate(domain: &str, selector: &str) -> DkimKey {
        let private_pem = run(
            Command::new(OPENSSL).args(["genrsa", "-traditional", "2048"]),
            b"",
            "openssl genrsa",
        );
        let public_pem = run(
            Command::new(OPENSSL).args(["rsa", "-pubout"]),
            &private_pem,
            "openssl rsa -pubout",
        );
        let public_pem = String::from_utf8(public_pem).expect("PEM is ASCII");
        let p: String = public_pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        DkimKey {
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            private_pem: String::from_utf8(private_pem).expect("PEM is ASCII"),
            dns_txt: format!("v=DKIM1; k=rsa; p={p}"),
        }
    }

    /// `{selector}._domainkey.{domain}`, where [`DkimKey::dns_txt`] goes.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

/// The senders the authentication tests mail as, with their keys. Keys are
/// slow to make: one set per test process.
///
/// - `example.com`: SPF allows 192.0.2.7 only, DMARC `p=reject`, DKIM key
///   [`Senders::example`] (selector `s1`);
/// - `quarantine.example`: SPF allows 192.0.2.7 only, DMARC `p=quarantine`;
/// - `nodmarc.example`: SPF allows 192.0.2.7 only, no DMARC record;
/// - `forwarder.example`: SPF allows the address given to [`Senders::dns`];
/// - `google.com`: an ARC sealer tests may trust ([`Senders::google`]);
/// - `lists.untrusted.example`: an ARC sealer nobody trusts;
/// - `servfail.example`: every query fails.
#[derive(Debug)]
pub struct Senders {
    pub example: DkimKey,
    pub google: DkimKey,
    pub untrusted: DkimKey,
}

pub fn senders() -> &'static Senders {
    static SENDERS: OnceLock<Senders> = OnceLock::new();
    SENDERS.get_or_init(|| Senders {
        example: DkimKey::generate("example.com", "s1"),
        google: DkimKey::generate("google.com", "arc-2016"),
        untrusted: DkimKey::generate("lists.untrusted.example", "arc"),
    })
}

impl Senders {
    /// Their DNS records, with `forwarder.example` sending from
    /// `forwarder_ip`; add more before `start`.
    pub fn dns(&self, forwarder_ip: &str) -> TestDnsBuilder {
        TestDns::builder()
            .txt("example.com", "v=spf1 ip4:192.0.2.7 -all")
            .txt("_dmarc.example.com", "v=DMARC1; p=reject")
            .txt(&self.example.record_name(), &self.example.dns_txt)
            .txt("quarantine.example", "v=spf1 ip4:192.0.2.7 -all")
            .txt("_dmarc.quarantine.example", "v=DMARC1; p=quarantine")
            .txt("nodmarc.example", "v=spf1 ip4:192.0.2.7 -all")
            .txt(
                "forwarder.example",
                &format!("v=spf1 ip4:{forwarder_ip} -all"),
            )
            .txt(&self.google.record_name(), &self.google.dns_txt)
            .txt(&self.untrusted.record_name(), &self.untrusted.dns_txt)
            .servfail("servfail.example")
    }

    /// `message` from an example.com author as a mailing list passes it
    /// on: signed by example.com, then a footer added (which breaks that
    /// signature) and the result sealed by `sealer`, recording that the
    /// original passed.
    pub fn through_a_list(&self, message: &[u8], sealer: &DkimKey) -> Vec<u8> {
        let mut modified = dkim_sign(message, &self.example);
        modified.extend_from_slice(b"--\r\nYou received this because you are subscribed.\r\n");
        arc_seal(
            &modified,
            sealer,
            &format!("mx.{}", sealer.domain),
            "dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com; \
             dmarc=pass header.from=example.com",
        )
    }
}

impl Senders {
    /// [`Senders::through_a_list`] sealed by `first` (which records a
    /// pass), then passed on by Google, sealing it as `google.com` and
    /// recording `google_saw` (RFC 8601 results, such as `dmarc=fail
    /// header.from=example.com`) as its own verdict.
    pub fn through_a_list_then_google(
        &self,
        message: &[u8],
        first: &DkimKey,
        google_saw: &str,
    ) -> Vec<u8> {
        let first_hop = self.through_a_list(message, first);
        arc_seal(
            &first_hop,
            &self.google,
            "mx.google.com",
            &format!("arc=pass; {google_saw}"),
        )
    }
}

/// The message (CRLF) with a `DKIM-Signature` header by dkimpy prepended:
/// d= and s= from `key`, rsa-sha256, c=relaxed/relaxed, h= the
/// [`SIGNED_HEADERS`] (those absent are signed as absent), t= now.
pub fn dkim_sign(message: &[u8], key: &DkimKey) -> Vec<u8> {
    dkim_sign_headers(message, key, &SIGNED_HEADERS)
}

/// [`dkim_sign`] with h= these `headers`: a header left out may be added
/// later without breaking the signature.
pub fn dkim_sign_headers(message: &[u8], key: &DkimKey, headers: &[&str]) -> Vec<u8> {
    let message = crlf(message);
    let signature = python(
        &[
            "sign",
            &key.selector,
            &key.domain,
            &key.private_pem,
            &headers.join(":"),
        ],
        &message,
    );
    assert!(
        signature.starts_with(b"DKIM-Signature:"),
        "dkimpy made no signature: {}",
        String::from_utf8_lossy(&signature)
    );
    let mut signed = crlf(&signature);
    signed.extend_from_slice(&message);
    signed
}

/// The message (CRLF) as an ADMD would pass it on after checking it and
/// sealing it with dkimpy's `arc_sign`: on top the new ARC set
/// (`ARC-Seal`, `ARC-Message-Signature`, `ARC-Authentication-Results`, all
/// with i= one more than the highest instance already on the message),
/// then, when `auth_results` is not empty, the new
/// `Authentication-Results: {authserv_id}; {auth_results}` header, then the
/// message as given.
///
/// What dkimpy's `arc_sign(message, selector, domain, privkey, srv_id)`
/// needs, and so this function:
/// - `python3-authres` installed;
/// - at least one `Authentication-Results` header whose authserv-id is
///   `authserv_id` (srv_id). Its results (from all such headers, merged)
///   become the ARC-Authentication-Results; other ADMDs' AR headers are
///   ignored. With an empty `auth_results` the message must already carry
///   one; otherwise this function panics, as dkimpy would return nothing;
/// - cv= comes from an `arc=` result in those results: none for i=1 (an
///   `arc=` result on a message without ARC sets makes dkimpy refuse), and
///   for i>1 an `arc=pass` or `arc=fail` result is required (without one
///   dkimpy returns nothing: panic here);
/// - the signed headers are dkimpy's default (every header present except
///   those that should not be signed, like Authentication-Results, Received
///   and Return-Path), c=relaxed/relaxed, rsa-sha256, t= now.
pub fn arc_seal(message: &[u8], key: &DkimKey, authserv_id: &str, auth_results: &str) -> Vec<u8> {
    let mut input = Vec::new();
    if !auth_results.is_empty() {
        input.extend_from_slice(
            format!("Authentication-Results: {authserv_id}; {auth_results}\r\n").as_bytes(),
        );
    }
    input.extend_from_slice(&crlf(message));
    let arc_set = python(
        &[
            "arc",
            &key.selector,
            &key.domain,
            &key.private_pem,
            authserv_id,
        ],
        &input,
    );
    assert!(
        arc_set.starts_with(b"ARC-Seal:"),
        "dkimpy made no ARC set (no Authentication-Results for {authserv_id}, or no arc= \
         result on a message that already has ARC sets?): {}",
        String::from_utf8_lossy(&arc_set)
    );
    let mut sealed = crlf(&arc_set);
    sealed.extend_from_slice(&input);
    sealed
}

/// Whether dkimpy verifies the topmost DKIM-Signature of `message`, with
/// keys fetched (by dnspython) from `dns`.
pub fn dkim_verify(message: &[u8], dns: &TestDns) -> bool {
    let port = dns.addr().port().to_string();
    match python(&["verify", &port], &crlf(message)).as_slice() {
        b"pass" => true,
        b"fail" => false,
        other => panic!("dkimpy said {}", String::from_utf8_lossy(other)),
    }
}

/// dkimpy's ARC chain validation of `message`, keys from `dns`:
/// `("pass" | "fail" | "none", reason)`.
pub fn arc_verify(message: &[u8], dns: &TestDns) -> (String, String) {
    let port = dns.addr().port().to_string();
    let out = String::from_utf8(python(&["arc-verify", &port], &crlf(message)))
        .expect("dkimpy answers in ASCII");
    let (cv, reason) = out.split_once('\n').unwrap_or((&out, ""));
    (cv.to_owned(), reason.to_owned())
}

/// `message` with every line ending CRLF (bare LF become CRLF) and a final
/// CRLF.
pub fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 2);
    for (i, &byte) in message.iter().enumerate() {
        if byte == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn python(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    // -I: ignore PYTHON* variables and the user's site-packages, so that a
    // pyenv or virtualenv in the environment cannot get in the way.
    run(
        Command::new(PYTHON).args(["-I", "-c", SCRIPT]).args(args),
        stdin,
        "dkimpy (/usr/bin/python3; Debian packages python3-dkim, python3-authres)",
    )
}

fn run(command: &mut Command, stdin: &[u8], what: &str) -> Vec<u8> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    let written = writer.join().expect("stdin writer thread");
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    written.unwrap_or_else(|e| panic!("write to {what}: {e}"));
    output.stdout
}
