//! The processor: turns stored messages into the inbox.
//!
//! Workers (tokio tasks inside the daemon) claim rows of the inbound queue,
//! read each message (`reading`: author, forwarder, automated, verification,
//! attachments) and file it into each of its channels in one transaction:
//! contact, thread, conversation, ticket, assignee, with the reasons
//! recorded on the message. What depends on the channel is decided while
//! filing: whether a list rewrite names the author (only from one of the
//! channel's sources, authenticated), and whether a thread match may be
//! joined (only by a participant). A failure (a panic too) puts the row
//! back; after [`MAX_ATTEMPTS`] claims it is parked as `failed` with its
//! error.

pub mod reading;
pub mod routing;

use reading::{Author, Context, ListTrust, Reading};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};
use teaminbox_store::claims;
use teaminbox_store::{
    inbound::{HostedRecipient, Owner},
    inbox::{
        ContactRef, InboxTx, NewAttachment, NewConversation, NewMessage, Thread, VerifiedSource,
    },
    model::{AssignMode, ConversationKind, ConversationStatus, SpamAction},
    queue::{Batch, ClaimedMessage},
    Store, StoreError, StoreResult,
};
use teaminbox_telemetry::{logging, metrics::metrics};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

pub use teaminbox_store::queue::MAX_ATTEMPTS;
/// How much a worker claims and files at once when fresh messages wait:
/// one claim and one filing transaction for all of them. Small enough
/// that a batch's raw messages stay a few MiB in memory.
pub const BATCH: Batch = Batch {
    messages: 16,
    bytes: 4 << 20,
};
/// How long a worker waits after a batch that was not full before it
/// claims again. Mail is filed this much later under a steady flow; the
/// first message after a quiet spell is claimed at once.
const LINGER: Duration = Duration::from_millis(20);
/// How often an idle worker looks at the queue without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Shared by the workers; `wake` is notified by the milter after a commit.
pub struct Processor {
    store: Store,
    worker_prefix: String,
    loop_marker: String,
    pub wake: Arc<Notify>,
    /// Workers whose claim could not be given back after an error (the
    /// database was away), with the error: each gives it back before it
    /// claims anything new.
    unreleased: Mutex<HashMap<String, String>>,
    /// Tests only: processing a message that contains these bytes panics
    /// inside its filing transaction, as a bug would.
    #[cfg(feature = "testing")]
    pub panic_on: Option<Vec<u8>>,
}

impl Processor {
    pub fn new(store: Store, loop_marker: String) -> Self {
        Self {
            store,
            worker_prefix: claims::claimant(),
            loop_marker,
            wake: Arc::new(Notify::new()),
            unreleased: Mutex::default(),
            #[cfg(feature = "testing")]
            panic_on: None,
        }
    }

