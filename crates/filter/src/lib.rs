//! The SMTP-time filter: the milter callbacks.
//!
//! At RCPT it recognises hosted forwarding addresses and the reply
//! addresses of users who have replied (with or without a subaddress
//! detail), and refuses unknown or disabled ones. For a transaction with a hosted recipient it collects the
//! message (bounded in memory, see `spool`) and, at end of message, commits
//! it to the inbound queue *before* answering: all recipients hosted means
//! Discard (the client sees 250, Postfix delivers nothing), mixed means the
//! hosted recipients are deleted and the rest delivered. Any failure is a
//! 4xx, never an accept. Before storing, the authentication checks and the
//! allow and deny lists decide (see `end_of_message`), and every refusal is
//! written to the rejection log.

pub mod auth;
mod end_of_message;
pub mod lists;
mod memory;
pub mod refusal;
pub mod refusal_log;
mod spam;
mod spool;

use crate::auth::{results, Authenticator};
use crate::refusal::Refusal;
use indymilter::{
    Actions, Callbacks, Context, MacroStage, Macros, NegotiateContext, ProtoOpts, SetErrorReply,
    SocketInfo, Status,
};
use spool::Spool;
use std::{
    ffi::CString,
    net::IpAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};
use teaminbox_store::address::{envelope_address, envelope_domain, printable};
use teaminbox_store::config::{parse_network, Config};
use teaminbox_store::{
    inbound::{HostedRecipient, Route},
    model::SmtpSession,
    rejections::NewRejection,
    Store,
};
use teaminbox_telemetry::{logging, metrics::Refused};
use tracing::{info, warn, Instrument};

/// What the filter needs to decide, shared by all connections.
#[derive(Debug)]
pub struct Filter {
    hosted_domains: Vec<String>,
    /// Postfix's `recipient_delimiter`: each character starts a subaddress
    /// detail; empty turns subaddresses off.
    recipient_delimiter: String,
    max_message_size: u64,
    memory_spool_limit: usize,
    store: Store,
    /// `None` when `security.enabled` is off.
    authenticator: Option<Authenticator>,
    authserv_id: String,
    trusted_networks: Vec<ipnet::IpNet>,
    lists: lists::FilterCache,
    /// Wakes the processor after a commit.
    stored: Arc<tokio::sync::Notify>,
    missing_macros: MissingMacros,
    refusal_log: refusal_log::RefusalLog,
    /// How many transactions are between DATA and their end, for a stop
    /// that lets them finish.
    in_flight: tokio::sync::watch::Sender<usize>,
    /// For messages being checked and stored (`[milter] max_memory`).
    memory: memory::MemoryBudget,
    /// `None` while `[spam] rspamd_url` is empty.
    spam: Option<crate::spam::SpamFilter>,
}

impl Filter {
    pub fn new(
        config: &Config,
        store: Store,
        authenticator: Option<Authenticator>,
        stored: Arc<tokio::sync::Notify>,
        refusal_log: refusal_log::RefusalLog,
    ) -> Self {
        Self {
            hosted_domains: config.milter.hosted_domains.clone(),
            recipient_delimiter: config.milter.recipient_delimiter.clone(),
            max_message_size: config.milter.max_message_size.as_u64(),
            memory_spool_limit: config.milter.memory_spool_limit.as_u64() as usize,
            store,
            authenticator,
            authserv_id: config.security.authserv_id.to_ascii_lowercase(),
            trusted_networks: config
                .security
                .trusted_networks
                .iter()
                .filter_map(|n| parse_network(n))
                .collect(),
            lists: lists::FilterCache::default(),
            stored,
            missing_macros: MissingMacros::default(),
            refusal_log,
            in_flight: tokio::sync::watch::Sender::new(0),
            memory: memory::MemoryBudget::new(config.milter.max_memory.as_u64()),
            spam: crate::spam::SpamFilter::from_config(&config.spam),
        }
    }

