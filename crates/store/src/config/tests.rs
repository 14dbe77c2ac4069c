//! Loading, defaults and the one-line refusals of bad values.

use super::*;

#[test]
fn passwords_in_urls_are_masked() {
    for (url, shown) in [
        (
            "postgres://teaminbox:s3cr%40t@db:5432/teaminbox",
            "postgres://teaminbox:****@db:5432/teaminbox",
        ),
        ("postgresql://u:p@w@db/x", "postgresql://u:****@db/x"),
        (
            "postgres://teaminbox@db/teaminbox",
            "postgres://teaminbox@db/teaminbox",
        ),
        (
            "postgres://db/x?user=u&Password=p&sslmode=require",
            "postgres://db/x?user=u&Password=****&sslmode=require",
        ),
        (
            "sqlite:///var/lib/teaminbox/a:b@c.db",
            "sqlite:///var/lib/teaminbox/a:b@c.db",
        ),
    ] {
        assert_eq!(masked_url(url), shown, "{url}");
    }
}

#[test]
fn defaults_start_with_no_file() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(config.milter.max_message_size.as_u64(), 31_457_280);
    assert_eq!(config.milter.max_memory.as_u64(), 256 * 1024 * 1024);
    assert_eq!(config.milter.hosted_domains, ["inbox.localhost"]);
    assert_eq!(
        config.database_target(),
        DatabaseTarget::Sqlite("teaminbox.db".into())
    );
}