    /// Runs `workers` workers until `stop` turns true; a message in hand is
    /// finished first.
    pub async fn run(self: Arc<Self>, workers: usize, stop: watch::Receiver<bool>) {
        let tasks: Vec<_> = (0..workers)
            .map(|n| tokio::spawn(self.clone().work(n, stop.clone())))
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    async fn work(self: Arc<Self>, n: usize, stop: watch::Receiver<bool>) {
        let worker = format!("{}:{n}", self.worker_prefix);
        let label = format!("processor worker {worker}");
        let this = Arc::clone(&self);
        let step = Arc::new(move || {
            let taken = this.process_batch(&worker);
            if taken > 0 && taken < BATCH.messages {
                // Mail is coming in: let some gather for the next batch
                // rather than pay a claim and a commit for each message.
                std::thread::sleep(LINGER);
            }
            taken > 0
        });
        teaminbox_store::worker::keep_working(&label, step, &self.wake, IDLE_POLL, stop).await;
    }

    /// Claims and processes one message, or a batch of fresh ones, renewing
    /// the claim meanwhile; false when the queue was empty or the database
    /// could not be reached.
    pub fn process_next(&self, worker: &str) -> bool {
        self.process_batch(worker) > 0
    }

    /// [`Processor::process_next`], saying how many messages it took.
    pub fn process_batch(&self, worker: &str) -> usize {
        let unreleased = self.unreleased_claims().remove(worker);
        if let Some(error) = unreleased {
            if !self.release(worker, None, error) {
                return 0;
            }
        }
        let claimed =
            match self
                .store
                .queue()
                .claim_batch(worker, claims::LEASE, MAX_ATTEMPTS, BATCH)
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    warn!("cannot claim from the inbound queue: {e}");
                    // The claim may have been made and its answer lost, or the
                    // message not read: whatever the worker holds goes back.
                    self.release(worker, None, format!("interrupted claim: {e}"));
                    return 0;
                }
            };
        if claimed.is_empty() {
            return 0;
        }
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        let (store, holder) = (self.store.clone(), worker.to_owned());
        let renew = move || match store.queue().renew_all(&ids, &holder) {
            // Finished just now, or taken over after a lapse: either way
            // the filing transaction and the dedupe key keep it once.
            Ok(held) if held < ids.len() => {
                debug!("{holder} holds {held} of its {} claims", ids.len())
            }
            Ok(_) => {}
            Err(e) => warn!("cannot renew the claims of {holder}: {e}"),
        };
        claims::renewing(renew, || {
            if claimed.len() == 1 || !self.file_together(&claimed) {
                for message in &claimed {
                    self.file_alone(worker, message);
                }
            }
        });
        claimed.len()
    }

    /// Files a batch in one transaction; false, with nothing filed, when
    /// any message of it failed (a panic too): then each is filed alone,
    /// so that one bad message does not hold the others back.
    fn file_together(&self, claimed: &[ClaimedMessage]) -> bool {
        let started = Instant::now();
        let outcome = teaminbox_store::worker::catch_panic(|| self.process(claimed))
            .and_then(|done| done.map_err(|e| e.to_string()));
        match outcome {
            Ok(summaries) => {
                for (message, summary) in claimed.iter().zip(summaries) {
                    let span = logging::message_span(message.queue_id.as_deref(), Some(message.id));
                    span.in_scope(|| info!("{summary}"));
                    metrics().processed(started, true);
                }
                true
            }
            Err(e) => {
                debug!(
                    "a batch of {} messages failed, filing each alone: {e}",
                    claimed.len()
                );
                false
            }
        }
    }

    /// Files one message in its own transaction; after an error it goes
    /// back to the queue (or is parked after its attempts).
    fn file_alone(&self, worker: &str, message: &ClaimedMessage) {
        let span = logging::message_span(message.queue_id.as_deref(), Some(message.id));
        let _in_span = span.entered();
        // A panic is an error like another: the message goes back, and is
        // parked after its attempts, rather than retried forever.
        let started = Instant::now();
        let processed =
            teaminbox_store::worker::catch_panic(|| self.process(std::slice::from_ref(message)))
                .and_then(|done| done.map_err(|e| e.to_string()));
        metrics().processed(started, processed.is_ok());
        match processed {
            Ok(summary) => info!("{}", summary.join("")),
            Err(e) => {
                warn!(attempt = message.attempts, "cannot process message: {e}");
                self.release(worker, Some(message.id), e);
            }
        }
    }

    /// Gives back `message` after `error`, or with `None` everything
    /// `worker` holds; else keeps the error so that everything the worker
    /// holds is given back before it claims again. True when given back.
    fn release(&self, worker: &str, message: Option<i64>, error: String) -> bool {
        let queue = self.store.queue();
        let released = match message {
            Some(id) => queue.release_claim(id, worker, &error, MAX_ATTEMPTS),
            None => queue.release_failed(worker, &error, MAX_ATTEMPTS),
        };
        match released {
            Ok(()) => true,
            Err(e) => {
                warn!("cannot put the message of {worker} back in the queue, will try again: {e}");
                self.unreleased_claims().insert(worker.to_owned(), error);
                false
            }
        }
    }

    fn unreleased_claims(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.unreleased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the messages, then files them in one transaction; what
    /// happened to each.
    fn process(&self, claimed: &[ClaimedMessage]) -> StoreResult<Vec<String>> {
        let team_addresses = self.store.inbox().team_addresses()?;
        let recipients: Vec<Vec<String>> = claimed
            .iter()
            .map(|c| c.recipients.iter().map(|r| r.address.clone()).collect())
            .collect();
        let contexts: Vec<Context<'_>> = claimed
            .iter()
            .zip(&recipients)
            .map(|(c, recipients)| Context {
                mail_from: &c.mail_from,
                recipients,
                // The milter's verdicts: DMARC passed, or a trusted
                // forwarder's ARC seal vouched for the message.
                authenticated: c.dmarc.as_deref() == Some("pass") || c.arc_trusted,
                team_addresses: &team_addresses,
                loop_marker: &self.loop_marker,
            })
            .collect();
        // Read before the transaction: the write lock is not held for it.
        let readings: Vec<Reading> = claimed
            .iter()
            .zip(&contexts)
            .map(|(c, context)| reading::read(&c.raw_message, context))
            .collect();
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        self.store.inbox().apply_all(&ids, |inbox| {
            let mut summaries = Vec::with_capacity(claimed.len());
            for ((claimed, reading), context) in claimed.iter().zip(&readings).zip(&contexts) {
                #[cfg(feature = "testing")]
                self.panic_if_told(claimed);
                let mut filed = Vec::new();
                for filing in filings(inbox, claimed, reading)? {
                    filed.push(file_into_channel(
                        inbox, claimed, reading, context, &filing,
                    )?);
                }
                summaries.push(filed.join("; "));
            }
            Ok(summaries)
        })
    }
}

