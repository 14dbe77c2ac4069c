//! The store side of the SMTP-time security checks, on SQLite and
//! PostgreSQL: the rejection log the milter writes and the admin reads, and
//! the allow and deny lists the admin edits and the milter reads (through
//! its cache).

use chrono::{Duration as TimeDelta, NaiveDateTime};
use serde_json::Value;
use std::{sync::Arc, time::Duration};
use teaminbox_filter::auth::Allowed;
use teaminbox_filter::lists::{
    AllowMatch, Authenticated, FilterCache, FilterSet, FILTER_CACHE_TTL,
};
use teaminbox_store::settings::list_entry::FilterValue;
use teaminbox_store::{
    model::{FilterKind, FilterList},
    rejections::{NewRejection, Rejection},
    settings::ListEntry,
    Store, StoreError,
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::TestDatabase;

fn rejection<'a>(recipients: &'a [String], reason: &'a str) -> NewRejection<'a> {
    NewRejection {
        session: teaminbox_store::model::SmtpSession {
            queue_id: Some("4AbCdEf".into()),
            client_address: Some("192.0.2.7".into()),
            client_name: "client.example.org".into(),
            helo: "mail.example.org".into(),
            mail_from: "alice@example.org".into(),
        },
        header_from: Some("alice@example.org"),
        recipients,
        smtp_code: "550",
        enhanced_code: "5.7.1",
        reason,
    }
}

/// Moves a rejection's time, as if it had been logged earlier.
fn set_rejected_at(db: &TestDatabase, id: i64, at: NaiveDateTime) {
    db.execute(&format!(
        "UPDATE rejections SET rejected_at = '{}' WHERE id = {id}",
        at.format("%Y-%m-%d %H:%M:%S")
    ));
}

fn add(store: &Store, list: FilterList, text: &str) -> ListEntry {
    let value = FilterValue::parse(text).unwrap();
    store
        .settings()
        .add_filter(list, value.kind(), &value.to_string())
        .unwrap()
}

both_databases! {
    fn a_rejection_is_recorded_with_everything_the_admin_needs(db: TestDatabase) {
        let store = db.store();
        // PostgreSQL keeps microseconds only.
        let before = teaminbox_store::now() - TimeDelta::milliseconds(1);
        let recipients = vec![
            "support@inbox.example.com".to_owned(),
            "sales \"EU\"@inbox.example.com".to_owned(),
        ];
        let id = store
            .rejections()
            .record(&rejection(&recipients, "SPF fail: 192.0.2.7 is not allowed to send for example.org"))
            .unwrap();
        let after = teaminbox_store::now();

        let listed = store.rejections().list(None, 10).unwrap();
        assert_eq!(listed.len(), 1);
        let r = &listed[0];
        assert_eq!(r.id, id);
        assert!(before <= r.rejected_at && r.rejected_at <= after, "{r:?}");
        assert_eq!(r.queue_id.as_deref(), Some("4AbCdEf"));
        assert_eq!(r.client_address.as_deref(), Some("192.0.2.7"));
        assert_eq!(r.client_name, "client.example.org");
        assert_eq!(r.helo, "mail.example.org");
        assert_eq!(r.mail_from, "alice@example.org");
        assert_eq!(r.header_from.as_deref(), Some("alice@example.org"));
        assert_eq!(r.recipients, recipients);
        assert_eq!(r.smtp_code, "550");
        assert_eq!(r.enhanced_code, "5.7.1");
        assert_eq!(r.reason, "SPF fail: 192.0.2.7 is not allowed to send for example.org");

        // The recipients column holds a JSON array.
        db.execute("UPDATE rejections SET reason = recipients");
        let stored = &store.rejections().list(None, 10).unwrap()[0].reason;
        assert_eq!(
            serde_json::from_str::<Value>(stored).unwrap(),
            serde_json::json!(["support@inbox.example.com", "sales \"EU\"@inbox.example.com"])
        );
    }
}

both_databases! {
    fn optional_fields_may_be_missing(db: TestDatabase) {
        let store = db.store();
        store
            .rejections()
            .record(&NewRejection { session: teaminbox_store::model::SmtpSession { queue_id: None, client_address: None, client_name: "unknown".into(), helo: "".into(), mail_from: "".into() }, header_from: None, recipients: &[], smtp_code: "550", enhanced_code: "5.7.1", reason: "the client address 192.0.2.7 is on the deny list" })
            .unwrap();
        let r = &store.rejections().list(None, 10).unwrap()[0];
        assert_eq!(r.queue_id, None);
        assert_eq!(r.client_address, None);
        assert_eq!(r.header_from, None);
        assert_eq!(r.mail_from, "");
        assert!(r.recipients.is_empty());
    }
}

both_databases! {
    fn rejections_are_listed_newest_first_with_limit_and_since(db: TestDatabase) {
        let store = db.store();
        let now = teaminbox_store::now();
        let recipients = vec!["support@inbox.example.com".to_owned()];
        let mut ids = Vec::new();
        for (reason, age) in [("three days", 72), ("two hours", 2), ("one day", 24)] {
            let id = store.rejections().record(&rejection(&recipients, reason)).unwrap();
            set_rejected_at(&db, id, now - TimeDelta::hours(age));
            ids.push(id);
        }
        let fresh = store.rejections().record(&rejection(&recipients, "just now")).unwrap();

        let reasons = |list: Vec<Rejection>| list.into_iter().map(|r| r.reason).collect::<Vec<_>>();
        assert_eq!(
            reasons(store.rejections().list(None, 100).unwrap()),
            ["just now", "two hours", "one day", "three days"]
        );
        assert_eq!(
            reasons(store.rejections().list(None, 2).unwrap()),
            ["just now", "two hours"]
        );
        assert_eq!(
            reasons(store.rejections().list(Some(now - TimeDelta::hours(3)), 100).unwrap()),
            ["just now", "two hours"]
        );
        assert_eq!(
            reasons(store.rejections().list(Some(now - TimeDelta::days(2)), 1).unwrap()),
            ["just now"]
        );
        assert!(store
            .rejections()
            .list(Some(now + TimeDelta::hours(1)), 100)
            .unwrap()
            .is_empty());
        // `since` is inclusive.
        set_rejected_at(&db, fresh, now - TimeDelta::hours(1));
        let at = store.rejections().list(None, 1).unwrap()[0].rejected_at;
        assert_eq!(
            reasons(store.rejections().list(Some(at), 100).unwrap()),
            ["just now"]
        );
        // Equal times: the later row first.
        for id in &ids {
            set_rejected_at(&db, *id, at);
        }
        let same: Vec<i64> = store.rejections().list(None, 100).unwrap().iter().map(|r| r.id).collect();
        let mut expected = ids.clone();
        expected.push(fresh);
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(same, expected);
    }
}

both_databases! {
    fn a_rejection_serializes_as_stable_snake_case_json(db: TestDatabase) {
        let store = db.store();
        let recipients = vec!["support@inbox.example.com".to_owned()];
        let id = store.rejections().record(&rejection(&recipients, "why")).unwrap();
        set_rejected_at(&db, id, "2026-11-27T10:02:11".parse().unwrap());
        let r = &store.rejections().list(None, 1).unwrap()[0];
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            serde_json::json!({
                "id": id,
                "rejected_at": "2026-11-27T10:02:11Z",
                "queue_id": "4AbCdEf",
                "client_address": "192.0.2.7",
                "client_name": "client.example.org",
                "helo": "mail.example.org",
                "mail_from": "alice@example.org",
                "header_from": "alice@example.org",
                "recipients": ["support@inbox.example.com"],
                "smtp_code": "550",
                "enhanced_code": "5.7.1",
                "reason": "why",
            })
        );
    }
}

