//! `teaminbox-admin doctor` against a real Postfix in a container, read
//! through `docker exec ... postconf`: configured as the README says it
//! finds nothing wrong (exit 0); deliberately misconfigured it names each
//! wrong setting with its fix (exit 1).

mod common;

use common::{admin, Milter, HOSTED};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use teaminbox_e2e::{Postfix, PostfixOptions};
use teaminbox_outbound::dkim::generate_key;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dns::TestDns;

/// The docker client the harness uses (tests/run exports it).
fn docker() -> String {
    std::env::var("TEAMINBOX_TEST_DOCKER").unwrap_or_else(|_| "docker".into())
}

/// Runs the doctor on the daemon's configuration, reading `postfix`.
fn doctor(milter: &Milter, postfix: &Postfix, extra: &[&str]) -> (i32, String, String) {
    let postconf = format!("{} exec {} postconf", docker(), postfix.name());
    let postmap = format!("{} exec {} postmap", docker(), postfix.name());
    let mut args = vec!["doctor", "--postconf", &postconf, "--postmap", &postmap];
    args.extend(extra);
    admin(&milter.admin_config(), &args)
}

/// Each finding's check and status, from `doctor --json`.
fn statuses(json: &str) -> Vec<(String, String)> {
    let findings: Value = serde_json::from_str(json).expect("doctor --json prints JSON");
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A milter whose sending domain `HOSTED` has `dns` publish its DKIM key
/// (when `publish`), SPF and DMARC.
fn milter_with_sending_domain(db: teaminbox_testkit::TestDatabase, publish: bool) -> Milter {
    let key = generate_key().unwrap();
    let dns = if publish {
        TestDns::builder()
            .txt(&format!("tb._domainkey.{HOSTED}"), &key.dns_txt)
            .txt(HOSTED, "v=spf1 ip4:127.0.0.1 -all")
            .txt(&format!("_dmarc.{HOSTED}"), "v=DMARC1; p=none")
            .start()
    } else {
        TestDns::builder().start()
    };
    let milter = Milter::start_with(db, dns);
    milter
        .store
        .outbound()
        .add_sending_domain(HOSTED, "tb", &key.private_key_pem, &key.dns_txt)
        .unwrap();
    milter
}

both_databases! {
    fn a_postfix_set_up_as_the_readme_says_is_all_green(db: TestDatabase) {
        let milter = milter_with_sending_domain(db, true);
        let postfix = milter.postfix();

        let (code, out, err) = doctor(&milter, &postfix, &[]);
        assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
        assert_eq!(err, "");
        for line in out.lines() {
            assert!(line.starts_with("ok "), "{out}");
        }
        let socket = milter.socket().display().to_string();
        for expected in [
            format!("ok     smtpd_milters: names unix:{socket}, where the daemon listens"),
            "ok     milter socket: Postfix's user postfix".into(),
            "ok     milter_default_action: tempfail".into(),
            "ok     message_size_limit: 41943040 is above the milter's max_message_size (31457280)".into(),
            "ok     in_flow_delay: 0".into(),
            "ok     non_smtpd_milters: does not name the teaminbox milter".into(),
            format!("ok     hosted domain {HOSTED}: relayed, and mail the milter did not take is deferred"),
            "ok     dns resolver: 127.0.0.1:".into(),
            format!("ok     dkim {HOSTED}: tb._domainkey.{HOSTED} holds our key"),
            format!("ok     spf {HOSTED}: {HOSTED} publishes a spf record"),
            format!("ok     dmarc {HOSTED}: _dmarc.{HOSTED} publishes a dmarc record"),
        ] {
            assert!(out.contains(&expected), "{expected:?} not in:\n{out}");
        }

        let (code, json, _) = doctor(&milter, &postfix, &["--json"]);
        assert_eq!(code, 0);
        let found = statuses(&json);
        assert_eq!(found.len(), out.lines().count(), "{json}");
        assert!(found.iter().all(|(_, status)| status == "ok"), "{json}");
    }
}

both_databases! {
    fn a_misconfigured_postfix_gets_each_fix(db: TestDatabase) {
        // Nothing published for the sending domain.
        let milter = milter_with_sending_domain(db, false);
        let socket = milter.socket().display().to_string();
        let postfix = Postfix::start(PostfixOptions {
            milter: Some("unix:/run/elsewhere/milter.sock".into()),
            socket_dir: Some(milter.socket().parent().unwrap().to_owned()),
            hosted_domains: vec![HOSTED.into()],
            // Postfix's own default: below the milter's 30 MiB.
            message_size_limit: 10_240_000,
            extra_main_cf: vec![
                "milter_default_action = accept".into(),
                "in_flow_delay = 1s".into(),
                format!("non_smtpd_milters = unix:{socket}"),
                // Hosted mail that gets past the milter would be relayed on.
                "transport_maps =".into(),
            ],
            ..Default::default()
        });
        // Postfix::start opened the socket to all; only the daemon's user now.
        std::fs::set_permissions(milter.socket(), std::fs::Permissions::from_mode(0o600)).unwrap();

        let listener = postfix.smtp_addr();
        let (code, out, err) = doctor(&milter, &postfix, &[]);
        assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
        assert_eq!(
            err.trim_end(),
            "teaminbox-admin: 10 of 12 checks found something wrong; apply the fixes printed above"
        );
        for expected in [
            format!("WRONG  smtpd_milters: `unix:/run/elsewhere/milter.sock` does not name the daemon's socket unix:{socket}\n       fix: postconf -e 'smtpd_milters = unix:{socket}' && postfix reload"),
            "WRONG  milter socket: Postfix's user postfix".into(),
            format!("cannot connect to {socket} (mode 0600"),
            "fix: in teaminbox.toml: socket_group = \"postfix\" and socket_mode = \"0660\" under [milter], then restart the daemon".into(),
            "WRONG  milter_default_action: is `accept`".into(),
            "fix: postconf -e 'milter_default_action = tempfail' && postfix reload".into(),
            "WRONG  message_size_limit: `10240000` is not above the milter's max_message_size (31457280)".into(),
            "fix: postconf -e 'message_size_limit = 41943040' && postfix reload".into(),
            format!("WRONG  in_flow_delay: is not 0 for the mail of {listener} (1s)"),
            format!("fix: postconf -M 'teaminbox-cleanup/unix=teaminbox-cleanup unix n - n - 0 cleanup' && postconf -P 'teaminbox-cleanup/unix/in_flow_delay=0' && postconf -P '{listener}/inet/cleanup_service_name=teaminbox-cleanup' && postfix reload (or, for all of Postfix: postconf -e 'in_flow_delay = 0')"),
            format!("WRONG  non_smtpd_milters: names the teaminbox milter (unix:{socket})"),
            "fix: postconf -e 'non_smtpd_milters =' && postfix reload".into(),
            format!("WRONG  hosted domain {HOSTED}: its mail goes to the transport `relay`"),
            format!("fix: relay_domains = {HOSTED} and transport_maps = inline:{{ {HOSTED}=teaminbox-defer: }}"),
            format!("WRONG  dkim {HOSTED}: no DKIM record at tb._domainkey.{HOSTED}"),
            format!("fix: publish tb._domainkey.{HOSTED}. IN TXT \"v=DKIM1; k=rsa; p=MII"),
            format!("WRONG  spf {HOSTED}: no spf record at {HOSTED}"),
            format!("WRONG  dmarc {HOSTED}: no dmarc record at _dmarc.{HOSTED}"),
            format!("fix: publish _dmarc.{HOSTED}. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{HOSTED}\""),
        ] {
            assert!(out.contains(&expected), "{expected:?} not in:\n{out}");
        }

        let (code, json, _) = doctor(&milter, &postfix, &["--json"]);
        assert_eq!(code, 1);
        let ok: Vec<String> = statuses(&json)
            .into_iter()
            .filter(|(_, status)| status == "ok")
            .map(|(check, _)| check)
            .collect();
        assert_eq!(ok, ["database", "dns resolver"], "{json}");

        // `-o in_flow_delay=0` on smtpd itself changes nothing (the delay is
        // cleanup's); the fix it printed, scoped to the SMTP listener, does.
        let on_smtpd = format!("{listener}/inet/in_flow_delay=0");
        assert!(postfix.exec(&["postconf", "-P", &on_smtpd]).status.success());
        let (_, out, _) = doctor(&milter, &postfix, &[]);
        assert!(out.contains("WRONG  in_flow_delay: is not 0 for the mail of"), "{out}");
        let fix = format!(
            "postconf -M 'teaminbox-cleanup/unix=teaminbox-cleanup unix n - n - 0 cleanup' && \
             postconf -P 'teaminbox-cleanup/unix/in_flow_delay=0' && \
             postconf -P '{listener}/inet/cleanup_service_name=teaminbox-cleanup'"
        );
        let applied = postfix.exec(&["sh", "-c", &fix]);
        assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
        let (_, out, _) = doctor(&milter, &postfix, &[]);
        assert!(
            out.contains("ok     in_flow_delay: `1s` in main.cf, but 0 for the cleanup service of every smtpd listener"),
            "{out}"
        );

        // A resolver that does not answer: one finding, no record lookups.
        let config = milter.admin_config();
        let text = std::fs::read_to_string(&config).unwrap();
        let dead = text.replace(&milter.dns.nameserver(), "127.0.0.1:9");
        assert_ne!(dead, text);
        std::fs::write(&config, dead).unwrap();
        let postconf = format!("{} exec {} postconf", docker(), postfix.name());
        let (code, out, _) = admin(&config, &["doctor", "--postconf", &postconf]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("WRONG  dns resolver: 127.0.0.1:9 does not answer"), "{out}");
        assert!(!out.contains("dkim "), "{out}");
    }
}