#[cfg(feature = "testing")]
impl Processor {
    /// See [`Processor::panic_on`].
    fn panic_if_told(&self, claimed: &ClaimedMessage) {
        if let Some(needle) = &self.panic_on {
            if claimed
                .raw_message
                .windows(needle.len())
                .any(|w| w == needle)
            {
                panic!("told to panic on message {}", claimed.id);
            }
        }
    }
}

/// Where a message goes: one channel, the references it may thread by
/// there, and why it went there.
struct Filing {
    channel_id: i64,
    references: Vec<String>,
    /// Why this channel, for a reply address; and each subaddress detail.
    decisions: Vec<String>,
    /// Kept on the message: the first recipient's subaddress detail.
    detail: Option<String>,
    /// Why no thread, when references were left out.
    unthreaded: Option<String>,
}

/// The channels of a message, each once: a forwarding address names its
/// channel; for a user's reply address the processor chooses.
fn filings(
    inbox: &mut InboxTx<'_>,
    claimed: &ClaimedMessage,
    reading: &Reading,
) -> StoreResult<Vec<Filing>> {
    let references: Vec<String> = reading
        .in_reply_to
        .iter()
        .chain(&reading.references)
        .cloned()
        .collect();
    let mut filings: Vec<Filing> = Vec::new();
    for recipient in &claimed.recipients {
        let mut filing = match recipient.owner {
            Owner::Channel(channel_id) => Filing {
                channel_id,
                references: references.clone(),
                decisions: Vec::new(),
                detail: None,
                unthreaded: None,
            },
            Owner::User(user_id) => {
                reply_address_filing(inbox, user_id, recipient, reading, &references)?
            }
        };
        if let Some(detail) = &recipient.detail {
            filing.decisions.push(format!(
                "Subaddress: {} has the detail \"{detail}\".",
                recipient.address
            ));
            filing.detail = Some(detail.clone());
        }
        match filings
            .iter_mut()
            .find(|f| f.channel_id == filing.channel_id)
        {
            Some(earlier) => {
                earlier.decisions.append(&mut filing.decisions);
                earlier.detail = earlier.detail.take().or(filing.detail);
            }
            None => filings.push(filing),
        }
    }
    Ok(filings)
}

/// The channel for mail to a user's reply address: the conversation it
/// answers (its references name a message of a conversation the user
/// replied in); else the channel through which the user last wrote to this
/// contact; else the channel through which the user last replied at all.
fn reply_address_filing(
    inbox: &mut InboxTx<'_>,
    user_id: i64,
    recipient: &HostedRecipient,
    reading: &Reading,
    references: &[String],
) -> StoreResult<Filing> {
    let user = inbox.user_email(user_id)?;
    let address = &recipient.address;
    if let Some(answered) = inbox.answered(user_id, references)? {
        return Ok(Filing {
            channel_id: answered.channel_id,
            references: vec![answered.matched.clone()],
            decisions: vec![format!(
                "Channel {}: {address} is the reply address of {user}, and the message answers conversation {}, which {user} replied in (it refers to <{}>).",
                answered.channel_id, answered.conversation_id, answered.matched
            )],
            detail: None,
            unthreaded: None,
        });
    }
    let contact = &reading.author.address;
    let (channel_id, why) = match inbox.last_reply_channel(user_id, Some(contact))? {
        Some(channel) => (channel, format!("the channel through which {user} last wrote to {contact}")),
        None => match inbox.last_reply_channel(user_id, None)? {
            Some(channel) => (channel, format!("{user} never wrote to {contact}; the channel through which {user} last replied")),
            None => {
                return Err(StoreError::NotFound(format!(
                    "{address} is the reply address of {user}, who has no reply to choose a channel by"
                )))
            }
        },
    };
    Ok(Filing {
        channel_id,
        references: Vec::new(),
        decisions: vec![format!(
            "Channel {channel_id}: {address} is the reply address of {user}, and the message answers no conversation {user} replied in: {why}."
        )],
        detail: None,
        unthreaded: (!references.is_empty()).then(|| {
            format!("Thread: new conversation (its references name no conversation {user} replied in).")
        }),
    })
}

