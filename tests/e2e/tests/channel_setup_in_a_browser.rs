//! Settings → Channels in a real browser (headless chromium over
//! WebDriver), against the whole daemon: an admin connects a channel from
//! nothing, following only what the pages say: names it, writes the
//! signature with the editor's Line break and "Insert token" buttons and
//! sees it in the preview (which follows the form as it is typed),
//! turns on round robin for a team, sees the address with its Copy
//! button, sees the code of Gmail's confirmation (sent through Postfix)
//! appear without a reload, then
//! connects and finishes and sees the address locked. An agent has no
//! Settings.

mod common;

use common::browser::{self, find, open, sign_in, text, web_inbox_with_dns, AGENT, PASSWORD};
use teaminbox_e2e::send_message;
use teaminbox_store::model::{AssignMode, UserRole};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dkim::{dkim_sign, senders};
use teaminbox_testkit::dns::TestDns;

/// Gmail's forwarding confirmation from the corpus, without the headers
/// of its original delivery, to `address`, signed by Google's test key.
fn gmail_confirmation(address: &str) -> Vec<u8> {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../milter/tests/corpus/gmail_forwarding_confirmation.eml"
    ))
    .unwrap();
    let start = raw.find("MIME-Version:").unwrap();
    let raw = raw[start..].replace("support-k3x9q@inbox.example.com", address);
    dkim_sign(raw.as_bytes(), &senders().google)
}

both_databases! {
    fn an_admin_connects_a_channel_in_the_browser(db: TestDatabase) {
        // Google signs its forwarding confirmations.
        let google = &senders().google;
        let dns = TestDns::builder()
            .txt(&google.record_name(), &google.dns_txt)
            .txt("_dmarc.google.com", "v=DMARC1; p=none")
            .start();
        let (milter, base, _config) = web_inbox_with_dns(db, dns);
        let postfix = milter.postfix();
        let smtp = postfix.smtp_addr();
        let store = milter.store.clone();
        store.settings().add_team("Support").unwrap();
        store.settings().add_team_member("Support", AGENT).unwrap();
        let (check, roles) = (store.clone(), store.clone());
        browser::run(|client| async move {
            // An agent has no Settings.
            sign_in(&client, &base, AGENT, PASSWORD).await;
            assert!(client.find(fantoccini::Locator::Css("nav a[href='/settings/channels']")).await.is_err());
            open(&client, &format!("{base}/settings/channels"), "body").await;
            assert_eq!(text(&client, "body").await, "this page is for admins");

            roles.accounts().set_role(AGENT, UserRole::Admin).unwrap();
            open(&client, &format!("{base}/"), "ul.filters").await;
            find(&client, "nav a[href='/settings/channels']").await.click().await.unwrap();
            find(&client, "#connect-channel").await.click().await.unwrap();

            // Step 1: how replies look, with the token menu and the preview.
            find(&client, "input[name=name]").await.send_keys("Sales").await.unwrap();
            find(&client, "#company").await.send_keys("Acme Sales").await.unwrap();
            find(&client, "#signature").await.send_keys("<p>Best,").await.unwrap();
            find(&client, ".token-menu button[data-token='<br>']").await.click().await.unwrap();
            find(&client, ".token-menu button[data-token='{{sender.full_name}}']").await.click().await.unwrap();
            find(&client, "#signature").await.send_keys("</p>").await.unwrap();
            find(&client, "#preview-button").await.click().await.unwrap();
            find(&client, "#saved").await;
            assert_eq!(text(&client, ".from-line").await, "From: \"Jane Doe at Acme Sales\" <jane@inbox.example.com>");
            assert_eq!(text(&client, ".signature-preview").await, "--\nBest,\nJane Doe");
            // The preview follows what is typed, before it is saved.
            find(&client, "#company").await.send_keys(" EU").await.unwrap();
            client.wait().at_most(browser::PATIENCE).for_element(fantoccini::Locator::XPath(
                "//p[@class='from-line' and contains(., 'Acme Sales EU')]",
            )).await.unwrap();
            find(&client, "#company").await.clear().await.unwrap();
            find(&client, "#company").await.send_keys("Acme Sales").await.unwrap();

            // Step 2: round robin over the team.
            find(&client, "#next").await.click().await.unwrap();
            find(&client, "#routing-form").await;
            find(&client, "#auto-assign").await.click().await.unwrap();
            find(&client, "input[data-filter='#assign-teams']").await.send_keys("supp").await.unwrap();
            find(&client, "#assign-teams option[value='Support']").await.click().await.unwrap();
            find(&client, "#next").await.click().await.unwrap();

            // Step 3: the address, with its Copy button (JavaScript) and the
            // provider's steps.
            let address = text(&client, "#forwarding-address").await;
            assert!(address.starts_with("sales-") && address.ends_with("@inbox.example.com"), "{address}");
            assert!(find(&client, "button.copy").await.is_displayed().await.unwrap());
            let steps = text(&client, "#instructions").await;
            assert!(steps.contains(&format!("Click \"Add a forwarding address\", paste {address}")), "{steps}");
            assert!(text(&client, "#confirmation").await.contains("None received yet."));

            // Gmail's confirmation arrives through Postfix: its code shows
            // without a reload.
            let sent = send_message(smtp, "forwarding-noreply@google.com", &[&address], &gmail_confirmation(&address));
            assert_eq!(sent.outcome().code, 250, "{:?}", sent.all);
            assert_eq!(text(&client, "#confirmation-code").await, "123456789");

            find(&client, "#finish").await.click().await.unwrap();
            let locked = text(&client, "#locked").await;
            assert!(locked.starts_with("Locked since "), "{locked}");
            assert_eq!(text(&client, "#forwarding-address").await, address);

            open(&client, &format!("{base}/settings/channels"), "table.channels").await;
            let listed = text(&client, "table.channels").await;
            assert!(listed.contains(&format!("Sales connected {address} code 123456789")), "{listed}");
        });

        let channel = check.settings().channels().unwrap().into_iter().find(|c| c.name == "Sales").unwrap();
        assert_eq!(channel.status, "connected");
        assert_eq!(channel.assign_mode, AssignMode::UsersAndTeams);
        assert_eq!(channel.assign_teams, ["Support"]);
        assert_eq!(channel.signature_html.as_deref(), Some("<p>Best,<br>{{sender.full_name}}</p>"));
    }
}
