//! `domain add|verify|list` against a real DNS server, and the refusals of
//! `conversation reply`, through the real binary on both databases.

mod common;

use common::Setup;
use std::io::Write;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dns::TestDns;

/// A setup whose resolver is `dns`.
fn with_dns(db: teaminbox_testkit::TestDatabase, dns: &TestDns) -> Setup {
    let setup = Setup::new(db);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&setup.config)
        .unwrap();
    writeln!(file, "[dns]\nnameservers = [\"{}\"]", dns.nameserver()).unwrap();
    setup
}

both_databases! {
    fn a_domain_is_verified_only_when_its_key_is_published(db: TestDatabase) {
        let empty = TestDns::builder().start();
        let setup = with_dns(db, &empty);
        let out = setup.run(&["domain", "add", "Acme.Example", "--selector", "tb"]).ok().to_owned();
        assert!(out.contains("tb._domainkey.acme.example. IN TXT \"v=DKIM1; k=rsa; p=MII"), "{out}");
        assert!(out.contains("_dmarc.acme.example."), "{out}");
        assert!(out.contains("teaminbox-admin domain verify acme.example"), "{out}");
        let refused = setup.run(&["domain", "add", "acme.example"]).fails(1).to_owned();
        assert!(refused.contains("already a sending domain"), "{refused}");

        // Nothing published yet.
        let e = setup.run(&["domain", "verify", "acme.example"]).fails(1).to_owned();
        assert!(e.contains("no DKIM record at tb._domainkey.acme.example"), "{e}");

        // Published, but another key.
        let listed = setup.json(&["domain", "list"]);
        let txt = listed[0]["dns_txt"].as_str().unwrap().to_owned();
        assert_eq!(listed[0]["verified_at"], serde_json::Value::Null);
        let other = TestDns::builder().txt("tb._domainkey.acme.example", "v=DKIM1; k=rsa; p=MIIBother").start();
        let mut setup = setup;
        rewrite_dns(&mut setup, &other);
        let e = setup.run(&["domain", "verify", "acme.example"]).fails(1).to_owned();
        assert!(e.contains("does not hold this domain's key"), "{e}");

        // The right record.
        let right = TestDns::builder().txt("tb._domainkey.acme.example", &txt).start();
        rewrite_dns(&mut setup, &right);
        let ok = setup.run(&["domain", "verify", "acme.example"]).ok().to_owned();
        assert!(ok.contains("acme.example is verified"), "{ok}");
        assert!(setup.json(&["domain", "list"])[0]["verified_at"].is_string());
        assert!(setup.run(&["domain", "list", "--json"]).ok().contains("\"dns_txt\""));
        // The private key (PKCS#8 PEM, an RSA 2048 key's base64 starts
        // MIIEv) is never printed, in any form.
        let printed = [
            out,
            setup.run(&["domain", "add", "other.example", "--json"]).ok().to_owned(),
            setup.run(&["domain", "list"]).ok().to_owned(),
            setup.run(&["domain", "list", "--json"]).ok().to_owned(),
            setup.run(&["domain", "verify", "acme.example", "--json"]).ok().to_owned(),
        ];
        for text in printed {
            assert!(!text.contains("PRIVATE KEY") && !text.contains("MIIEv"), "{text}");
        }
    }
}

/// Points the configuration at another DNS server.
fn rewrite_dns(setup: &mut Setup, dns: &TestDns) {
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("[dns]") && !l.starts_with("nameservers"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        &setup.config,
        format!("{kept}[dns]\nnameservers = [\"{}\"]\n", dns.nameserver()),
    )
    .unwrap();
}

both_databases! {
    fn replies_are_refused_clearly(db: TestDatabase) {
        let setup = Setup::new(db);
        let e = setup.run(&["conversation", "reply", "7", "--as", "jane@acme.example", "--body", "Hi"]).fails(1).to_owned();
        assert!(e.contains("there is no conversation 7"), "{e}");
        let e = setup.run(&["conversation", "reply", "7", "--as", "jane@acme.example"]).usage_error().to_owned();
        assert!(e.contains("--body"), "{e}");
        let e = setup.run(&["conversation", "reply", "7", "--as", "jane@acme.example", "--body", "  "]).fails(2).to_owned();
        assert!(e.contains("empty"), "{e}");
    }
}