both_databases! {
    fn a_hand_written_recipients_column_is_still_shown(db: TestDatabase) {
        let store = db.store();
        store.rejections().record(&rejection(&[], "why")).unwrap();
        db.execute("UPDATE rejections SET recipients = 'a@example.com'");
        assert_eq!(
            store.rejections().list(None, 1).unwrap()[0].recipients,
            ["a@example.com"]
        );
    }
}

both_databases! {
    fn filters_are_added_listed_and_removed(db: TestDatabase) {
        let store = db.store();
        let settings = store.settings();
        let before = teaminbox_store::now() - TimeDelta::milliseconds(1);
        let spammer = add(&store, FilterList::Deny, "Spammer@Example.COM");
        assert_eq!(spammer.list, FilterList::Deny);
        assert_eq!(spammer.kind, FilterKind::Address);
        assert_eq!(spammer.value, "spammer@example.com");
        assert!(spammer.created_at >= before);
        let partner = add(&store, FilterList::Allow, "partner.example");
        let net = add(&store, FilterList::Deny, "192.0.2.77/24");
        assert_eq!((net.kind, net.value.as_str()), (FilterKind::Ip, "192.0.2.0/24"));
        let host = add(&store, FilterList::Allow, "2001:db8::25");
        assert_eq!(host.value, "2001:db8::25/128");

        // Allow first, each list in the order added.
        assert_eq!(
            settings.filters(None).unwrap(),
            [partner.clone(), host.clone(), spammer.clone(), net.clone()]
        );
        assert_eq!(settings.filters(Some(FilterList::Deny)).unwrap(), [spammer.clone(), net.clone()]);
        assert_eq!(settings.filters(Some(FilterList::Allow)).unwrap(), [partner.clone(), host.clone()]);
        // The milter reads them all.
        assert_eq!(store.inbound().filters().unwrap().len(), 4);

        settings
            .remove_filter(FilterList::Deny, FilterKind::Ip, "192.0.2.0/24")
            .unwrap();
        assert_eq!(settings.filters(Some(FilterList::Deny)).unwrap(), std::slice::from_ref(&spammer));
        match settings.remove_filter(FilterList::Deny, FilterKind::Ip, "192.0.2.0/24") {
            Err(StoreError::NotFound(m)) => assert_eq!(m, "ip 192.0.2.0/24 is not on the deny list"),
            other => panic!("expected NotFound, got {other:?}"),
        }
        // On the other list is not on this one.
        match settings.remove_filter(FilterList::Deny, FilterKind::Domain, "partner.example") {
            Err(StoreError::NotFound(m)) => assert_eq!(m, "domain partner.example is not on the deny list"),
            other => panic!("expected NotFound, got {other:?}"),
        }
        assert_eq!(settings.filters(None).unwrap().len(), 3);
    }
}

