//! The SMTP-time filter: the milter callbacks.
//!
//! At RCPT it recognises hosted forwarding addresses and refuses unknown or
//! disabled ones. For a transaction with a hosted recipient it collects the
//! message (bounded in memory, see `spool`) and, at end of message, commits
//! it to the inbound queue *before* answering: all recipients hosted means
//! Discard (the client sees 250, Postfix delivers nothing), mixed means the
//! hosted recipients are deleted and the rest delivered. Any failure is a
//! 4xx, never an accept.

mod refusal;
mod spool;

pub use refusal::Refusal;

use crate::{
    address::{envelope_address, envelope_domain},
    config::Config,
    store::{
        inbound::{HostedRecipient, NewInboundMessage, Route},
        Store,
    },
};
use indymilter::{
    Actions, Callbacks, Context, ContextActions, EomContext, MacroStage, NegotiateContext,
    ProtoOpts, SocketInfo, Status,
};
use spool::Spool;
use std::{ffi::CString, net::IpAddr, sync::Arc};
use tracing::{info, warn};

/// What the filter needs to decide, shared by all connections.
#[derive(Debug)]
pub struct Filter {
    hosted_domains: Vec<String>,
    max_message_size: u64,
    memory_spool_limit: usize,
    store: Store,
}

impl Filter {
    pub fn new(config: &Config, store: Store) -> Self {
        Self {
            hosted_domains: config.milter.hosted_domains.clone(),
            max_message_size: config.milter.max_message_size.as_u64(),
            memory_spool_limit: config.milter.memory_spool_limit.as_u64() as usize,
            store,
        }
    }

    fn is_hosted(&self, address: &str) -> bool {
        envelope_domain(address).is_some_and(|d| self.hosted_domains.contains(&d))
    }
}

/// One MTA connection (one SMTP client session).
#[derive(Debug, Default)]
pub struct Connection {
    leading_space: bool,
    client_name: String,
    client_address: Option<IpAddr>,
    helo: String,
    transaction: Option<Transaction>,
}

/// One message: from MAIL to end of message or abort.
#[derive(Debug)]
struct Transaction {
    mail_from: String,
    declared_size: Option<u64>,
    /// Canonical hosted recipients, each once.
    hosted: Vec<HostedRecipient>,
    /// The RCPT arguments of hosted recipients as the MTA gave them, to
    /// delete them from delivery.
    hosted_args: Vec<CString>,
    has_other_recipients: bool,
    spool: Spool,
}

pub fn callbacks(filter: Arc<Filter>) -> Callbacks<Connection> {
    let f = |filter: &Arc<Filter>| filter.clone();
    let (rcpt, header, body, eom) = (f(&filter), f(&filter), f(&filter), f(&filter));
    let mail = f(&filter);
    Callbacks::new()
        .on_negotiate(|cx, actions, opts| Box::pin(negotiate(cx, actions, opts)))
        .on_connect(|cx, name, socket| Box::pin(connect(cx, name, socket)))
        .on_helo(|cx, helo| Box::pin(helo_cb(cx, helo)))
        .on_mail(move |cx, args| Box::pin(mail_cb(mail.clone(), cx, args)))
        .on_rcpt(move |cx, args| Box::pin(rcpt_cb(rcpt.clone(), cx, args)))
        .on_data(|cx| Box::pin(data_cb(cx)))
        .on_header(move |cx, name, value| Box::pin(header_cb(header.clone(), cx, name, value)))
        .on_eoh(|cx| Box::pin(eoh_cb(cx)))
        .on_body(move |cx, chunk| Box::pin(body_cb(body.clone(), cx, chunk)))
        .on_eom(move |cx| Box::pin(eom_cb(eom.clone(), cx)))
        .on_abort(|cx| Box::pin(abort_cb(cx)))
}

async fn negotiate(
    cx: &mut NegotiateContext<Connection>,
    _actions: Actions,
    opts: ProtoOpts,
) -> Status {
    cx.requested_actions = Actions::DELETE_RCPT | Actions::ADD_HEADER;
    let leading_space = opts.contains(ProtoOpts::LEADING_SPACE);
    if leading_space {
        // Header values exactly as sent, so the stored message is the
        // message that arrived.
        cx.requested_opts |= ProtoOpts::LEADING_SPACE;
    }
    cx.requested_macros
        .insert(MacroStage::Eom, CString::new("i").expect("no NUL"));
    cx.data = Some(Connection {
        leading_space,
        ..Default::default()
    });
    Status::Continue
}

