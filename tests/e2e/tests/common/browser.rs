//! A real browser for the web inbox tests: Debian's `chromium`, headless,
//! driven over WebDriver by Debian's `chromedriver` (package
//! `chromium-driver`) with fantoccini.
//!
//! [`run`] starts both, hands the test body a [`Client`], and when the
//! body panics saves a screenshot and the page's source under
//! `target/browser-failures/<test>/` before failing the test. Both
//! processes are killed when the test ends, however it ends. A missing
//! chromium or chromedriver fails the test: it never skips.

use super::{admin, admin_with_input, Milter, HOSTED};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::future::Future;
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use teaminbox_e2e::free_port;
use teaminbox_testkit::{dns::TestDns, TestDatabase};

/// The agent the browser tests sign in as, and their password.
pub const AGENT: &str = "jane@acme.example";
pub const PASSWORD: &str = "correct horse battery staple";

/// What to install when a program is missing.
const INSTALL_HINT: &str = "install Debian's chromium and chromium-driver \
     (apt-get install chromium chromium-driver; tests/run does it, see tests/lib/packages.sh)";

/// How long a page may take to show what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Runs `body` with a fresh headless chromium; on a panic in `body`, saves
/// what the browser showed (see the module's comment) and fails with the
/// panic. The failure directory is named after the running test.
pub fn run<F, Fut>(body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let test = test_name();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = Browser::start().await;
        let outcome = AssertUnwindSafe(body(browser.client.clone()))
            .catch_unwind()
            .await;
        match outcome {
            Ok(()) => {
                let _ = browser.client.clone().close().await;
            }
            Err(panic) => {
                save_failure(&browser.client, &test).await;
                drop(browser);
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// The running test's name (the test harness names its thread after it),
/// fit for a directory name.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed-test")
        .replace("::", "-")
}

/// chromedriver in a process group of its own, with the chromium it
/// started in the same group, and the session to it.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Self {
        let chromium = program("chromium");
        let chromedriver = program("chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = profile.path().join("chromedriver.log");
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: killing the group on drop takes chromium too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; {INSTALL_HINT}",
                    chromedriver.display()
                )
            });
        let mut browser = Self {
            client: connect(port, &chromium, profile.path(), &log).await,
            driver,
            _profile: profile,
        };
        if let Ok(Some(status)) = browser.driver.try_wait() {
            panic!("chromedriver exited ({status}):\n{}", read(&log));
        }
        browser
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.driver.id() as i32);
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

/// Waits (up to 20 s) until chromedriver listens on `port`, then opens a
/// session: headless chromium with a profile in `profile`, which resolves
/// no host name, reaches no address but loopback (every address the tests
/// open is 127.0.0.1) and fetches nothing in the background.
async fn connect(port: u16, chromium: &Path, profile: &Path, log: &Path) -> Client {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on 127.0.0.1:{port} within 20 s:\n{}",
            read(log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let options = serde_json::json!({
        "binary": chromium,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            format!("--user-data-dir={}", profile.join("profile").display()),
            "--window-size=1280,1024",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            // Any other address goes to a closed port (loopback bypasses
            // proxies), so nothing can leave the machine.
            "--proxy-server=http://127.0.0.1:9",
        ],
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "chromedriver did not start {}: {e}\n{}",
                chromium.display(),
                read(log)
            )
        })
}

/// `name` found on PATH; fails the test, saying what to install, if not.
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH: {INSTALL_HINT}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Saves a screenshot and the page's source (of the top page) under
/// `target/browser-failures/<test>/`, and says where.
async fn save_failure(client: &Client, test: &str) {
    let dir = failures_dir().join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _ = client.enter_parent_frame().await;
    match client.screenshot().await {
        Ok(png) => std::fs::write(dir.join("screenshot.png"), png).unwrap(),
        Err(e) => eprintln!("no screenshot: {e}"),
    }
    let url = client
        .current_url()
        .await
        .map_or_else(|e| e.to_string(), String::from);
    let source = client.source().await.unwrap_or_else(|e| e.to_string());
    let page = format!("<!-- {url} -->\n{source}");
    std::fs::write(dir.join("page.html"), page).unwrap();
    eprintln!(
        "--- the browser's screenshot and page source: {} ---",
        dir.display()
    );
}

/// `target/browser-failures`, beside the test binaries' `debug`.
fn failures_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.parent().unwrap().join("browser-failures")
}

/// The first element `css` finds, waiting for it up to [`PATIENCE`].
pub async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

/// The visible text of the first element `css` finds.
pub async fn text(client: &Client, css: &str) -> String {
    find(client, css).await.text().await.unwrap()
}

/// Opens `url` and waits until the page has `css`.
pub async fn open(client: &Client, url: &str, css: &str) {
    client.goto(url).await.unwrap();
    find(client, css).await;
}

/// Signs in through the sign-in form at `base` as `email`, and waits
/// for the inbox to show.
pub async fn sign_in(client: &Client, base: &str, email: &str, password: &str) {
    open(client, &format!("{base}/sign-in"), "form.sign-in").await;
    find(client, "input[name=email]")
        .await
        .send_keys(email)
        .await
        .unwrap();
    find(client, "input[name=password]")
        .await
        .send_keys(password)
        .await
        .unwrap();
    find(client, "form.sign-in button")
        .await
        .click()
        .await
        .unwrap();
    find(client, "ul.filters").await;
    assert_eq!(text(client, "nav .who").await, email);
}

/// The whole daemon (milter, one processor worker, web inbox on a port of
/// its own) with a channel for support@ the hosted domain and [`AGENT`]
/// with [`PASSWORD`] (set as an admin would, on standard input); the
/// inbox's address and the admin's configuration file.
pub fn web_inbox(db: TestDatabase) -> (Milter, String, PathBuf) {
    web_inbox_with_dns(db, TestDns::builder().start())
}

/// [`web_inbox`] whose daemon resolves through `dns`.
pub fn web_inbox_with_dns(db: TestDatabase, dns: TestDns) -> (Milter, String, PathBuf) {
    let mut milter = Milter::start_full(db, dns, 1);
    milter.channel(&format!("support@{HOSTED}"));
    let base = milter.serve_web(free_port());
    let config = milter.admin_config();
    let add = [
        "user",
        "add",
        AGENT,
        "--first-name",
        "Jane",
        "--last-name",
        "Doe",
    ];
    let (code, _, err) = admin(&config, &add);
    assert_eq!(code, 0, "{err}");
    let set_password = ["user", "set-password", AGENT];
    let (code, _, err) = admin_with_input(&config, &set_password, &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    (milter, base, config)
}