    /// Transactions past DATA and not yet ended.
    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    /// Waits until no transaction is in flight, at most `limit`; false
    /// when some still were.
    pub async fn drained(&self, limit: std::time::Duration) -> bool {
        let mut in_flight = self.in_flight.subscribe();
        let drained = tokio::time::timeout(limit, in_flight.wait_for(|n| *n == 0)).await;
        drained.is_ok()
    }

    /// Reads the allow and deny lists again at the next message (SIGHUP).
    /// Nothing else is held in memory: channels, users and sending domains
    /// are read from the database for each message.
    pub fn reload(&self) {
        self.lists.expire();
    }

    fn is_hosted(&self, address: &str) -> bool {
        envelope_domain(address).is_some_and(|d| self.hosted_domains.contains(&d))
    }

    /// An `Authentication-Results` header that claims to be ours but came
    /// from outside: a spoofing attempt, removed before anyone trusts it.
    /// The authserv-id is read as RFC 8601 writes it (behind comments,
    /// maybe quoted, any case, maybe followed by a version), as any reader
    /// downstream would read it.
    fn is_forged_auth_results(&self, name: &[u8], value: &[u8]) -> bool {
        name.eq_ignore_ascii_case(b"Authentication-Results")
            && results::parse(value)
                .is_some_and(|r| r.authserv_id.eq_ignore_ascii_case(&self.authserv_id))
    }

    /// Refuses the connection's current message: logs the refusal, ends
    /// the transaction and answers.
    async fn refuse_message(
        &self,
        data: &mut Option<Connection>,
        reply: &mut impl SetErrorReply,
        refusal: Refusal,
        header_from: Option<String>,
    ) -> Status {
        self.refuse_message_noted(data, reply, refusal, header_from, None)
            .await
    }

    /// As [`Self::refuse_message`], with `note` added to the reason in the
    /// rejection log only (what the sender must not see: rspamd's score
    /// and symbols).
    async fn refuse_message_noted(
        &self,
        data: &mut Option<Connection>,
        reply: &mut impl SetErrorReply,
        refusal: Refusal,
        header_from: Option<String>,
        note: Option<String>,
    ) -> Status {
        let conn = connection(data);
        let recipients = conn
            .transaction
            .as_ref()
            .map(Transaction::recipient_addresses)
            .unwrap_or_default();
        let mut record = conn.refusal_record(recipients, header_from, &refusal);
        record.logged_reason = note.map(|note| format!("{} ({note})", refusal.text));
        // In the message's log span (`logging::message_span`).
        info!(decision = "refused", code = refusal.code, reason = %refusal.text, "message refused");
        refusal.count(Refused::Message);
        conn.transaction = None;
        self.log_refusal(record).await;
        refusal.apply(reply)
    }

    /// Writes a refusal to the rejection log (through `refusal_log`, which
    /// leaves floods out). Logging must not change the answer: a failure
    /// there is only reported.
    async fn log_refusal(&self, entry: RefusalRecord) {
        self.refusal_log.record(entry).await;
    }
}

/// A macro the filter needs that the MTA did not send, although the filter
/// asks for it at negotiation (MTAs that ignore the request send their
/// configured lists instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MissingMacro {
    /// `i` by end of message: the message is stored and logged without the
    /// MTA's queue id.
    QueueId,
    /// No `{mail_addr}` with MAIL FROM, so the MTA's list for that stage is
    /// not its default and `{auth_authen}` cannot be relied on: an
    /// authenticated submission would be checked as outside mail.
    MailMacros,
}

impl MissingMacro {
    /// What is lost and which line of the MTA's configuration to add.
    fn advice(self) -> &'static str {
        match self {
            MissingMacro::QueueId => {
                "the MTA sends no queue id (macro i) with the message, so messages are stored \
                 and refusals logged without it; Sendmail: add i to confMILTER_MACROS_EOM in \
                 sendmail.mc; Postfix: add i to milter_end_of_data_macros"
            }
            MissingMacro::MailMacros => {
                "the MTA sends no {mail_addr} with MAIL FROM, so it may leave out {auth_authen} \
                 too and authenticated submissions would be checked like outside mail; \
                 Sendmail: add {auth_authen} and {mail_addr} to confMILTER_MACROS_ENVFROM in \
                 sendmail.mc; Postfix: add them to milter_mail_macros"
            }
        }
    }
}