/// The connection's state; set up at negotiation, but an MTA that skips
/// a stage must not make us panic.
fn connection(data: &mut Option<Connection>) -> &mut Connection {
    data.get_or_insert_with(Connection::default)
}

async fn connect(cx: &mut Context<Connection>, name: CString, socket: SocketInfo) -> Status {
    let conn = connection(&mut cx.data);
    conn.client_name = name.to_string_lossy().into_owned();
    conn.client_address = match socket {
        SocketInfo::Inet(addr) => Some(addr.ip()),
        _ => None,
    };
    Status::Continue
}

async fn helo_cb(cx: &mut Context<Connection>, helo: CString) -> Status {
    connection(&mut cx.data).helo = helo.to_string_lossy().into_owned();
    Status::Continue
}

async fn mail_cb(filter: Arc<Filter>, cx: &mut Context<Connection>, args: Vec<CString>) -> Status {
    let mut args = args.iter().map(|a| a.to_string_lossy());
    let mail_from = args.next().map(|a| envelope_address(&a).to_owned());
    let declared_size = args.find_map(|a| {
        let (key, value) = a.split_once('=')?;
        key.eq_ignore_ascii_case("SIZE")
            .then(|| value.parse().ok())?
    });
    connection(&mut cx.data).transaction = Some(Transaction {
        mail_from: mail_from.unwrap_or_default(),
        declared_size,
        hosted: Vec::new(),
        hosted_args: Vec::new(),
        has_other_recipients: false,
        spool: Spool::new(filter.memory_spool_limit),
    });
    Status::Continue
}

async fn rcpt_cb(filter: Arc<Filter>, cx: &mut Context<Connection>, args: Vec<CString>) -> Status {
    let Some(arg) = args.into_iter().next() else {
        return Status::Continue;
    };
    let Some(tx) = connection(&mut cx.data).transaction.as_mut() else {
        return Status::Continue;
    };
    let address = envelope_address(&arg.to_string_lossy()).to_owned();
    if !filter.is_hosted(&address) {
        tx.has_other_recipients = true;
        return Status::Continue;
    }
    if tx
        .declared_size
        .is_some_and(|size| size > filter.max_message_size)
    {
        return Refusal::too_big(filter.max_message_size).apply(&mut cx.reply);
    }
    let canonical = address.to_ascii_lowercase();
    let store = filter.store.clone();
    let lookup = canonical.clone();
    let route = tokio::task::spawn_blocking(move || store.inbound().route(&lookup)).await;
    let refusal = match route {
        Ok(Ok(Some(Route {
            channel_id,
            enabled: true,
        }))) => {
            if !tx.hosted.iter().any(|r| r.address == canonical) {
                tx.hosted.push(HostedRecipient {
                    address: canonical,
                    channel_id,
                });
            }
            tx.hosted_args.push(arg);
            return Status::Continue;
        }
        Ok(Ok(Some(_))) => Refusal::disabled_address(&address),
        Ok(Ok(None)) => Refusal::unknown_address(&address),
        Ok(Err(e)) => {
            warn!(address = %canonical, "recipient lookup failed: {e}");
            Refusal::lookup_failed(&address)
        }
        Err(e) => {
            warn!(address = %canonical, "recipient lookup failed: {e}");
            Refusal::lookup_failed(&address)
        }
    };
    refusal.apply(&mut cx.reply)
}

