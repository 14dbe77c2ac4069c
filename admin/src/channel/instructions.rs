//! `teaminbox-admin channel instructions`: how to forward a mail provider's
//! mail to a channel, step by step, with the forwarding address filled in
//! (the text is `teaminbox_store::instructions`, shared with the web).

use crate::{cli::Provider, output};
use serde::Serialize;
use teaminbox_store::instructions::{self, Provider as Mail, Reader};
use teaminbox_store::model::Channel;

/// What `channel instructions --json` prints.
#[derive(Serialize)]
struct Instructions<'a> {
    channel_id: i64,
    provider: &'static str,
    forwarding_address: &'a str,
    steps: Vec<String>,
}

pub fn print(channel: &Channel, provider: Provider, json: bool) {
    let provider = match provider {
        Provider::Gmail => Mail::Gmail,
        Provider::GoogleGroups => Mail::GoogleGroups,
        Provider::Microsoft365 => Mail::Microsoft365,
        Provider::Outlook => Mail::Outlook,
        Provider::Other => Mail::Other,
    };
    let steps = instructions::steps(channel, provider, Reader::AdminTool);
    if json {
        output::json(&Instructions {
            channel_id: channel.id,
            provider: provider.name(),
            forwarding_address: &channel.forwarding_address,
            steps,
        });
        return;
    }
    println!(
        "Forward {} mail to channel {} ({}): {}",
        provider.title(),
        channel.id,
        output::line(&channel.name),
        channel.forwarding_address
    );
    println!();
    for (i, step) in steps.iter().enumerate() {
        println!("{:>2}. {step}", i + 1);
    }
}
