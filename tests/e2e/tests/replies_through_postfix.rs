//! Through a real Postfix: an agent answers a conversation with
//! `teaminbox-admin conversation reply`; the daemon's outbound stage hands
//! it to Postfix, which relays it to the customer (smtp-sink). The reply
//! has the channel's From, threads, carries a DKIM signature that dkimpy
//! verifies against the test DNS, and the customer's answer to it threads
//! into the same conversation. Temporary refusals are retried, permanent
//! ones recorded.

mod common;

use common::{
    admin, message,
    replies::{customer_writes, outbound_state, setup, wait_until},
    HOSTED,
};
use std::time::Duration;
use teaminbox_e2e::send_message;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dkim::dkim_verify;

both_databases! {
    fn a_reply_arrives_signed_and_threaded(db: TestDatabase) {
        let (milter, postfix, config) = setup(db);
        let conversation = customer_writes(&milter, &postfix, "carol@example.org", "printer");
        let (code, out, err) = admin(&config, &["conversation", "reply", &conversation, "--as", "jane@acme.example", "--body", "We are on it."]);
        assert_eq!(code, 0, "{out}{err}");

        let captured = postfix.wait_captured_full(1, Duration::from_secs(30));
        let reply = &captured[0];
        assert_eq!(reply.recipients(), ["carol@example.org"]);
        let text = reply.text();
        assert!(text.contains("Subject: Re: printer"), "{text}");
        assert!(text.contains("In-Reply-To: <printer@example.org>"), "{text}");
        assert!(text.contains("References: <printer@example.org>"), "{text}");
        assert!(text.contains("We are on it."), "{text}");
        assert!(text.contains("@inbox.example.com>"), "the From address is in the hosted domain: {text}");
        assert!(text.contains("DKIM-Signature:"), "{text}");
        assert!(dkim_verify(&reply.message, &milter.dns), "dkimpy verifies the signature: {text}");
        wait_until("the reply is marked sent", || outbound_state(&milter).iter().any(|r| r.1.as_deref() == Some("sent")));

        // Carol answers the reply: it threads into the same conversation.
        let our_id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: <"))
            .and_then(|l| l.strip_suffix('>'))
            .expect("Message-ID")
            .to_owned();
        let answer = String::from_utf8(message("thanks"))
            .unwrap()
            .replace("alice@example.org", "carol@example.org")
            .replace("Subject: thanks", &format!("Subject: Re: Re: printer\r\nIn-Reply-To: <{our_id}>"));
        let t = send_message(postfix.smtp_addr(), "carol@example.org", &[&format!("support@{HOSTED}")], answer.as_bytes());
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        wait_until("the answer is filed", || milter.store.inbound().counts().unwrap().done == 2);
        let conversations = milter.db.rows("SELECT CAST(conversation_id AS TEXT) AS a, direction AS b, CAST(NULL AS TEXT) AS c FROM messages ORDER BY id");
        assert_eq!(conversations.len(), 3, "{conversations:?}");
        assert!(conversations.iter().all(|r| r.0.as_deref() == Some(conversation.as_str())), "{conversations:?}");
        assert_eq!(conversations[1].1.as_deref(), Some("out"));
    }
}

both_databases! {
    fn a_temporary_refusal_is_retried_and_a_permanent_one_recorded(db: TestDatabase) {
        let (milter, postfix, config) = setup(db);
        let later = customer_writes(&milter, &postfix, "later@example.net", "slow");
        let gone = customer_writes(&milter, &postfix, "gone@example.net", "bounce");
        for conversation in [&later, &gone] {
            let (code, out, err) = admin(&config, &["conversation", "reply", conversation, "--as", "jane@acme.example", "--body", "Answer."]);
            assert_eq!(code, 0, "{out}{err}");
        }
        wait_until("both deliveries were tried", || {
            let state = outbound_state(&milter);
            state.iter().any(|r| r.1.as_deref() == Some("failed")) && state.iter().any(|r| r.2.as_deref().is_some_and(|e| e.contains("450")))
        });
        let state = outbound_state(&milter);
        let gone_row = state.iter().find(|r| r.0.as_deref() == Some("gone@example.net")).unwrap();
        assert_eq!(gone_row.1.as_deref(), Some("failed"));
        assert!(gone_row.2.as_deref().unwrap().contains("550"), "{state:?}");
        // conversation show tells the agent.
        let (_, shown, _) = admin(&config, &["conversation", "show", &gone]);
        assert!(shown.contains("550"), "{shown}");

        // The recipient's server takes mail again: the retry goes through.
        let fixed = postfix.exec(&["sh", "-c", "postconf -e 'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination' && postfix reload"]);
        assert!(fixed.status.success(), "{}", String::from_utf8_lossy(&fixed.stderr));
        wait_until("the deferred reply is sent", || {
            outbound_state(&milter).iter().any(|r| r.0.as_deref() == Some("later@example.net") && r.1.as_deref() == Some("sent"))
        });
        let captured = postfix.wait_captured_full(1, Duration::from_secs(30));
        assert_eq!(captured[0].recipients(), ["later@example.net"]);
    }
}

both_databases! {
    fn a_long_threads_reply_keeps_the_first_and_the_last_ten_references(db: TestDatabase) {
        let (milter, postfix, config) = setup(db);
        let conversation = customer_writes(&milter, &postfix, "carol@example.org", "long");
        // 29 more messages in the thread, as if the processor had filed them.
        for n in 2..=30 {
            milter.db.execute(&format!(
                "INSERT INTO messages (conversation_id, channel_id, inbound_message_id, direction, dedupe_key, \
                 message_id_header, from_address, from_name, forwarded_by, subject, text_body, html_body, sent_at, \
                 automated, decisions, created_at) \
                 SELECT conversation_id, channel_id, NULL, direction, 'm{n}@example.org', 'm{n}@example.org', \
                 from_address, from_name, forwarded_by, subject, text_body, html_body, sent_at, automated, decisions, created_at \
                 FROM messages WHERE id = (SELECT MIN(id) FROM messages WHERE conversation_id = {conversation})"
            ));
        }
        let (code, out, err) = admin(&config, &["conversation", "reply", &conversation, "--as", "jane@acme.example", "--body", "Still on it."]);
        assert_eq!(code, 0, "{out}{err}");
        let captured = postfix.wait_captured_full(1, Duration::from_secs(30));
        let text = captured[0].text();
        let ids = |name: &str| -> Vec<String> {
            // The header, unfolded: its line and the indented ones after it.
            let mut lines = text.lines().skip_while(|l| !l.starts_with(name));
            let first = lines.next().unwrap_or_else(|| panic!("no {name}: {text}"))[name.len()..].to_owned();
            let rest = lines.take_while(|l| l.starts_with([' ', '\t']));
            std::iter::once(first)
                .chain(rest.map(str::to_owned))
                .flat_map(|l| l.split_whitespace().map(|id| id.trim_matches(['<', '>']).to_owned()).collect::<Vec<_>>())
                .collect()
        };
        let expected: Vec<String> = std::iter::once("long@example.org".to_owned())
            .chain((21..=30).map(|n| format!("m{n}@example.org")))
            .collect();
        assert_eq!(ids("References:"), expected, "{text}");
        assert_eq!(ids("In-Reply-To:"), ["m30@example.org"], "{text}");
        assert!(dkim_verify(&captured[0].message, &milter.dns), "still signed");
    }
}