async fn data_cb(cx: &mut Context<Connection>) -> Status {
    let conn = connection(&mut cx.data);
    match &conn.transaction {
        Some(tx) if !tx.hosted.is_empty() => Status::Continue,
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
    let separator: &[u8] = if conn.leading_space { b":" } else { b": " };
    let mut line = Vec::with_capacity(name.as_bytes().len() + value.as_bytes().len() + 4);
    line.extend_from_slice(name.as_bytes());
    line.extend_from_slice(separator);
    push_crlf_normalized(&mut line, value.as_bytes());
    line.extend_from_slice(b"\r\n");
    spool_write(&filter, cx, &line).await
}

async fn eoh_cb(cx: &mut Context<Connection>) -> Status {
    let Some(tx) = connection(&mut cx.data).transaction.as_mut() else {
        return Status::Continue;
    };
    match tx.spool.write(b"\r\n").await {
        Ok(()) => Status::Continue,
        Err(e) => {
            warn!("cannot spool message: {e}");
            Refusal::store_failed().apply(&mut cx.reply)
        }
    }
}

async fn body_cb(filter: Arc<Filter>, cx: &mut Context<Connection>, chunk: bytes::Bytes) -> Status {
    spool_write(&filter, cx, &chunk).await
}

/// Appends to the message, refusing it as soon as it grows past the limit.
async fn spool_write(filter: &Filter, cx: &mut Context<Connection>, bytes: &[u8]) -> Status {
    let Some(tx) = connection(&mut cx.data).transaction.as_mut() else {
        return Status::Continue;
    };
    if tx.spool.len() + bytes.len() as u64 > filter.max_message_size {
        connection(&mut cx.data).transaction = None;
        return Refusal::too_big(filter.max_message_size).apply(&mut cx.reply);
    }
    match tx.spool.write(bytes).await {
        Ok(()) => Status::Continue,
        Err(e) => {
            warn!("cannot spool message: {e}");
            connection(&mut cx.data).transaction = None;
            Refusal::store_failed().apply(&mut cx.reply)
        }
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

async fn eom_cb(filter: Arc<Filter>, cx: &mut EomContext<Connection>) -> Status {
    let conn = connection(&mut cx.data);
    let Some(tx) = conn.transaction.take() else {
        return Status::Continue;
    };
    let queue_id = cx
        .macros
        .get(c"i")
        .map(|id| id.to_string_lossy().into_owned());
    let client_address = conn.client_address.map(|ip| ip.to_string());
    let (client_name, helo) = (conn.client_name.clone(), conn.helo.clone());
    let Transaction {
        mail_from,
        hosted,
        hosted_args,
        has_other_recipients,
        spool,
        ..
    } = tx;
    let stored = async {
        let raw = spool.into_bytes().await.map_err(|e| e.to_string())?;
        let store = filter.store.clone();
        let queue_id = queue_id.clone();
        let hosted = hosted.clone();
        tokio::task::spawn_blocking(move || {
            store
                .inbound()
                .enqueue(&NewInboundMessage {
                    queue_id: queue_id.as_deref(),
                    received_at: crate::now(),
                    client_address: client_address.as_deref(),
                    client_name: &client_name,
                    helo: &helo,
                    mail_from: &mail_from,
                    recipients: &hosted,
                    raw_message: &raw,
                })
                .map(|id| (id, raw.len()))
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    };
    let queue_id = queue_id.as_deref().unwrap_or("-");
    let (id, size) = match stored.await {
        Ok(stored) => stored,
        Err(e) => {
            warn!(queue_id, decision = "tempfail", "cannot store message: {e}");
            return Refusal::store_failed().apply(&mut cx.reply);
        }
    };
    let recipients: Vec<&str> = hosted.iter().map(|r| r.address.as_str()).collect();
    if !has_other_recipients {
        info!(
            queue_id,
            id,
            size,
            ?recipients,
            decision = "stored",
            "message stored"
        );
        return Status::Discard;
    }
    for arg in &hosted_args {
        if let Err(e) = cx.actions.delete_recipient(arg.as_c_str()).await {
            // The message is committed; the MTA will tempfail on the broken
            // connection and the client's retry is a duplicate the processor
            // recognises by Message-ID.
            warn!(
                queue_id,
                id, "cannot remove hosted recipient from delivery: {e}"
            );
            return Status::Tempfail;
        }
    }
    info!(
        queue_id,
        id,
        size,
        ?recipients,
        decision = "stored, others delivered",
        "message stored"
    );
    Status::Accept
}

async fn abort_cb(cx: &mut Context<Connection>) -> Status {
    connection(&mut cx.data).transaction = None;
    Status::Continue
}