/// Files the message into one channel and says what happened.
fn file_into_channel(
    inbox: &mut InboxTx<'_>,
    claimed: &ClaimedMessage,
    reading: &Reading,
    context: &Context<'_>,
    filing: &Filing,
) -> StoreResult<String> {
    let now = teaminbox_store::now();
    let channel_id = filing.channel_id;
    let key = dedupe_key(reading);
    if let Some(existing) = inbox.duplicate_of(channel_id, &key)? {
        return Ok(format!(
            "channel {channel_id}: duplicate of message {existing}, not filed again"
        ));
    }
    let sources = inbox.channel_sources(channel_id)?;
    let author = reading.author_in(&ListTrust {
        channel_id,
        authenticated: context.authenticated,
        sources: &sources,
    });
    let mut decisions = filing.decisions.clone();
    decisions.push(format!(
        "Contact {}: {}.",
        author.person.address, author.reason
    ));
    if let Some(problem) = &reading.parse_problem {
        decisions.push(format!("Shown as received: {problem}."));
    }
    if let Some(verdict) = spam_verdict(claimed) {
        decisions.push(format!("Content filter: {verdict}."));
    }
    let (contact, _) = inbox.contact(&author.person.address, author.person.name.as_deref(), now)?;
    let references = &filing.references;
    let participants = Participants {
        team_addresses: context.team_addresses,
        sources: &sources,
    };
    let thread = match inbox.thread(channel_id, references)? {
        Some(thread) if participants.include(&author.person.address, &thread) => Some(thread),
        Some(thread) => {
            decisions.push(format!(
                "Thread: new conversation: the message refers to <{}> of conversation {}, but \
                 {} is not a participant of it (its contact, a team member or a source of \
                 the channel).",
                thread.matched, thread.conversation_id, author.person.address
            ));
            None
        }
        None => {
            decisions.push(if let Some(why) = &filing.unthreaded {
                why.clone()
            } else if references.is_empty() {
                "Thread: new conversation (no In-Reply-To or References).".into()
            } else {
                "Thread: new conversation (no message of this channel matched its references)."
                    .into()
            });
            None
        }
    };
    let automated = reading.automated.as_deref();
    if let Some(why) = automated {
        decisions.push(format!(
            "Automated ({why}): no ticket, no assignment, no notification."
        ));
    }
    let (conversation_id, assignee) = match thread {
        Some(thread) => {
            decisions.push(format!(
                "Thread: conversation {} because the message refers to <{}> and {} is a \
                 participant of it.",
                thread.conversation_id, thread.matched, author.person.address
            ));
            let reopen = automated.is_none() && !claimed.spam;
            if reopen && thread.status == ConversationStatus::Closed {
                decisions.push(format!(
                    "Reopened: {}, a participant, wrote again.",
                    author.person.address
                ));
            }
            inbox.touch_conversation(thread.conversation_id, now, reopen)?;
            (thread.conversation_id, None)
        }
        None => open_conversation(
            inbox,
            claimed,
            reading,
            &author,
            channel_id,
            contact,
            &mut decisions,
        )?,
    };
    let decisions_json = serde_json::to_string(&decisions).unwrap_or_else(|_| "[]".into());
    let files: Vec<NewAttachment<'_>> = reading
        .attachments
        .iter()
        .map(|a| NewAttachment {
            filename: &a.filename,
            content_type: &a.content_type,
            content_id: a.content_id.as_deref(),
            inline: a.inline,
            content: &a.content,
        })
        .collect();
    let message_id = inbox.insert_message(
        &NewMessage {
            conversation_id,
            channel_id,
            inbound_message_id: Some(claimed.id),
            direction: "in",
            dedupe_key: &key,
            message_id_header: reading.message_id.as_deref(),
            from_address: &author.person.address,
            from_name: author.person.name.as_deref(),
            forwarded_by: author.forwarded_by.as_ref().map(|p| p.address.as_str()),
            subject: &reading.subject,
            text_body: &reading.text,
            html_body: reading.html.as_deref(),
            sent_at: reading.date,
            automated: automated.is_some(),
            decisions: &decisions_json,
            user_id: None,
            detail: filing.detail.as_deref(),
        },
        &files,
    )?;
    let assignee = assignee
        .map(|a| format!(", assigned to user {a}"))
        .unwrap_or_default();
    Ok(format!(
        "channel {channel_id}: message {message_id} in conversation {conversation_id}{assignee}"
    ))
}