both_databases! {
    fn a_duplicate_filter_is_a_conflict(db: TestDatabase) {
        let store = db.store();
        let settings = store.settings();
        add(&store, FilterList::Deny, "example.com");
        match settings.add_filter(FilterList::Deny, FilterKind::Domain, "example.com") {
            Err(StoreError::Conflict(m)) => assert_eq!(m, "domain example.com is already on the deny list"),
            other => panic!("expected Conflict, got {other:?}"),
        }
        // The same value on the other list is allowed (deny wins).
        add(&store, FilterList::Allow, "example.com");
        assert_eq!(settings.filters(None).unwrap().len(), 2);
    }
}

both_databases! {
    fn the_schema_refuses_unknown_lists_and_kinds(db: TestDatabase) {
        let _store = db.store();
        for sql in [
            "INSERT INTO filters (list, kind, value, created_at) VALUES ('maybe', 'domain', 'x.example', '2026-11-27 10:00:00')",
            "INSERT INTO filters (list, kind, value, created_at) VALUES ('deny', 'regex', 'x.*', '2026-11-27 10:00:00')",
        ] {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.execute(sql)));
            assert!(result.is_err(), "accepted: {sql}");
        }
    }
}

both_databases! {
    fn filters_json_has_a_stable_shape(db: TestDatabase) {
        let store = db.store();
        let f = add(&store, FilterList::Deny, "192.0.2.7");
        db.execute("UPDATE filters SET created_at = '2026-11-27 10:00:00'");
        let stored = &store.settings().filters(None).unwrap()[0];
        assert_eq!(
            serde_json::to_value(stored).unwrap(),
            serde_json::json!({
                "id": f.id,
                "list": "deny",
                "kind": "ip",
                "value": "192.0.2.7/32",
                "created_at": "2026-11-27T10:00:00Z",
            })
        );
    }
}