/// Which missing macros were reported: each once per daemon run, so the log
/// says what to fix without repeating it for every message.
#[derive(Debug, Default)]
struct MissingMacros {
    queue_id: AtomicBool,
    mail_macros: AtomicBool,
}

impl MissingMacros {
    /// Logs `missing` unless it was logged before; returns whether it was
    /// logged now.
    fn report(&self, missing: MissingMacro) -> bool {
        let reported = match missing {
            MissingMacro::QueueId => &self.queue_id,
            MissingMacro::MailMacros => &self.mail_macros,
        };
        if reported.swap(true, Ordering::Relaxed) {
            return false;
        }
        warn!("missing milter macro: {}", missing.advice());
        true
    }
}

impl Filter {
    /// Says once per daemon run that the MTA does not send a macro we need.
    fn missing_macro(&self, missing: MissingMacro) {
        self.missing_macros.report(missing);
    }
}

/// Everything the rejection log keeps about one refusal.
#[derive(Debug)]
struct RefusalRecord {
    session: SmtpSession,
    header_from: Option<String>,
    recipients: Vec<String>,
    refusal: Refusal,
    /// The reason as logged, when it says more than the reply.
    logged_reason: Option<String>,
}

impl RefusalRecord {
    fn as_new(&self) -> NewRejection<'_> {
        NewRejection {
            session: self.session.clone(),
            header_from: self.header_from.as_deref(),
            recipients: &self.recipients,
            smtp_code: self.refusal.code,
            enhanced_code: self.refusal.enhanced,
            reason: self.logged_reason.as_deref().unwrap_or(&self.refusal.text),
        }
    }
}

impl Connection {
    /// The session as far as it went: the client, and the current
    /// message's envelope sender and queue id when there is one.
    fn smtp_session(&self) -> SmtpSession {
        self.session_with(self.transaction.as_ref())
    }

    /// The session of this connection's client with transaction `tx`
    /// (taken out of the connection at end of message).
    fn session_with(&self, tx: Option<&Transaction>) -> SmtpSession {
        SmtpSession {
            queue_id: tx.and_then(|t| t.queue_id.clone()),
            client_address: self.client_address.map(|ip| ip.to_string()),
            client_name: self.client_name.clone(),
            helo: self.helo.clone(),
            mail_from: tx.map(|t| t.mail_from.clone()).unwrap_or_default(),
        }
    }

    /// A refusal of this connection's current message, for the log.
    fn refusal_record(
        &self,
        recipients: Vec<String>,
        header_from: Option<String>,
        refusal: &Refusal,
    ) -> RefusalRecord {
        RefusalRecord {
            session: self.smtp_session(),
            header_from,
            recipients,
            refusal: refusal.clone(),
            logged_reason: None,
        }
    }
}

/// One MTA connection (one SMTP client session).
#[derive(Debug, Default)]
pub struct Connection {
    leading_space: bool,
    /// The stages the MTA does not wait for an answer to (see
    /// [`NOREPLY_STAGES`]).
    noreply: ProtoOpts,
    client_name: String,
    client_address: Option<IpAddr>,
    helo: String,
    transaction: Option<Transaction>,
}

