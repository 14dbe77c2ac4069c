//! End of message: decide, then commit, then answer.
//!
//! 1. The deny list, then the authentication checks, then the allow list
//!    with what the checks authenticated decide; then rspamd, when
//!    configured. A refusal is logged and answered; a refused message is
//!    never stored.
//! 2. The message, with our `Authentication-Results` header on top, is
//!    committed to the inbound queue with the verdicts.
//! 3. Only then the MTA hears: Discard (all recipients hosted) or, for mixed
//!    recipients, the hosted ones are deleted, our header is added for the
//!    others, and the message accepted.

use super::{
    connection, lists::Authenticated, memory, queue_id, Connection, Filter, MissingMacro,
    Transaction,
};
use crate::auth::{Decision, Envelope, Verdict};
use crate::refusal::Refusal;
use crate::spam::SpamJudgement;
use indymilter::{ContextActions, EomContext, Status};
use mail_auth::AuthenticatedMessage;
use std::{net::IpAddr, sync::Arc, time::Instant};
use teaminbox_spam::rspamd;
use teaminbox_store::inbound::{NewInboundMessage, SpamCheck, Verdicts};
use teaminbox_store::model::SmtpSession;
use teaminbox_telemetry::{
    logging,
    metrics::{metrics, Refused},
};
use tracing::{info, warn, Instrument};

pub(super) async fn eom_cb(filter: Arc<Filter>, cx: &mut EomContext<Connection>) -> Status {
    let from_macro = queue_id(&cx.macros);
    let Some(tx) = connection(&mut cx.data).transaction.as_mut() else {
        return Status::Continue;
    };
    if from_macro.is_some() {
        tx.queue_id = from_macro;
    }
    let span = logging::message_span(tx.queue_id.as_deref(), None);
    finish(filter, cx).instrument(span).await
}

/// End of message within the message's log span.
async fn finish(filter: Arc<Filter>, cx: &mut EomContext<Connection>) -> Status {
    let conn = connection(&mut cx.data);
    let leading_space = conn.leading_space;
    let Some(mut tx) = conn.transaction.take() else {
        return Status::Continue;
    };
    // Sent but not a queue id is not the missing macro to configure.
    if tx.queue_id.is_none() && cx.macros.get(c"i").is_none() {
        filter.missing_macro(MissingMacro::QueueId);
    }
    if let Some(refusal) = tx.refused.take() {
        // Met while the content arrived, at a stage that could not answer.
        connection(&mut cx.data).transaction = Some(tx);
        return filter
            .refuse_message(&mut cx.data, &mut cx.reply, refusal, None)
            .await;
    }
    let session = Session {
        client_ip: conn.client_address,
        smtp: conn.session_with(Some(&tx)),
    };
    let queue_id = tx.queue_id.clone().unwrap_or_else(|| "-".into());
    if let Some(refusal) = denied_by_envelope(&filter, &session, &tx).await {
        // Refused without reading the message back into memory.
        connection(&mut cx.data).transaction = Some(tx);
        return filter
            .refuse_message(&mut cx.data, &mut cx.reply, refusal, None)
            .await;
    }
    let size = tx.spool.len();
    // Held until the answer: the message is in memory until it is stored.
    let Some(_memory) = reserve_memory(&filter, size).await else {
        warn!(
            queue_id,
            size,
            decision = "tempfail",
            "no memory for the message within {:?} ([milter] max_memory is taken by other sessions' messages)",
            memory::WAIT
        );
        return Refusal::memory_exhausted().apply(&mut cx.reply);
    };
    let raw = match std::mem::replace(&mut tx.spool, super::spool::Spool::new(0))
        .into_bytes(HEADER_ROOM)
        .await
    {
        Ok(raw) => raw,
        Err(e) => {
            warn!(decision = "tempfail", "cannot read spooled message: {e}");
            return tempfail(&mut cx.reply);
        }
    };

    let (judgement, session, tx, raw) = match judge_aside_if_large(&filter, session, tx, raw).await
    {
        Ok(judged) => judged,
        Err(e) => {
            warn!(decision = "tempfail", "checks stopped: {e}");
            return tempfail(&mut cx.reply);
        }
    };
    let verdict = match judgement {
        Judgement::Refuse {
            refusal,
            header_from,
        } => {
            // Put the transaction back just long enough to describe it.
            connection(&mut cx.data).transaction = Some(tx);
            return filter
                .refuse_message(&mut cx.data, &mut cx.reply, refusal, header_from)
                .await;
        }
        Judgement::Accept(verdict) => verdict,
    };
    let (spam_check, raw) = match spam_check(&filter, &session, &tx, raw).await {
        (SpamJudgement::Accept(check), raw) => (check, raw),
        (SpamJudgement::Refuse { refusal, note }, _) => {
            let header_from = verdict.and_then(|v| v.header_from);
            connection(&mut cx.data).transaction = Some(tx);
            return filter
                .refuse_message_noted(
                    &mut cx.data,
                    &mut cx.reply,
                    refusal,
                    header_from,
                    Some(note),
                )
                .await;
        }
    };

    let stored = store(&filter, &session, &tx, verdict.as_ref(), spam_check, raw).await;
    let (id, size) = match stored {
        Ok(stored) => stored,
        Err(e) => {
            warn!(decision = "tempfail", "cannot store message: {e}");
            return tempfail(&mut cx.reply);
        }
    };
    filter.stored.notify_one();
    metrics().message_stored();
    tracing::Span::current().record("inbound_id", id);
    let recipients = tx.recipient_addresses();
    let verdicts = verdict.as_ref().map(|v| {
        format!(
            "spf={} dkim={} arc={} dmarc={} spam={}",
            v.spf, v.dkim, v.arc, v.dmarc, v.spam
        )
    });
    let (decision, status) = if !tx.has_other_recipients {
        ("stored", Status::Discard)
    } else if let Err(e) = hand_back_to_mta(cx, &tx, verdict.as_ref(), leading_space).await {
        // The message is committed; the MTA tempfails on the broken milter
        // connection, and the client's retry is a duplicate the processor
        // recognises by Message-ID.
        warn!("cannot change the message for its other recipients: {e}");
        ("stored, but the others tempfailed", Status::Tempfail)
    } else {
        ("stored, others delivered", Status::Accept)
    };
    info!(size, ?recipients, verdicts, decision, "message stored");
    status
}

