//! A hostile HTML message, delivered through Postfix and opened by an agent
//! in a real browser (headless chromium), runs nothing and loads nothing:
//! every script, event handler, `javascript:` link, remote image, CSS
//! background, form, frame, object, meta refresh and SVG script in it
//! points at a listener of the test's own, which records every request
//! and must record none; the scripts would also retitle the inbox's page
//! and set a cookie, and neither happens. Its text still shows in the
//! frame. The same page opened unsanitised makes the listener record
//! requests and the scripts run: the probes can fail.

mod common;

use common::browser::{self, find, sign_in, text, web_inbox, AGENT, PASSWORD};
use common::replies::customer_sends;
use common::HOSTED;
use fantoccini::{Client, Locator};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use teaminbox_testkit::both_databases;
use teaminbox_web::SESSION_COOKIE;

const SUBJECT: &str = "Invoice overdue";
/// Only in the message's HTML part, so seeing it proves the frame shows
/// that part.
const HTML_TEXT: &str = "Your invoice 4711 is overdue.";
/// What the message's scripts would write into its page.
const SCRIPT_MARK: &str = "SCRIPT RAN";
/// Where the unsanitised page is served, for the control.
const RAW_PAGE: &str = "/raw-page";

/// An HTTP listener on 127.0.0.1 that records the request line of every
/// request it gets, answers [`RAW_PAGE`] with the hostile page, and
/// everything else with an empty 200.
struct Recorder {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    fn start(page: impl FnOnce(u16) -> String) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let page = Arc::new(page(port));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_hits, thread_stop) = (hits.clone(), stop.clone());
        std::thread::spawn(move || {
            while !thread_stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (hits, page) = (thread_hits.clone(), page.clone());
                        std::thread::spawn(move || answer(stream, &hits, &page));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { port, hits, stop }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request's head, records its request line, answers it.
fn answer(mut stream: TcpStream, hits: &Mutex<Vec<String>>, page: &str) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let Some(line) = head.lines().next().filter(|l| !l.is_empty()) else {
        return; // a connection opened ahead of time, never used
    };
    hits.lock().unwrap().push(line.to_owned());
    let (kind, body) = if line.starts_with(&format!("GET {RAW_PAGE} ")) {
        ("text/html; charset=utf-8", page)
    } else {
        ("text/plain", "")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Script that, if it ran, would retitle the top page, set a cookie, call
/// the listener (with `tag`, to tell which way in worked) and mark its own
/// page. Single quotes only: it goes into attributes too.
fn payload(port: u16, tag: &str) -> String {
    format!(
        "try {{ top.document.title = 'pwned' }} catch (e) {{}} document.title = 'pwned'; \
         document.cookie = 'pwned=1; path=/'; \
         fetch('http://127.0.0.1:{port}/script/{tag}', {{ mode: 'no-cors' }}); \
         new Image().src = 'http://127.0.0.1:{port}/script-image/{tag}'; \
         document.documentElement.insertAdjacentText('beforeend', '{SCRIPT_MARK}');"
    )
}

/// The hostile page: every way in that a message's HTML could try, each
/// pointing at the listener on `port`.
fn hostile_html(port: u16) -> String {
    let at = |path: &str| format!("http://127.0.0.1:{port}/{path}");
    let run = |tag: &str| payload(port, tag);
    [
        "<html><head>".to_owned(),
        format!(
            "<meta http-equiv=\"refresh\" content=\"3;url={}\">",
            at("meta-refresh")
        ),
        format!(
            "<link rel=\"stylesheet\" href=\"{}\">",
            at("stylesheet.css")
        ),
        format!(
            "<style>body {{ background: url({}) }}</style>",
            at("style-element.png")
        ),
        format!("<script>{}</script>", run("inline-script")),
        "</head>".to_owned(),
        format!("<body onload=\"{}\">", run("body-onload")),
        format!("<p>{HTML_TEXT}</p>"),
        format!(
            "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\">",
            at("tracker.png")
        ),
        format!(
            "<img src=\"{}\" onerror=\"{}\">",
            at("broken.png"),
            run("img-onerror")
        ),
        format!(
            "<div style=\"background-image: url({})\" onmouseover=\"{}\">Styled</div>",
            at("style-attribute.png"),
            run("onmouseover")
        ),
        format!(
            "<a id=\"pay\" href=\"javascript:{}\">Pay now</a>",
            run("javascript-link")
        ),
        format!(
            "<form action=\"{}\" method=\"post\"><input name=\"card\" value=\"4111\">\
             <button>Send</button></form>",
            at("form")
        ),
        format!("<iframe src=\"{}\"></iframe>", at("iframe")),
        format!("<object data=\"{}\"></object>", at("object")),
        format!("<embed src=\"{}\">", at("embed")),
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>{}</script>\
             <image href=\"{}\" width=\"1\" height=\"1\"/></svg>",
            run("svg-script"),
            at("svg-image")
        ),
        "<p>Regards, Mallory</p></body></html>".to_owned(),
    ]
    .join("\r\n")
}

/// The message as Mallory sends it: a plain part and the hostile HTML.
fn hostile_message(port: u16) -> Vec<u8> {
    format!(
        "From: Mallory <mallory@example.org>\r\nTo: support@{HOSTED}\r\n\
         Subject: {SUBJECT}\r\nMessage-ID: <hostile@example.org>\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Please pay (plain text).\r\n\
         --b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{}\r\n--b1--\r\n",
        hostile_html(port)
    )
    .into_bytes()
}

/// Names of the browser's cookies for the page it shows.
async fn cookie_names(client: &Client) -> Vec<String> {
    let cookies = client.get_all_cookies().await.unwrap();
    cookies.iter().map(|c| c.name().to_owned()).collect()
}

/// Waits (up to 15 s) until the listener has recorded a request for every
/// one of `paths`; fails showing what it recorded if not.
async fn wait_for_hits(recorder: &Recorder, paths: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let hits = recorder.hits();
        let missing: Vec<&&str> = paths
            .iter()
            .filter(|p| !hits.iter().any(|h| h.contains(&format!(" {p} "))))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the listener never got {missing:?}; it got {hits:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both_databases! {
    fn a_hostile_message_runs_and_loads_nothing(db: TestDatabase) {
        let recorder = Recorder::start(hostile_html);
        let (milter, base, _config) = web_inbox(db);
        let postfix = milter.postfix();
        let message = hostile_message(recorder.port);
        let id = customer_sends(&milter, &postfix, "mallory@example.org", &message);
        let recorder = &recorder;
        browser::run(|client| async move {
            sign_in(&client, &base, AGENT, PASSWORD).await;
            client.goto(&format!("{base}/conversations/{id}")).await.unwrap();
            find(&client, "article.message iframe").await.enter_frame().await.unwrap();
            find(&client, "body p").await;
            let shown = text(&client, "html").await;
            assert!(shown.contains(HTML_TEXT), "{shown}");
            assert!(shown.contains("Regards, Mallory"), "{shown}");
            assert!(!shown.contains(SCRIPT_MARK), "{shown}");
            // What is left of the javascript: link does nothing when clicked.
            if let Ok(link) = client.find(Locator::Css("a")).await {
                link.click().await.unwrap();
            }
            // Past the meta refresh's 3 s: whatever would load has loaded.
            tokio::time::sleep(Duration::from_secs(4)).await;
            let shown = text(&client, "html").await;
            assert!(!shown.contains(SCRIPT_MARK), "{shown}");
            client.enter_parent_frame().await.unwrap();

            assert_eq!(recorder.hits(), Vec::<String>::new(), "the message loaded something");
            assert_eq!(client.title().await.unwrap(), format!("{SUBJECT} · teaminbox"));
            assert_eq!(client.current_url().await.unwrap().path(), format!("/conversations/{id}"));
            assert_eq!(cookie_names(&client).await, [SESSION_COOKIE]);

            // The control: the same page unsanitised, in the same browser,
            // runs its scripts and makes the listener record requests.
            client.goto(&recorder.url(RAW_PAGE)).await.unwrap();
            assert_eq!(client.title().await.unwrap(), "pwned");
            assert!(text(&client, "html").await.contains(SCRIPT_MARK));
            assert!(cookie_names(&client).await.contains(&"pwned".to_owned()));
            wait_for_hits(
                recorder,
                &["/tracker.png", "/script/inline-script", "/style-element.png", "/meta-refresh"],
            )
            .await;
        });
    }
}