/// rspamd's verdict at SMTP time, in words, when it was asked.
fn spam_verdict(claimed: &ClaimedMessage) -> Option<String> {
    let action = claimed.spam_action.as_deref()?;
    let score = claimed.spam_score.unwrap_or_default();
    Some(format!("rspamd scored {score:.2} ({action})"))
}

/// rspamd's action kept the message out of the open conversations (else
/// DMARC quarantine did).
fn rspamd_filed_as_spam(claimed: &ClaimedMessage) -> bool {
    claimed
        .spam_action
        .as_deref()
        .and_then(|action| action.parse::<SpamAction>().ok())
        .is_some_and(SpamAction::files_as_spam)
}

/// Who may add to an existing conversation by thread headers: its contact,
/// a team member or a source of the channel. Anyone else could otherwise
/// slip into a customer's conversation by quoting one of its Message-IDs.
struct Participants<'a> {
    team_addresses: &'a [String],
    sources: &'a [String],
}

impl Participants<'_> {
    fn include(&self, address: &str, thread: &Thread) -> bool {
        let known = |list: &[String]| list.iter().any(|a| a.eq_ignore_ascii_case(address));
        address != reading::UNKNOWN_AUTHOR
            && (thread.contact_address.eq_ignore_ascii_case(address)
                || known(self.team_addresses)
                || known(self.sources))
    }
}

/// A new conversation: status, kind, assignee, ticket, verification and
/// the owner-away notification. Returns it and its assignee.
fn open_conversation(
    inbox: &mut InboxTx<'_>,
    claimed: &ClaimedMessage,
    reading: &Reading,
    author: &Author,
    channel_id: i64,
    contact: ContactRef,
    decisions: &mut Vec<String>,
) -> StoreResult<(i64, Option<i64>)> {
    let now = teaminbox_store::now();
    let routing = inbox.channel_routing(channel_id)?;
    let (status, kind) = if claimed.spam {
        decisions.push(if rspamd_filed_as_spam(claimed) {
            "Spam: rspamd's verdict at SMTP time (above); no ticket, no assignment, no \
             notification."
                .into()
        } else {
            "Spam: DMARC policy quarantine failed at SMTP time; no ticket, no assignment.".into()
        });
        (ConversationStatus::Spam, ConversationKind::Normal)
    } else if let Some(v) = &reading.verification {
        decisions.push(format!(
            "Verification: {} forwarding confirmation for {}, code {}; no ticket, no assignment.",
            v.provider, v.requested_by, v.code
        ));
        inbox.set_verification(channel_id, &v.code, v.link.as_deref(), &v.requested_by, now)?;
        if !v.requested_by.is_empty() {
            let requested = &v.requested_by;
            match inbox.add_verified_source(channel_id, requested, now)? {
                VerifiedSource::Added => decisions.push(format!(
                    "Source: {requested} asked for this confirmation, which arrived authenticated \
                     while channel {channel_id} was a draft, so the channel now trusts its list \
                     rewrites and counts it as a participant (`teaminbox-admin channel update \
                     {channel_id} --remove-source {requested}` undoes it)."
                )),
                VerifiedSource::AlreadyThere => {}
                VerifiedSource::ChannelFinished => decisions.push(format!(
                    "Not a source: channel {channel_id} is connected, so a confirmation no longer \
                     adds {requested} (`teaminbox-admin channel update {channel_id} --source \
                     {requested}` does, if it is yours)."
                )),
            }
        }
        (ConversationStatus::Open, ConversationKind::Verification)
    } else {
        (ConversationStatus::Open, ConversationKind::Normal)
    };
    let routed = status == ConversationStatus::Open
        && kind == ConversationKind::Normal
        && reading.automated.is_none();
    let (assignee, notify_owner) = if routed {
        choose_assignee(inbox, &routing, channel_id, contact, decisions)?
    } else {
        (None, None)
    };
    let conversation_id = inbox.create_conversation(&NewConversation {
        channel_id,
        contact_id: contact.id,
        subject: &reading.subject,
        status,
        kind,
        assignee_user_id: assignee,
        at: now,
    })?;
    if let Some(user) = assignee {
        // The time of this turn, not of the message: a worker that waited
        // for the round-robin lock comes after the one it waited for.
        inbox.record_assignment(channel_id, user, teaminbox_store::now())?;
    }
    if routed && routing.tickets_enabled {
        let (ticket, name) = inbox.create_filed_ticket(
            conversation_id,
            &routing.ticket_properties,
            &reading.subject,
            assignee,
        )?;
        decisions.push(format!(
            "Ticket {ticket} \"{name}\" created (the channel creates tickets)."
        ));
    } else if routed {
        decisions.push("No ticket: the channel does not create tickets.".into());
    }
    if let Some(owner_email) = notify_owner {
        let subject = format!(
            "New conversation from {}: {}",
            author.person.address, reading.subject
        );
        let body = format!(
            "{} wrote to your team inbox while you are away:\n\n{}\n",
            author.person.address, reading.text
        );
        let id = inbox.enqueue_notification(conversation_id, &owner_email, &subject, &body)?;
        decisions.push(format!(
            "Owner {owner_email} is away: notification {id} queued to them."
        ));
    }
    Ok((conversation_id, assignee))
}