/// Room kept with the message for our `Authentication-Results`
/// header, put on top of the message in place.
const HEADER_ROOM: usize = 4096;

/// Reserves the memory a message of `size` bytes takes until it is stored:
/// one copy per copy the database write makes (see
/// [`teaminbox_store::Store::copies_while_writing`]).
async fn reserve_memory(filter: &Filter, size: u64) -> Option<memory::Reservation> {
    let bytes = (size + HEADER_ROOM as u64) * filter.store.copies_while_writing();
    filter.memory.reserve(bytes, memory::WAIT).await
}

/// The deny list on what the envelope claims (client address and sender),
/// before the message is read back: what it matches is refused without
/// the message ever being held in memory. (The From header is checked
/// with the message, in [`judge`].)
async fn denied_by_envelope(
    filter: &Filter,
    session: &Session,
    tx: &Transaction,
) -> Option<Refusal> {
    if is_trusted(filter, session, tx) {
        return None;
    }
    // A failure to read the lists is answered in `judge`.
    let lists = filter.lists.get(&filter.store).await.ok()?;
    let matched = lists.deny(session.client_ip, &tx.mail_from, None)?;
    Some(Refusal::denied(&matched))
}

/// Authenticated submission or a trusted network: no checks, no lists.
fn is_trusted(filter: &Filter, session: &Session, tx: &Transaction) -> bool {
    tx.authenticated
        || session
            .client_ip
            .is_some_and(|ip| filter.trusted_networks.iter().any(|n| n.contains(&ip)))
}

/// The session as the checks see it (the client's address as an IP) and
/// as it is stored.
struct Session {
    client_ip: Option<IpAddr>,
    smtp: SmtpSession,
}

enum Judgement {
    /// Accepted; the verdict is `None` when the checks did not run.
    Accept(Option<Verdict>),
    Refuse {
        refusal: Refusal,
        header_from: Option<String>,
    },
}

/// From this size on, a message is checked on a blocking thread.
const CHECK_ASIDE_FROM: usize = 1024 * 1024;

/// [`judge`], for a large message on a blocking thread (driven there
/// through the runtime's handle, as the DNS lookups need it): hashing tens
/// of megabytes for DKIM and ARC would otherwise hold up every other
/// session, which share the daemon's one async thread (see
/// `teaminbox_milter::runtime`). Hands the message and its transaction back.
async fn judge_aside_if_large(
    filter: &Arc<Filter>,
    session: Session,
    tx: Transaction,
    raw: Vec<u8>,
) -> Result<(Judgement, Session, Transaction, Vec<u8>), tokio::task::JoinError> {
    if raw.len() < CHECK_ASIDE_FROM {
        let judgement = judge(filter, &session, &tx, &raw).await;
        return Ok((judgement, session, tx, raw));
    }
    let filter = Arc::clone(filter);
    let handle = tokio::runtime::Handle::current();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let judgement = handle.block_on(judge(&filter, &session, &tx, &raw).instrument(span));
        (judgement, session, tx, raw)
    })
    .await
}