/// One message: from MAIL to end of message or abort.
#[derive(Debug)]
struct Transaction {
    mail_from: String,
    /// The MTA's queue id, known from DATA on (Postfix macro `i`).
    queue_id: Option<String>,
    /// Authenticated submission (`{auth_authen}` set): no checks.
    authenticated: bool,
    /// Its SASL login, for rspamd.
    auth_user: Option<String>,
    declared_size: Option<u64>,
    /// Canonical hosted recipients, each once.
    hosted: Vec<HostedRecipient>,
    /// The RCPT arguments of hosted recipients as the MTA gave them, to
    /// delete them from delivery.
    hosted_args: Vec<CString>,
    has_other_recipients: bool,
    spool: Spool,
    /// How many `Authentication-Results` headers came before, and which of
    /// them (1-based, as the MTA counts) claimed our authserv-id.
    auth_results_seen: usize,
    forged_auth_results: Vec<usize>,
    /// A refusal met while the content arrived (too big, or the spool
    /// failed), given at the first stage that may answer.
    refused: Option<Refusal>,
    /// Counts the transaction in [`Filter::in_flight`] from DATA on, while
    /// it lives.
    in_flight: Option<InFlight>,
}

/// One transaction in [`Filter::in_flight`], from DATA until it is
/// dropped, however it ends (end of message, abort, a new MAIL, the
/// connection closing). Before DATA the client is still talking to the
/// MTA, which tempfails the message itself once the milter is gone.
#[derive(Debug)]
struct InFlight(tokio::sync::watch::Sender<usize>);