/// The assignee by the channel's rule, and the owner to notify when the
/// contact owner is away.
fn choose_assignee(
    inbox: &mut InboxTx<'_>,
    routing: &teaminbox_store::inbox::ChannelRouting,
    channel_id: i64,
    contact: ContactRef,
    decisions: &mut Vec<String>,
) -> StoreResult<(Option<i64>, Option<String>)> {
    match routing.assign_mode {
        AssignMode::UsersAndTeams => {
            let candidates = inbox.round_robin_candidates(channel_id)?;
            match routing::round_robin(&candidates, routing.any_availability) {
                Some(c) => {
                    decisions.push(format!(
                        "Assigned to {} by round robin: the {} user whose last assignment from this channel is oldest.",
                        c.email,
                        if routing.any_availability { "chosen" } else { "available" }
                    ));
                    Ok((Some(c.user_id), None))
                }
                None => {
                    decisions.push(if candidates.is_empty() {
                        "Unassigned: the channel names no users or team members.".into()
                    } else {
                        "Unassigned: none of the channel's users is available.".into()
                    });
                    Ok((None, None))
                }
            }
        }
        AssignMode::ContactOwner => {
            let owner = match contact.owner_user_id {
                Some(id) => inbox.candidate(channel_id, id)?,
                None => None,
            };
            match owner {
                None => {
                    decisions.push("Unassigned: the contact has no owner.".into());
                    Ok((None, None))
                }
                Some(o) if o.available || routing.any_availability => {
                    decisions.push(format!("Assigned to {}, the contact's owner.", o.email));
                    Ok((Some(o.user_id), None))
                }
                Some(o) => {
                    decisions.push(format!(
                        "Unassigned: the contact's owner {} is away.",
                        o.email
                    ));
                    Ok((None, Some(o.email)))
                }
            }
        }
        AssignMode::Off => {
            decisions.push("Unassigned: the channel does not assign conversations.".into());
            Ok((None, None))
        }
    }
}

/// What makes two deliveries the same message: its Message-ID, or, when it
/// has none, a hash of who wrote what when.
fn dedupe_key(reading: &Reading) -> String {
    if let Some(id) = &reading.message_id {
        return format!("mid:{id}");
    }
    let mut hash = Sha256::new();
    for part in [
        reading.author.address.as_str(),
        &reading.subject,
        &reading.date.map(|d| d.to_string()).unwrap_or_default(),
        &reading.text,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
