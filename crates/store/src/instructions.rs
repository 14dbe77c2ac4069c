//! How to forward a mail provider's mail to a channel, step by step, with
//! the forwarding address filled in: one text for `teaminbox-admin channel
//! instructions` and the web's "Connect a channel".

use crate::model::Channel;

/// A mail provider whose mail is forwarded to a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Gmail,
    GoogleGroups,
    Microsoft365,
    Outlook,
    Other,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::Gmail,
        Provider::GoogleGroups,
        Provider::Microsoft365,
        Provider::Outlook,
        Provider::Other,
    ];

    /// The name `--provider` takes and `--json` prints.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Gmail => "gmail",
            Provider::GoogleGroups => "google-groups",
            Provider::Microsoft365 => "microsoft-365",
            Provider::Outlook => "outlook",
            Provider::Other => "other",
        }
    }

    /// The provider with this [`Provider::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// How a sentence names the provider's mail ("Forward Gmail mail").
    pub fn title(self) -> &'static str {
        match self {
            Provider::Gmail => "Gmail",
            Provider::GoogleGroups => "Google Group",
            Provider::Microsoft365 => "Microsoft 365",
            Provider::Outlook => "Outlook.com",
            Provider::Other => "your mail server's",
        }
    }
}

/// Where the steps are read: the words for what to do in teaminbox differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// `teaminbox-admin channel instructions`: commands to run.
    AdminTool,
    /// The web's "Connect a channel": this page's parts.
    Web,
}

impl Reader {
    /// Where the provider's confirmation code shows.
    fn confirmation(self, id: i64) -> String {
        match self {
            Self::AdminTool => format!(
                "`teaminbox-admin channel show {id}` prints its confirmation code (and link) \
                 under Verification"
            ),
            Self::Web => "its confirmation code (and link) appear on this page, under \
                 Confirmation, without a reload"
                .into(),
        }
    }

    /// How a group's address becomes a source.
    fn add_source(self, id: i64) -> String {
        match self {
            Self::AdminTool => format!(
                "add the group's address as a source with `teaminbox-admin channel update {id} \
                 --source GROUP-ADDRESS` (for example `teaminbox-admin channel update {id} \
                 --source support@yourcompany.example`)"
            ),
            Self::Web => "add the group's address under Sources on this page (for example \
                 support@yourcompany.example)"
                .into(),
        }
    }

    /// Where a test message shows.
    fn test_arrived(self, id: i64) -> String {
        match self {
            Self::AdminTool => {
                format!(
                    "`teaminbox-admin conversation list --channel {id}` shows it when it arrived"
                )
            }
            Self::Web => "it shows in the inbox when it arrived".into(),
        }
    }

    /// How the channel is connected and finished.
    fn finish(self, id: i64) -> String {
        match self {
            Self::AdminTool => format!("`teaminbox-admin channel finish {id}`"),
            Self::Web => "the Connect and finish button below".into(),
        }
    }
}

/// The steps, in order, in the words of `reader`.
pub fn steps(channel: &Channel, provider: Provider, reader: Reader) -> Vec<String> {
    let address = &channel.forwarding_address;
    let id = channel.id;
    let mut steps: Vec<String> = match provider {
        Provider::Gmail => vec![
            "In Gmail, open Settings (the gear) → See all settings → Forwarding and POP/IMAP."
                .into(),
            format!("Click \"Add a forwarding address\", paste {address}, then Next → Proceed → OK."),
            format!(
                "Gmail sends a confirmation message to {address}. It arrives in the channel's \
                 inbox as a verification conversation, and {}.",
                reader.confirmation(id)
            ),
            "Back in Gmail's Forwarding and POP/IMAP settings, enter the code and click Verify."
                .into(),
            format!(
                "Choose \"Forward a copy of incoming mail to\" {address}, choose \"keep Gmail's \
                 copy in the Inbox\", and click Save Changes."
            ),
            "Google Workspace: if Gmail offers no forwarding, the domain's administrator allows \
             it in the Admin console → Apps → Google Workspace → Gmail → End User Access → \
             Automatic forwarding."
                .into(),
        ],
        Provider::GoogleGroups => vec![
            "Open groups.google.com and choose the group → Members → Add members.".into(),
            format!(
                "Paste {address}, turn on \"Directly add members\" (or invite it, where direct \
                 adding is not offered), and click Add members."
            ),
            format!(
                "Make sure the new member gets every message: in Members, select {address} → \
                 Change subscription → Each email (Google Workspace groups can also be managed \
                 in the Admin console → Directory → Groups)."
            ),
            "Check the group's Settings → Who can post: customers who write to the group must be \
             allowed to post, and moderated messages reach the channel only once approved."
                .into(),
            format!(
                "Google Groups rewrites From to the group's address (\"'Alice' via Support\" \
                 <support@yourcompany.example>) and names the customer in X-Original-From. The \
                 channel believes that only from a group it knows: {}. Until then, the group is \
                 the contact of every conversation it forwards.",
                reader.add_source(id)
            ),
        ],
        Provider::Microsoft365 => vec![
            "Open the Exchange admin center (admin.exchange.microsoft.com) → Recipients → \
             Mailboxes, and select the mailbox (for a team address, its shared mailbox)."
                .into(),
            "On the Mailbox tab, under Mail flow, choose \"Manage mail flow settings\" → Email \
             forwarding → Edit."
                .into(),
            format!(
                "Turn on \"Forward all emails sent to this mailbox\", enter {address}, tick \
                 \"Keep a copy of forwarded email in this mailbox\" (deliver to both), and Save."
            ),
            "Microsoft's outbound spam policy blocks automatic forwarding to outside addresses by \
             default (the forward bounces with 5.7.520 Access denied). Allow it in the Microsoft \
             Defender portal (security.microsoft.com) → Email & collaboration → Policies & rules \
             → Threat policies → Anti-spam → the outbound policy (or a new one for this mailbox) \
             → Automatic forwarding rules: On - Forwarding is enabled."
                .into(),
        ],
        Provider::Outlook => vec![
            "In Outlook.com, open Settings (the gear) → Mail → Forwarding.".into(),
            format!(
                "Turn on \"Enable forwarding\", enter {address}, tick \"Keep a copy of forwarded \
                 messages\", and Save."
            ),
        ],
        Provider::Other => vec![
            format!(
                "Point an alias or a forward of the address your customers write to (for example \
                 support@yourcompany.example) at {address}; to keep a local copy, forward to both. \
                 In Postfix, a virtual alias: `support@yourcompany.example support@yourcompany.example, {address}`; \
                 in a hosting panel, Forwarders → Add forwarder."
            ),
            "Forward the message as it is (do not resend or rewrite it), so the sender's DKIM \
             signature stays valid: teaminbox checks SPF, DKIM, ARC and DMARC."
                .into(),
        ],
    };
    steps.push(format!(
        "Send a test message to the address you forward; {}.",
        reader.test_arrived(id)
    ));
    steps.push(if channel.status == "draft" {
        format!(
            "Connect and finish: {} (the forwarding address is fixed from then on).",
            reader.finish(id)
        )
    } else {
        format!("Channel {id} is already connected and finished; nothing more to do.")
    });
    steps
}