impl InFlight {
    fn new(count: &tokio::sync::watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

pub fn callbacks(filter: Arc<Filter>) -> Callbacks<Connection> {
    let f = |filter: &Arc<Filter>| filter.clone();
    let (rcpt, header, body, eom) = (f(&filter), f(&filter), f(&filter), f(&filter));
    let eoh = f(&filter);
    let mail = f(&filter);
    let data = f(&filter);
    Callbacks::new()
        .on_negotiate(|cx, actions, opts| Box::pin(negotiate(cx, actions, opts)))
        .on_connect(|cx, name, socket| Box::pin(connect(cx, name, socket)))
        .on_helo(|cx, helo| Box::pin(helo_cb(cx, helo)))
        .on_mail(move |cx, args| Box::pin(mail_cb(mail.clone(), cx, args)))
        .on_rcpt(move |cx, args| Box::pin(rcpt_cb(rcpt.clone(), cx, args)))
        .on_data(move |cx| Box::pin(data_cb(data.clone(), cx)))
        .on_header(move |cx, name, value| Box::pin(header_cb(header.clone(), cx, name, value)))
        .on_eoh(move |cx| Box::pin(eoh_cb(eoh.clone(), cx)))
        .on_body(move |cx, chunk| Box::pin(body_cb(body.clone(), cx, chunk)))
        .on_eom(move |cx| Box::pin(end_of_message::eom_cb(eom.clone(), cx)))
        .on_abort(|cx| Box::pin(abort_cb(cx)))
}

/// The stages whose answer is "continue", or can wait: a message that
/// grows past the size limit (or whose spool fails) is refused at its end,
/// having stopped keeping its bytes. Postfix and Sendmail hand a message to
/// their milters only once they have received all of it, so an earlier
/// refusal would not spare the client any sending. Each is a round trip the
/// MTA need not wait for: about a dozen per message, most of them headers.
const NOREPLY_STAGES: ProtoOpts = ProtoOpts::NOREPLY_CONNECT
    .union(ProtoOpts::NOREPLY_HELO)
    .union(ProtoOpts::NOREPLY_MAIL)
    .union(ProtoOpts::NOREPLY_HEADER)
    .union(ProtoOpts::NOREPLY_EOH)
    .union(ProtoOpts::NOREPLY_BODY);

async fn negotiate(
    cx: &mut NegotiateContext<Connection>,
    _actions: Actions,
    opts: ProtoOpts,
) -> Status {
    cx.requested_actions = Actions::DELETE_RCPT | Actions::ADD_HEADER | Actions::CHANGE_HEADER;
    // Only what the MTA offers: an older one answers every stage.
    let noreply = opts & NOREPLY_STAGES;
    cx.requested_opts |= noreply;
    let leading_space = opts.contains(ProtoOpts::LEADING_SPACE);
    if leading_space {
        // Header values exactly as sent, so the stored message is the
        // message that arrived.
        cx.requested_opts |= ProtoOpts::LEADING_SPACE;
    }
    // Per stage, what the filter reads. Sendmail (8.14 on) and Postfix send
    // these whatever their own lists say; an MTA that does not is named in
    // the log once (`MissingMacro`). `{mail_addr}` is not read: it tells
    // whether the MAIL list was honoured, as `{auth_authen}` is only sent
    // for authenticated clients.
    let macros = |names: &str| CString::new(names).expect("no NUL");
    cx.requested_macros
        .insert(MacroStage::Mail, macros("{auth_authen} {mail_addr}"));
    cx.requested_macros.insert(MacroStage::Data, macros("i"));
    cx.requested_macros.insert(MacroStage::Eom, macros("i"));
    cx.data = Some(Connection {
        leading_space,
        noreply,
        ..Default::default()
    });
    Status::Continue
}

/// The connection's state; set up at negotiation, but an MTA that skips
/// a stage must not make us panic.
fn connection(data: &mut Option<Connection>) -> &mut Connection {
    data.get_or_insert_with(Connection::default)
}

impl Connection {
    /// "Continue" for `stage`, in the form negotiated for it.
    fn carry_on(&self, stage: ProtoOpts) -> Status {
        if self.noreply.contains(stage) {
            Status::Noreply
        } else {
            Status::Continue
        }
    }
}

async fn connect(cx: &mut Context<Connection>, name: CString, socket: SocketInfo) -> Status {
    let conn = connection(&mut cx.data);
    conn.client_name = name.to_string_lossy().into_owned();
    conn.client_address = match socket {
        SocketInfo::Inet(addr) => Some(addr.ip()),
        _ => None,
    };
    conn.carry_on(ProtoOpts::NOREPLY_CONNECT)
}

async fn helo_cb(cx: &mut Context<Connection>, helo: CString) -> Status {
    let conn = connection(&mut cx.data);
    conn.helo = helo.to_string_lossy().into_owned();
    conn.carry_on(ProtoOpts::NOREPLY_HELO)
}

async fn mail_cb(filter: Arc<Filter>, cx: &mut Context<Connection>, args: Vec<CString>) -> Status {
    let mut args = args.iter().map(|a| a.to_string_lossy());
    let mail_from = args.next().map(|a| envelope_address(&a).to_owned());
    let declared_size = args.find_map(|a| {
        let (key, value) = a.split_once('=')?;
        key.eq_ignore_ascii_case("SIZE")
            .then(|| value.parse().ok())?
    });
    let auth_user = cx
        .macros
        .get(c"{auth_authen}")
        .map(|user| user.to_string_lossy().into_owned())
        .filter(|user| !user.is_empty());
    let authenticated = auth_user.is_some();
    if mail_from.as_deref().is_some_and(|m| !m.is_empty())
        && cx.macros.get(c"{mail_addr}").is_none()
    {
        filter.missing_macro(MissingMacro::MailMacros);
    }
    let conn = connection(&mut cx.data);
    conn.transaction = Some(Transaction {
        mail_from: mail_from.unwrap_or_default(),
        queue_id: None,
        authenticated,
        auth_user,
        declared_size,
        hosted: Vec::new(),
        hosted_args: Vec::new(),
        has_other_recipients: false,
        spool: Spool::new(filter.memory_spool_limit),
        auth_results_seen: 0,
        forged_auth_results: Vec::new(),
        refused: None,
        in_flight: None,
    });
    conn.carry_on(ProtoOpts::NOREPLY_MAIL)
}

async fn rcpt_cb(filter: Arc<Filter>, cx: &mut Context<Connection>, args: Vec<CString>) -> Status {
    let Some(arg) = args.into_iter().next() else {
        return Status::Continue;
    };
    let address = envelope_address(&arg.to_string_lossy()).to_owned();
    let Some(refusal) = check_recipient(&filter, connection(&mut cx.data), arg, &address).await
    else {
        return Status::Continue;
    };
    info!(recipient = %printable(&address), decision = "refused", code = refusal.code, reason = %refusal.text, "recipient refused");
    refusal.count(Refused::Recipient);
    let conn = connection(&mut cx.data);
    let record = conn.refusal_record(vec![address.to_ascii_lowercase()], None, &refusal);
    filter.log_refusal(record).await;
    refusal.apply(&mut cx.reply)
}

/// Looks a recipient up; `None` means it is taken (or not ours).
async fn check_recipient(
    filter: &Filter,
    conn: &mut Connection,
    arg: CString,
    address: &str,
) -> Option<Refusal> {
    let tx = conn.transaction.as_mut()?;
    if !filter.is_hosted(address) {
        tx.has_other_recipients = true;
        return None;
    }
    if tx
        .declared_size
        .is_some_and(|size| size > filter.max_message_size)
    {
        return Some(Refusal::too_big(filter.max_message_size));
    }
    let canonical = address.to_ascii_lowercase();
    let store = filter.store.clone();
    let lookup = canonical.clone();
    let delimiters = filter.recipient_delimiter.clone();
    let route = tokio::task::spawn_blocking(move || store.inbound().route(&lookup, &delimiters))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match route {
        Ok(Some(Route {
            owner,
            enabled: true,
            detail,
        })) => {
            if !tx.hosted.iter().any(|r| r.address == canonical) {
                tx.hosted.push(HostedRecipient {
                    address: canonical,
                    owner,
                    detail,
                });
            }
            tx.hosted_args.push(arg);
            None
        }
        Ok(Some(_)) => Some(Refusal::disabled_address(address)),
        Ok(None) => Some(Refusal::unknown_address(address)),
        Err(e) => {
            warn!(address = %canonical, "recipient lookup failed: {e}");
            Some(Refusal::lookup_failed(address))
        }
    }
}

/// Longer than any MTA's queue id (Postfix's long ids are about 20
/// characters, Sendmail's 14).
const MAX_QUEUE_ID_LEN: usize = 64;

/// The MTA's queue id (macro `i`), if it is one: a value that is too long
/// or not printable ASCII (a 1 MiB macro, control characters) is left out
/// rather than stored with every message and refusal and written to the log.
fn queue_id(macros: &Macros) -> Option<String> {
    let id = macros.get(c"i")?.to_bytes();
    if id.len() <= MAX_QUEUE_ID_LEN && id.iter().all(u8::is_ascii_graphic) {
        return Some(String::from_utf8_lossy(id).into_owned());
    }
    let start = String::from_utf8_lossy(&id[..id.len().min(MAX_QUEUE_ID_LEN)]);
    warn!(length = id.len(), start = %printable(&start), "ignoring a queue id (macro i) that is not one");
    None
}

async fn data_cb(filter: Arc<Filter>, cx: &mut Context<Connection>) -> Status {
    let queue_id = queue_id(&cx.macros);
    let conn = connection(&mut cx.data);
    match &mut conn.transaction {
        Some(tx) if !tx.hosted.is_empty() => {
            tx.queue_id = queue_id;
            tx.in_flight = Some(InFlight::new(&filter.in_flight));
            Status::Continue
        }
        // Nothing for us in this message: let the MTA carry on without
        // sending us its content.
        _ => {
            conn.transaction = None;
            Status::Accept
        }
    }
}

async fn header_cb(
    filter: Arc<Filter>,
    cx: &mut Context<Connection>,
    name: CString,
    value: CString,
) -> Status {
    let conn = connection(&mut cx.data);
    let leading_space = conn.leading_space;
    if let Some(tx) = conn.transaction.as_mut() {
        if name
            .as_bytes()
            .eq_ignore_ascii_case(b"Authentication-Results")
        {
            tx.auth_results_seen += 1;
            if filter.is_forged_auth_results(name.as_bytes(), value.as_bytes()) {
                tx.forged_auth_results.push(tx.auth_results_seen);
                return content_answer(&filter, cx, ProtoOpts::NOREPLY_HEADER).await;
            }
        }
    }
    let separator: &[u8] = if leading_space { b":" } else { b": " };
    let mut line = Vec::with_capacity(name.as_bytes().len() + value.as_bytes().len() + 4);
    line.extend_from_slice(name.as_bytes());
    line.extend_from_slice(separator);
    push_crlf_normalized(&mut line, value.as_bytes());
    line.extend_from_slice(b"\r\n");
    spool_write(&filter, connection(&mut cx.data), &line).await;
    content_answer(&filter, cx, ProtoOpts::NOREPLY_HEADER).await
}

async fn eoh_cb(filter: Arc<Filter>, cx: &mut Context<Connection>) -> Status {
    spool_write(&filter, connection(&mut cx.data), b"\r\n").await;
    content_answer(&filter, cx, ProtoOpts::NOREPLY_EOH).await
}

async fn body_cb(filter: Arc<Filter>, cx: &mut Context<Connection>, chunk: bytes::Bytes) -> Status {
    spool_write(&filter, connection(&mut cx.data), &chunk).await;
    content_answer(&filter, cx, ProtoOpts::NOREPLY_BODY).await
}

/// Appends to the message. Past the size limit, or if the spool fails, the
/// message is refused: what it had is dropped and the rest ignored.
async fn spool_write(filter: &Filter, conn: &mut Connection, bytes: &[u8]) {
    let Some(tx) = conn.transaction.as_mut().filter(|tx| tx.refused.is_none()) else {
        return;
    };
    let refusal = if tx.spool.len() + bytes.len() as u64 > filter.max_message_size {
        Refusal::too_big(filter.max_message_size)
    } else {
        match tx.spool.write(bytes).await {
            Ok(()) => return,
            Err(e) => {
                logging::message_span(tx.queue_id.as_deref(), None)
                    .in_scope(|| warn!("cannot spool message: {e}"));
                Refusal::store_failed()
            }
        }
    };
    tx.spool = Spool::new(0);
    tx.refused = Some(refusal);
}

/// The answer at a stage of the content: a refusal met so far is given at
/// the first stage the MTA waits for; otherwise carry on.
async fn content_answer(filter: &Filter, cx: &mut Context<Connection>, stage: ProtoOpts) -> Status {
    let conn = connection(&mut cx.data);
    if conn.noreply.contains(stage) {
        return Status::Noreply;
    }
    let Some(tx) = conn.transaction.as_mut() else {
        return Status::Continue;
    };
    match tx.refused.take() {
        Some(refusal) => {
            let span = logging::message_span(tx.queue_id.as_deref(), None);
            filter
                .refuse_message(&mut cx.data, &mut cx.reply, refusal, None)
                .instrument(span)
                .await
        }
        None => Status::Continue,
    }
}

/// Header values may come with bare LF between folded lines; the stored
/// message uses CRLF throughout, as on the wire.
fn push_crlf_normalized(out: &mut Vec<u8>, value: &[u8]) {
    let mut previous = 0u8;
    for &b in value {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
}

impl Transaction {
    fn recipient_addresses(&self) -> Vec<String> {
        self.hosted.iter().map(|r| r.address.clone()).collect()
    }
}

async fn abort_cb(cx: &mut Context<Connection>) -> Status {
    connection(&mut cx.data).transaction = None;
    Status::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_macro_is_reported_once() {
        let reported = MissingMacros::default();
        assert!(reported.report(MissingMacro::QueueId));
        assert!(!reported.report(MissingMacro::QueueId));
        assert!(reported.report(MissingMacro::MailMacros));
        assert!(!reported.report(MissingMacro::MailMacros));
    }

    #[test]
    fn the_advice_names_the_lines_to_add() {
        let advice = MissingMacro::QueueId.advice();
        assert!(advice.contains("confMILTER_MACROS_EOM"), "{advice}");
        assert!(advice.contains("milter_end_of_data_macros"), "{advice}");
        let advice = MissingMacro::MailMacros.advice();
        assert!(advice.contains("confMILTER_MACROS_ENVFROM"), "{advice}");
        assert!(advice.contains("milter_mail_macros"), "{advice}");
    }
}
