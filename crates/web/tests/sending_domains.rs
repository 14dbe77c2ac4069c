//! Sending domains in the web, for admins, through the real router on
//! SQLite and PostgreSQL, against a real DNS server: add a domain, the
//! records to publish, Verify refused until the DKIM record holds our key
//! (in the words of `domain verify`), then verified; an agent gets 403.

mod common;

use axum::http::StatusCode;
use common::{form, Inbox};
use teaminbox_outbound::sending_domain::{dkim_advice, dmarc_advice, spf_advice};
use teaminbox_store::both_databases;
use teaminbox_store::config::WebConfig;
use teaminbox_store::model::UserRole;
use teaminbox_testkit::dns::TestDns;

fn refusal(reply: &common::Reply) -> String {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let text = reply.text();
    let marker = "<p class=\"error\" id=\"error\">";
    let start = text.find(marker).unwrap_or_else(|| panic!("{text}")) + marker.len();
    text[start..start + text[start..].find("</p>").unwrap()].to_owned()
}

both_databases! {
    async fn an_admin_adds_and_verifies_a_sending_domain(db: TestDatabase) {
        let empty = TestDns::builder().start();
        let inbox = Inbox::new(&db, &WebConfig::default()).with_nameserver(empty.nameserver());
        inbox.store.accounts().set_role("bob@example.com", UserRole::Admin).unwrap();
        let (bob, csrf) = inbox.signed_in("bob@example.com").await;
        let post = |inbox: &Inbox, path: &'static str, domain: &'static str| {
            let body = form(&[("csrf", csrf.as_str()), ("domain", domain)]);
            let (router, bob) = (inbox.router.clone(), bob.clone());
            let inbox = Inbox { store: inbox.store.clone(), router };
            async move { inbox.post(path, Some(&bob), &body).await }
        };

        let added = post(&inbox, "/settings/domains", "Acme.Example").await;
        assert_eq!(added.location(), "/settings/domains", "{}", added.body);
        let domain = inbox.store.outbound().sending_domain("acme.example").unwrap().unwrap();
        assert_eq!((domain.selector.as_str(), domain.verified_at), ("teaminbox", None));
        let page = inbox.get("/settings/domains", Some(&bob)).await.text();
        for record in [dkim_advice(&domain), spf_advice("acme.example"), dmarc_advice("acme.example")] {
            assert!(page.contains(&format!("\">{record}</code>")), "{record}\n{page}");
        }
        assert!(page.contains("<span class=\"state\">not verified</span>"), "{page}");

        assert!(refusal(&post(&inbox, "/settings/domains", "bad domain").await).contains("bad domain"));
        assert_eq!(refusal(&post(&inbox, "/settings/domains/verify", "other.example").await),
            "other.example is not a sending domain; add it with `teaminbox-admin domain add other.example`");
        assert_eq!(refusal(&post(&inbox, "/settings/domains/verify", "acme.example").await),
            "no DKIM record at teaminbox._domainkey.acme.example yet; publish the TXT record `domain add` printed (DNS changes can take a while), then try again");
        let stale = TestDns::builder().txt("teaminbox._domainkey.acme.example", "v=DKIM1; k=rsa; p=AAAA").start();
        assert_eq!(refusal(&post(&inbox.with_nameserver(stale.nameserver()), "/settings/domains/verify", "acme.example").await),
            "the DKIM record at teaminbox._domainkey.acme.example does not hold this domain's key; publish exactly the TXT record `domain list` shows");
        assert!(inbox.store.outbound().sending_domain("acme.example").unwrap().unwrap().verified_at.is_none());

        let published = TestDns::builder().txt("teaminbox._domainkey.acme.example", &domain.dns_txt).start();
        let verified = post(&inbox.with_nameserver(published.nameserver()), "/settings/domains/verify", "acme.example").await;
        assert_eq!(verified.location(), "/settings/domains", "{}", verified.body);
        assert!(inbox.store.settings().sending_domain_verified("acme.example").unwrap());
        assert!(inbox.get("/settings/domains", Some(&bob)).await.body.contains("<span class=\"state\">verified "));
    }
}

both_databases! {
    async fn an_agent_gets_no_sending_domains(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        assert_eq!(inbox.get("/settings/domains", Some(&alice)).await.status, StatusCode::FORBIDDEN);
        let body = form(&[("csrf", &csrf), ("domain", "acme.example")]);
        for path in ["/settings/domains", "/settings/domains/verify"] {
            assert_eq!(inbox.post(path, Some(&alice), &body).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert!(inbox.store.outbound().sending_domains().unwrap().is_empty());
    }
}