async fn judge(filter: &Filter, session: &Session, tx: &Transaction, raw: &[u8]) -> Judgement {
    if is_trusted(filter, session, tx) {
        return Judgement::Accept(None);
    }
    let message = AuthenticatedMessage::parse(raw);
    let header_from = message
        .as_ref()
        .filter(|m| m.from.len() == 1)
        .map(|m| m.from[0].to_ascii_lowercase());
    let lists = match filter.lists.get(&filter.store).await {
        Ok(lists) => lists,
        Err(e) => {
            warn!("cannot read the allow and deny lists: {e}");
            return Judgement::Refuse {
                refusal: Refusal::store_failed(),
                header_from,
            };
        }
    };
    if let Some(matched) = lists.deny(session.client_ip, &tx.mail_from, header_from.as_deref()) {
        return Judgement::Refuse {
            refusal: Refusal::denied(&matched),
            header_from,
        };
    }
    let Some(authenticator) = &filter.authenticator else {
        return Judgement::Accept(None);
    };
    // A message with no header at all does not parse: checked as one
    // without a From (and so refused), never waved through.
    let message = message.unwrap_or_default();
    // With no client address from the MTA the checks still run (see
    // `Authenticator::check` for what SPF says then).
    let envelope = Envelope {
        client_ip: session.client_ip,
        helo: &session.smtp.helo,
        mail_from: &tx.mail_from,
    };
    let Some(checked) = authenticator.check_in_time(&envelope, &message).await else {
        warn!("the checks did not finish in time; answered per on_dns_error");
        return judgement(authenticator.out_of_time(header_from));
    };
    let allowed = lists.allow(&Authenticated {
        client_ip: session.client_ip,
        mail_from: checked.spf_passed_sender(&tx.mail_from),
        header_from: checked.dmarc_passed_author(),
        dkim_domains: checked.findings.passing_dkim_domains().collect(),
    });
    if let Some(allow) = &allowed {
        info!(allow = %allow.matched, "allow list matched");
    }
    judgement(authenticator.decide(checked, allowed.as_ref().map(|a| &a.allowed)))
}

/// What a verdict of the checks makes of the message.
fn judgement(verdict: Verdict) -> Judgement {
    match &verdict.decision {
        Decision::Refuse(refusal) => Judgement::Refuse {
            refusal: refusal.clone(),
            header_from: verdict.header_from.clone(),
        },
        Decision::Accept => Judgement::Accept(Some(verdict)),
    }
}

/// rspamd's judgement of the message, when it is configured.
async fn spam_check(
    filter: &Filter,
    session: &Session,
    tx: &Transaction,
    raw: Vec<u8>,
) -> (SpamJudgement, Vec<u8>) {
    let Some(spam) = &filter.spam else {
        return (SpamJudgement::Accept(None), raw);
    };
    let envelope = rspamd::Envelope {
        session: session.smtp.clone(),
        recipients: tx.recipient_addresses(),
        user: tx.auth_user.clone(),
    };
    spam.judge(envelope, raw).await
}

/// Commits the message with our `Authentication-Results` header on top.
async fn store(
    filter: &Filter,
    session: &Session,
    tx: &Transaction,
    verdict: Option<&Verdict>,
    spam_check: Option<SpamCheck>,
    raw: Vec<u8>,
) -> Result<(i64, usize), String> {
    let mut raw = raw;
    if let Some(v) = verdict {
        // In place, within the buffer's spare room (`HEADER_ROOM`): a
        // 30 MiB message is not copied a second time.
        let header = format!("Authentication-Results: {}\r\n", v.authentication_results);
        raw.splice(0..0, header.into_bytes());
    }
    let store = filter.store.clone();
    let size = raw.len();
    let message = NewInboundMessage {
        session: session.smtp.clone(),
        received_at: teaminbox_store::now(),
        recipients: tx.hosted.clone(),
        raw_message: raw,
        verdicts: verdict.map(|v| Verdicts {
            spf: v.spf.clone(),
            dkim: v.dkim.clone(),
            arc: v.arc.clone(),
            dmarc: v.dmarc.clone(),
            spam: v.spam,
            header_from: v.header_from.clone(),
            arc_trusted: v.arc_trusted,
        }),
        spam_check,
    };
    let started = Instant::now();
    let stored = tokio::task::spawn_blocking(move || {
        store
            .inbound()
            .enqueue(message)
            .map(|id| (id, size))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?;
    metrics().commit_took(started.elapsed());
    stored
}

/// `451 4.3.0`: the message could not be checked or stored.
fn tempfail(reply: &mut impl indymilter::SetErrorReply) -> Status {
    let refusal = Refusal::store_failed();
    refusal.count(Refused::Message);
    refusal.apply(reply)
}

/// For the other recipients: drop forged `Authentication-Results`, add ours,
/// and take the hosted recipients out of delivery.
async fn hand_back_to_mta(
    cx: &EomContext<Connection>,
    tx: &Transaction,
    verdict: Option<&Verdict>,
    leading_space: bool,
) -> Result<(), indymilter::ActionError> {
    // Highest index first, so earlier indexes stay valid.
    for index in tx.forged_auth_results.iter().rev() {
        cx.actions
            .change_header("Authentication-Results", *index as i32, None::<&str>)
            .await?;
    }
    if let Some(v) = verdict {
        // Milter header values fold with a bare LF; with the leading-space
        // option the MTA takes the value exactly, space after the colon too.
        let space = if leading_space { " " } else { "" };
        let value = format!("{space}{}", v.authentication_results.replace("\r\n", "\n"));
        cx.actions
            .insert_header(0, "Authentication-Results", value)
            .await?;
    }
    for arg in &tx.hosted_args {
        cx.actions.delete_recipient(arg.as_c_str()).await?;
    }
    Ok(())
}
