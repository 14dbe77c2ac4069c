//! A real, authoritative DNS server on 127.0.0.1 for tests, built on
//! hickory-server (the same hickory generation as mail-auth's resolver).
//!
//! ```no_run
//! use teaminbox_testkit::dns::TestDns;
//! let dns = TestDns::builder()
//!     .txt("example.org", "v=spf1 ip4:127.0.0.1 -all")
//!     .txt("_dmarc.example.org", "v=DMARC1; p=reject")
//!     .a("mail.example.org", "127.0.0.1".parse().unwrap())
//!     .mx("example.org", 10, "mail.example.org")
//!     .servfail("broken.example")
//!     .start();
//! // config: dns.nameservers = [dns.nameserver()]  ("127.0.0.1:PORT")
//! ```
//!
//! One zone, the root, holds every record, so the server is authoritative
//! for every name and answers like real DNS does:
//! - a name with records of the asked type: NOERROR with the answer (AA set);
//! - a name that exists (with other types, or only names below it, like
//!   `_domainkey.example.org`): NOERROR with no answer and the SOA;
//! - any other name (`_dmarc.example.org` TXT when no DMARC record was
//!   given): NXDOMAIN with the SOA;
//! - a name at or below a [`TestDnsBuilder::servfail`] name: SERVFAIL.
//!
//! The server runs its own tokio runtime on a background thread, so it
//! serves while a `#[tokio::test]` (of either flavour) or plain `#[test]`
//! blocks or awaits; it stops when the [`TestDns`] is dropped. UDP and TCP
//! are served on the same port.

use async_trait::async_trait;
use hickory_server::{
    net::runtime::{Time, TokioRuntimeProvider},
    proto::{
        op::{Header, HeaderCounts, Metadata, ResponseCode},
        rr::{
            rdata::{A, MX, NS, SOA, TXT},
            LowerName, Name, RData, Record,
        },
    },
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    store::in_memory::InMemoryZoneHandler,
    zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType},
    Server,
};
use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

/// Time to live of every record served.
const TTL: u32 = 60;
/// A TXT record's character-strings are at most 255 bytes each.
const TXT_STRING_MAX: usize = 255;

/// A running DNS server on 127.0.0.1 (UDP and TCP, one port). Stops on drop.
pub struct TestDns {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The records a [`TestDns`] will serve. Names are absolute whether or not
/// they end with a dot, and case-insensitive.
#[derive(Default)]
pub struct TestDnsBuilder {
    records: Vec<Record>,
    servfail: Vec<LowerName>,
}

impl TestDns {
    pub fn builder() -> TestDnsBuilder {
        TestDnsBuilder::default()
    }

    /// `127.0.0.1:PORT`; UDP and TCP are both served there.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `"127.0.0.1:PORT"`, for the config's `dns.nameservers`.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl TestDnsBuilder {
    /// A TXT record (one more if called again for the same name). Values
    /// longer than 255 bytes, like a DKIM RSA-2048 key, are split into
    /// several character-strings of at most 255 bytes, as zone files do;
    /// readers concatenate them back.
    pub fn txt(mut self, name: &str, value: &str) -> Self {
        let strings: Vec<&[u8]> = if value.is_empty() {
            vec![b""]
        } else {
            value.as_bytes().chunks(TXT_STRING_MAX).collect()
        };
        self.records.push(Record::from_rdata(
            fqdn(name),
            TTL,
            RData::TXT(TXT::from_bytes(strings)),
        ));
        self
    }

    pub fn a(mut self, name: &str, ip: Ipv4Addr) -> Self {
        self.records
            .push(Record::from_rdata(fqdn(name), TTL, RData::A(A(ip))));
        self
    }

    pub fn mx(mut self, name: &str, pref: u16, exchange: &str) -> Self {
        self.records.push(Record::from_rdata(
            fqdn(name),
            TTL,
            RData::MX(MX::new(pref, fqdn(exchange))),
        ));
        self
    }

    /// Every query for `name` or any name below it answers SERVFAIL,
    /// whatever records were given for them.
    pub fn servfail(mut self, name: &str) -> Self {
        self.servfail.push(LowerName::new(&fqdn(name)));
        self
    }