both_databases! {
    fn stored_filters_decide_for_the_milter(db: TestDatabase) {
        let store = db.store();
        add(&store, FilterList::Allow, "example.com");
        add(&store, FilterList::Deny, "mallory@example.com");
        add(&store, FilterList::Deny, "198.51.100.0/24");
        let lists = FilterSet::from(store.inbound().filters().unwrap());
        assert_eq!(lists.len(), 3);
        let spf_passed = |mail_from| Authenticated {
            client_ip: Some("192.0.2.7".parse().unwrap()),
            mail_from: Some(mail_from),
            ..Authenticated::default()
        };
        assert_eq!(
            lists.allow(&spf_passed("alice@mail.example.com")),
            Some(AllowMatch {
                matched: "domain example.com matches the envelope sender alice@mail.example.com".into(),
                allowed: Allowed::Identity("mail.example.com".into()),
            })
        );
        assert_eq!(
            lists.deny(None, "<Mallory@Example.com>", None).as_deref(),
            Some("address mallory@example.com matches the envelope sender Mallory@Example.com")
        );
        assert_eq!(
            lists.deny(Some("198.51.100.9".parse().unwrap()), "alice@example.com", None).as_deref(),
            Some("ip 198.51.100.0/24 matches the client address 198.51.100.9")
        );
        assert_eq!(lists.allow(&spf_passed("bob@example.org")), None);
        assert_eq!(lists.deny(Some("192.0.2.7".parse().unwrap()), "bob@example.org", None), None);
    }
}

both_databases! {
    async fn the_cache_reloads_after_its_ttl(db: TestDatabase) {
        let store = db.store();
        let ttl = Duration::from_millis(300);
        let cache = FilterCache::with_ttl(ttl);
        assert!(cache.fresh().is_none());
        let first = cache.get(&store).await.unwrap();
        assert!(first.is_empty());
        assert!(Arc::ptr_eq(&cache.fresh().unwrap(), &first));

        add(&store, FilterList::Deny, "example.com");
        // Within the TTL the lists are not read again.
        assert!(Arc::ptr_eq(&cache.get(&store).await.unwrap(), &first));

        tokio::time::sleep(ttl + Duration::from_millis(50)).await;
        assert!(cache.fresh().is_none());
        let second = cache.get(&store).await.unwrap();
        assert_eq!(second.len(), 1);
        assert!(second.deny(None, "a@example.com", None).is_some());
        assert!(Arc::ptr_eq(&cache.get(&store).await.unwrap(), &second));
        // The default: two seconds.
        assert_eq!(FILTER_CACHE_TTL, Duration::from_secs(2));
    }
}

both_databases! {
    async fn the_cache_keeps_the_previous_lists_when_a_reload_fails(db: TestDatabase) {
        let store = db.store();
        add(&store, FilterList::Deny, "example.com");
        let ttl = Duration::from_millis(100);
        let cache = FilterCache::with_ttl(ttl);
        let loaded = cache.get(&store).await.unwrap();
        assert_eq!(loaded.len(), 1);

        db.execute("DROP TABLE filters");
        tokio::time::sleep(ttl + Duration::from_millis(50)).await;
        let kept = cache.get(&store).await.unwrap();
        assert!(Arc::ptr_eq(&kept, &loaded));
        // ...and counts as fresh for another TTL, so a database that is down
        // is not asked once per message.
        assert!(cache.fresh().is_some());

        // Without previous lists, the error is the caller's.
        let cold = FilterCache::new();
        assert!(cold.get(&store).await.is_err());
        assert!(cold.fresh().is_none());
    }
}

both_databases! {
    async fn the_cache_is_shared_by_tasks(db: TestDatabase) {
        let store = db.store();
        add(&store, FilterList::Deny, "192.0.2.0/24");
        let cache = Arc::new(FilterCache::with_ttl(Duration::from_millis(20)));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, store) = (Arc::clone(&cache), store.clone());
                // Spawned: the future is Send, as the milter needs it.
                tokio::spawn(async move {
                    for _ in 0..50 {
                        let lists = cache.get(&store).await.unwrap();
                        assert!(lists
                            .deny(Some("192.0.2.1".parse().unwrap()), "", None)
                            .is_some());
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }
}
