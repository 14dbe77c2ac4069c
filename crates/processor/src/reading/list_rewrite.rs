//! Mailing-list From rewrites: [`ListRewrite`], [`ListTrust`], [`Author`]
//! and [`Reading::author_in`].

use super::*;

/// A list that rewrote From, and the author it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRewrite {
    /// The original author the list names.
    pub author: Person,
    /// The list: the outer From, with the list's name from "via" if any.
    pub list: Person,
    /// Which header names the author, and who rewrote, for the decision
    /// log: "X-Original-From (Google Groups rewrote From)".
    pub source: String,
}

/// What one channel knows to judge a list rewrite.
#[derive(Debug, Clone, Copy)]
pub struct ListTrust<'a> {
    pub channel_id: i64,
    /// The outer message passed authentication: DMARC pass for its From
    /// domain, or a trusted ARC seal.
    pub authenticated: bool,
    /// The channel's sources (lower case).
    pub sources: &'a [String],
}

/// The contact of a message in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub person: Person,
    pub forwarded_by: Option<Person>,
    /// Why, in words for the decision log.
    pub reason: String,
}

impl Reading {
    /// The author in a channel: a list rewrite's original author only when
    /// the list (the outer From) is one of the channel's sources and the
    /// message is authenticated; otherwise the outer From, with the reason
    /// the rewrite was ignored and the command that would trust it.
    pub fn author_in(&self, trust: &ListTrust<'_>) -> Author {
        let outer = |reason: String| Author {
            person: self.author.clone(),
            forwarded_by: self.forwarded_by.clone(),
            reason,
        };
        let Some(rewrite) = &self.list_rewrite else {
            return outer(self.author_reason.clone());
        };
        let list = &rewrite.list.address;
        let id = trust.channel_id;
        let source = trust.sources.iter().any(|s| s == list);
        let mut why = Vec::new();
        if !source {
            why.push(format!("{list} is not a source of channel {id}"));
        }
        if !trust.authenticated {
            why.push(
                "the message did not pass authentication (DMARC for its From domain, or a \
                 trusted ARC seal)"
                    .to_string(),
            );
        }
        if why.is_empty() {
            return Author {
                person: rewrite.author.clone(),
                forwarded_by: Some(rewrite.list.clone()),
                reason: format!("{}, from source {list}", rewrite.source),
            };
        }
        let advice = if source {
            String::new()
        } else {
            format!(
                "; if {list} is a list the channel trusts: \
                 `teaminbox-admin channel update {id} --source {list}`"
            )
        };
        outer(format!(
            "header From; the list rewrite naming {} in {} was ignored: {}{advice}",
            rewrite.author.address,
            rewrite.source,
            why.join(" and ")
        ))
    }
}

/// Google Groups and other lists that rewrite From for DMARC:
/// `"'Alice' via Support" <support@groups.example.com>` with the author in
/// X-Original-From, X-Original-Sender or Reply-To.
pub(super) fn list_rewrite(headers: &Headers<'_>, from: &Person) -> Option<ListRewrite> {
    let via = from.name.as_deref().and_then(|name| {
        let lower = name.to_lowercase();
        let at = lower.find(" via ")?;
        // Lower-casing can change byte lengths; only split when it did not.
        (lower.len() == name.len()).then(|| {
            (
                clean_name(&name[..at]),
                clean_name(&name[at + " via ".len()..]),
            )
        })
    });
    let differs = |p: &Person| p.address != from.address;
    let list_post_is_from = headers
        .text("List-Post")
        .is_some_and(|v| v.to_lowercase().contains(&from.address));
    let (author, header) =
        if let Some(p) = headers.persons("X-Original-From").into_iter().find(differs) {
            (p, "X-Original-From")
        } else if let Some(p) = headers
            .persons("X-Original-Sender")
            .into_iter()
            .find(|p| differs(p) && (via.is_some() || list_post_is_from))
        {
            (p, "X-Original-Sender")
        } else if let Some(p) = via
            .as_ref()
            .and_then(|_| headers.persons("Reply-To").into_iter().find(differs))
        {
            (p, "Reply-To")
        } else {
            return None;
        };
    let google = headers.first("X-Google-Group-Id").is_some()
        || headers
            .text("List-Id")
            .is_some_and(|v| v.to_lowercase().contains("google"))
        || headers.first("Mailing-list").is_some();
    let who = if google { "Google Groups" } else { "the list" };
    let via_author = via
        .as_ref()
        .map(|(a, _)| a.clone())
        .filter(|a| !a.is_empty());
    let via_list = via
        .as_ref()
        .map(|(_, l)| l.clone())
        .filter(|l| !l.is_empty());
    Some(ListRewrite {
        author: Person {
            name: author.name.clone().or(via_author),
            address: author.address,
        },
        list: Person {
            address: from.address.clone(),
            name: via_list.or_else(|| from.name.clone()),
        },
        source: format!("{header} ({who} rewrote From)"),
    })
}