    /// Binds 127.0.0.1 on a free port for UDP and the same port for TCP and
    /// serves until the returned [`TestDns`] is dropped. Returns once both
    /// sockets are listening. Panics if the zone or the sockets cannot be set
    /// up (it is a test helper).
    pub fn start(self) -> TestDns {
        let handler = TestHandler {
            catalog: self.catalog(),
            servfail: self.servfail,
        };
        let (udp, tcp) = bind_udp_and_tcp();
        let addr = udp.local_addr().expect("local address of the DNS socket");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("test-dns-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime for the test DNS server");
                runtime.block_on(async move {
                    let mut server = Server::new(handler);
                    server.register_socket(
                        tokio::net::UdpSocket::from_std(udp).expect("register the UDP socket"),
                    );
                    server.register_listener(
                        tokio::net::TcpListener::from_std(tcp).expect("register the TCP listener"),
                        Duration::from_secs(5),
                        16,
                    );
                    let _ = ready_tx.send(());
                    let _ = stop_rx.await;
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), server.shutdown_gracefully())
                            .await;
                });
                // Dropping the runtime cancels whatever is left (open TCP
                // connections that did not finish in time).
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .expect("spawn the test DNS server thread");
        ready_rx
            .recv()
            .expect("the test DNS server thread died while starting");
        TestDns {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// One authoritative zone at the root holding every record.
    fn catalog(&self) -> Catalog {
        let root = Name::root();
        let server = fqdn("ns.test-dns.invalid");
        let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            root.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        );
        let serial = 1;
        let soa = SOA::new(
            server.clone(),
            fqdn("hostmaster.test-dns.invalid"),
            serial,
            3600,
            600,
            86400,
            TTL,
        );
        let fixed = [
            Record::from_rdata(root.clone(), TTL, RData::SOA(soa)),
            Record::from_rdata(root.clone(), TTL, RData::NS(NS(server))),
        ];
        for record in fixed.into_iter().chain(self.records.iter().cloned()) {
            let text = record.to_string();
            assert!(
                zone.upsert_mut(record, serial),
                "test DNS: record not accepted: {text}"
            );
        }
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&root), vec![Arc::new(zone)]);
        catalog
    }
}

/// Answers SERVFAIL for the broken names and hands everything else to the
/// catalog (which does the authoritative answers, NXDOMAIN and no-data).
struct TestHandler {
    catalog: Catalog,
    servfail: Vec<LowerName>,
}

#[async_trait]
impl RequestHandler for TestHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let broken = request.request_info().is_ok_and(|info| {
            self.servfail
                .iter()
                .any(|name| name.zone_of(info.query.name()))
        });
        if !broken {
            return self
                .catalog
                .handle_request::<R, T>(request, response_handle)
                .await;
        }
        let response = MessageResponseBuilder::from_message_request(request)
            .error_msg(&request.metadata, ResponseCode::ServFail);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

/// `name` as an absolute name; panics on names DNS cannot carry.
fn fqdn(name: &str) -> Name {
    let absolute = format!("{}.", name.trim_end_matches('.'));
    Name::from_ascii(&absolute).unwrap_or_else(|e| panic!("test DNS: bad name {name:?}: {e}"))
}

/// A UDP socket on 127.0.0.1 with a free port, and a TCP listener on the
/// same port (tried again with another port if TCP's is taken).
fn bind_udp_and_tcp() -> (std::net::UdpSocket, std::net::TcpListener) {
    let mut last_error = None;
    for _ in 0..50 {
        let udp =
            std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind UDP 127.0.0.1:0");
        let addr = udp.local_addr().expect("local address of the UDP socket");
        match std::net::TcpListener::bind(addr) {
            Ok(tcp) => {
                udp.set_nonblocking(true).expect("non-blocking UDP socket");
                tcp.set_nonblocking(true)
                    .expect("non-blocking TCP listener");
                return (udp, tcp);
            }
            Err(e) => last_error = Some(e),
        }
    }
    panic!("test DNS: no port free for both UDP and TCP on 127.0.0.1: {last_error:?}")
}

/// A name server on 127.0.0.1 that never answers: it reads every query
/// over UDP, and accepts TCP connections and holds them, and sends
/// nothing back. Stops on drop.
pub struct SilentDns {
    addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentDns {
    pub fn start() -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (udp, tcp) = bind_udp_and_tcp();
        let addr = udp.local_addr().expect("local address of the DNS socket");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let mut query = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                while udp.recv_from(&mut query).is_ok() {}
                while let Ok((connection, _)) = tcp.accept() {
                    held.push(connection);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `"127.0.0.1:PORT"`, for the config's `dns.nameservers`.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for SilentDns {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