#[test]
fn check_timeout_is_a_duration_below_postfixs_content_timeout() {
    let timeout = |text: &str| {
        Config::from_toml(&format!("[security]\ncheck_timeout = \"{text}\"\n"))
            .map(|c| c.security.check_timeout.0)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        Config::from_toml("").unwrap().security.check_timeout.0,
        Duration::from_secs(20)
    );
    assert_eq!(timeout("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(timeout("1m 30s"), Ok(Duration::from_secs(90)));
    for refused in ["0s", "500ms", "5m", "soon"] {
        let error = timeout(refused).unwrap_err();
        assert!(error.contains("check_timeout"), "{refused}: {error}");
    }
}

#[test]
fn reads_the_documented_keys() {
    let config = Config::from_toml(
        r#"
        [milter]
        listen = "inet:127.0.0.1:7357"
        socket_mode = "0660"
        socket_group = "postfix"
        max_message_size = "30MiB"
        hosted_domains = ["Inbox.Example.com"]
        [database]
        url = "postgres://teaminbox@db/teaminbox"
        [dns]
        nameservers = ["127.0.0.1:5353"]
        [outbound]
        smtp_url = "smtp://127.0.0.1:25"
        default_from_domain = "inbox.example.com"
        [processor]
        workers = 4
        "#,
    )
    .unwrap();
    assert_eq!(
        config.milter.listen,
        ListenAddress::Inet("127.0.0.1:7357".into())
    );
    assert_eq!(config.milter.socket_mode, Some(SocketMode(0o660)));
    assert_eq!(config.milter.max_message_size.as_u64(), 31_457_280);
    assert_eq!(config.milter.hosted_domains, ["inbox.example.com"]);
    assert_eq!(config.processor.workers, 4);
}

#[test]
fn sizes_may_be_plain_bytes() {
    let config = Config::from_toml("[milter]\nmax_message_size = 1000").unwrap();
    assert_eq!(config.milter.max_message_size.as_u64(), 1000);
}

fn error_of(text: &str) -> String {
    Config::from_toml(text).unwrap_err().to_string()
}

#[test]
fn bad_values_name_their_key() {
    let e = error_of("[milter]\nlisten = \"tcp:1\"");
    assert!(
        e.contains("milter.listen") && e.contains("unix:PATH"),
        "{e}"
    );
    let e = error_of("[milter]\nsocket_mode = \"rw\"");
    assert!(e.contains("socket_mode") && e.contains("octal"), "{e}");
    let e = error_of("[database]\nurl = \"mysql://x\"");
    assert!(e.contains("database.url"), "{e}");
    let e = error_of("[milter]\nhosted_domains = [\"bad domain\"]");
    assert!(e.contains("milter.hosted_domains"), "{e}");
    let e = error_of("[dns]\nnameservers = [\"localhost\"]");
    assert!(e.contains("dns.nameservers"), "{e}");
    let e = error_of("[milter]\nmax_message_size = \"lots\"");
    assert!(e.contains("max_message_size"), "{e}");
    let e = error_of("[milter]\nmax_memory = \"10MiB\"");
    assert!(
        e.contains("milter.max_memory") && e.contains("max_message_size"),
        "{e}"
    );
}

#[test]
fn replies_come_from_a_hosted_domain() {
    // By default the first hosted domain, so answers come back in.
    let config =
        Config::from_toml("[milter]\nhosted_domains = [\"A.example\", \"b.example\"]").unwrap();
    assert_eq!(config.outbound.default_from_domain, "a.example");
    assert_eq!(config.milter.recipient_delimiter, "+");
    let e = error_of("[milter]\nhosted_domains = [\"a.example\"]\n[outbound]\ndefault_from_domain = \"b.example\"");
    assert!(e.starts_with("`outbound.default_from_domain`: b.example is not one of milter.hosted_domains (a.example)"), "{e}");
    assert!(!e.contains('\n'));
    // A host that does not send may say anything.
    let config = Config::from_toml(
        "[milter]\nhosted_domains = [\"a.example\"]\n[outbound]\ndefault_from_domain = \"b.example\"\nworkers = 0",
    )
    .unwrap();
    assert_eq!(config.outbound.default_from_domain, "b.example");
}

#[test]
fn the_recipient_delimiter_may_be_empty_but_not_a_letter() {
    let config = Config::from_toml("[milter]\nrecipient_delimiter = \"\"").unwrap();
    assert_eq!(config.milter.recipient_delimiter, "");
    let config = Config::from_toml("[milter]\nrecipient_delimiter = \"+-\"").unwrap();
    assert_eq!(config.milter.recipient_delimiter, "+-");
    for bad in ["a", "@", " ", "\\n"] {
        let e = error_of(&format!("[milter]\nrecipient_delimiter = \"{bad}\""));
        assert!(e.contains("milter.recipient_delimiter"), "{bad}: {e}");
    }
}

#[test]
fn retention_is_keep_or_a_duration() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(
        config.retention.rejections,
        Keep::For(std::time::Duration::from_secs(30 * 86400))
    );
    assert_eq!(config.retention.processed_raw_messages, Keep::Forever);
    let config =
        Config::from_toml("[retention]\nprocessed_raw_messages = \"90d\"\nrejections = \"keep\"")
            .unwrap();
    assert_eq!(
        config.retention.processed_raw_messages,
        Keep::For(std::time::Duration::from_secs(90 * 86400))
    );
    assert_eq!(config.retention.rejections, Keep::Forever);
    for bad in ["soon", "0s", "-1d", "101y", "18446744073709551615s"] {
        let e = error_of(&format!("[retention]\ndone_queue_rows = \"{bad}\""));
        assert!(e.contains("retention.done_queue_rows"), "{bad}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    // What --check-config prints is read back the same.
    let shown = Config::from_toml("[retention]\nrejections = \"36h\"")
        .unwrap()
        .to_toml();
    let again = Config::from_toml(&shown).unwrap();
    assert_eq!(
        again.retention.rejections,
        Keep::For(std::time::Duration::from_secs(36 * 3600))
    );
}

#[test]
fn unknown_keys_are_refused() {
    let e = error_of("[milter]\nlisten_on = \"unix:x\"");
    assert!(e.contains("listen_on"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn metrics_are_off_unless_an_address_is_given() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(config.metrics_listen(), None);
    let config = Config::from_toml("[metrics]\nlisten = \"127.0.0.1:9425\"").unwrap();
    assert_eq!(
        config.metrics_listen(),
        Some("127.0.0.1:9425".parse().unwrap())
    );
    let config = Config::from_toml("[metrics]\nlisten = \"[::1]:9425\"").unwrap();
    assert_eq!(config.metrics_listen(), Some("[::1]:9425".parse().unwrap()));
    for bad in [
        "9425",
        "localhost:9425",
        "127.0.0.1",
        "http://127.0.0.1:9425/",
    ] {
        let e = error_of(&format!("[metrics]\nlisten = \"{bad}\""));
        assert!(e.starts_with("`metrics.listen`: "), "{bad}: {e}");
        assert!(e.contains("127.0.0.1:9425"), "{e}");
    }
}

#[test]
fn the_log_format_is_text_or_json() {
    assert_eq!(Config::from_toml("").unwrap().log.format, LogFormat::Text);
    let config = Config::from_toml("[log]\nformat = \"json\"").unwrap();
    assert_eq!(config.log.format, LogFormat::Json);
    let e = error_of("[log]\nformat = \"xml\"");
    assert!(e.contains("xml") && e.contains("json"), "{e}");
}

#[test]
fn spam_is_off_until_rspamd_url_is_set_and_its_timeout_fits_the_checks() {
    let config = Config::from_toml("").unwrap();
    assert!(!config.spam.enabled());
    assert_eq!(config.spam.on_error, OnSpamError::Accept);
    let config = Config::from_toml(
        "[spam]\nrspamd_url = \"http://127.0.0.1:11334\"\ntimeout = \"3s\"\non_error = \"tempfail\"\npassword = \"s3cret\"\n",
    )
    .unwrap();
    assert!(config.spam.enabled());
    assert_eq!(config.spam.timeout.0, Duration::from_secs(3));
    assert_eq!(config.spam.on_error, OnSpamError::Tempfail);
    assert!(!config.to_toml().contains("s3cret"));
    let url = "rspamd_url = \"http://127.0.0.1:11334\"\n";
    for (text, key) in [
        (format!("[spam]\n{url}timeout = \"30s\"\n"), "spam.timeout"),
        (
            format!("[security]\ncheck_timeout = \"2s\"\n[spam]\n{url}timeout = \"3s\"\n"),
            "spam.timeout",
        ),
        (format!("[spam]\n{url}timeout = \"10ms\"\n"), "spam.timeout"),
        (
            "[spam]\nrspamd_url = \"https://rspamd\"\n".into(),
            "spam.rspamd_url",
        ),
    ] {
        let error = Config::from_toml(&text).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
    let error = Config::from_toml("[spam]\non_error = \"drop\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("on_error"), "{error}");
}

#[test]
fn the_web_inbox_listens_on_localhost_unless_told_otherwise() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(config.web_listen(), Some("127.0.0.1:8025".parse().unwrap()));
    assert_eq!(config.web.public_url(), "http://127.0.0.1:8025");
    assert!(!config.web.is_https());
    let config = Config::from_toml("[web]\nlisten = \"\"").unwrap();
    assert_eq!(config.web_listen(), None);
    let config = Config::from_toml("[web]\npublic_url = \"https://inbox.example.com/\"").unwrap();
    assert_eq!(config.web.public_url(), "https://inbox.example.com");
    assert!(config.web.is_https());
    let e = error_of("[web]\nlisten = \"localhost:8025\"");
    assert!(e.starts_with("`web.listen`: "), "{e}");
    for bad in [
        "inbox.example.com",
        "ftp://x",
        "https://x\\r\\nSet-Cookie: a",
    ] {
        let e = error_of(&format!("[web]\npublic_url = \"{bad}\""));
        assert!(e.starts_with("`web.public_url`: "), "{bad}: {e}");
    }
}
