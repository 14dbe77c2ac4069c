//! Step 3, the forwarding address: copy it into the mail provider (the
//! steps of `channel instructions`), customise it while the channel is a
//! draft, see the provider's confirmation code arrive, trust a list's
//! sources, then connect and finish (`channel finish`), which locks the
//! address.

use super::{admin_change, refusal, refused, Confirmation, Steps};
use crate::pages::{page, CsrfForm, PageError, PageResult};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;
use teaminbox_store::input;
use teaminbox_store::instructions::{self, Provider, Reader};
use teaminbox_store::model::{Channel, Source};
use teaminbox_store::settings::ChannelUpdate;
use teaminbox_store::{Store, StoreError};

/// A provider of the menu.
struct ProviderLink {
    name: &'static str,
    title: &'static str,
}

#[derive(Template)]
#[template(path = "channel_forwarding.html")]
struct ForwardingPage {
    nav: Nav,
    steps: Steps,
    channel_id: i64,
    address: String,
    /// The address the customise field shows (what was refused, if so).
    address_given: String,
    address_error: Option<String>,
    source_error: Option<String>,
    providers: Vec<ProviderLink>,
    provider: &'static str,
    instructions: Vec<String>,
    confirmation: Option<Confirmation>,
    sources: Vec<Source>,
    finished: String,
}

#[derive(Deserialize)]
pub(in crate::pages) struct ProviderQuery {
    provider: Option<String>,
}

/// What the page shows besides a refusal.
fn forwarding_page(
    signed_in: &SignedIn,
    channel: &Channel,
    provider: Provider,
    address_given: Option<String>,
) -> ForwardingPage {
    ForwardingPage {
        nav: signed_in.nav(),
        steps: Steps::of(channel, 3),
        channel_id: channel.id,
        address: channel.forwarding_address.clone(),
        address_given: address_given.unwrap_or_else(|| channel.forwarding_address.clone()),
        address_error: None,
        source_error: None,
        providers: Provider::ALL
            .iter()
            .map(|p| ProviderLink {
                name: p.name(),
                title: p.title(),
            })
            .collect(),
        provider: provider.name(),
        instructions: instructions::steps(channel, provider, Reader::Web),
        confirmation: Confirmation::of(channel),
        sources: channel.sources.clone(),
        finished: channel
            .finished_at
            .map(crate::pages::shown_time)
            .unwrap_or_default(),
    }
}

pub(in crate::pages) async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Query(query): Query<ProviderQuery>,
) -> PageResult {
    signed_in.require_admin()?;
    let provider = query
        .provider
        .as_deref()
        .and_then(Provider::from_name)
        .unwrap_or(Provider::Gmail);
    let channel = blocking(&state, move |store| store.settings().channel(id)).await?;
    page(&forwarding_page(&signed_in, &channel, provider, None))
}

#[derive(Deserialize)]
pub(in crate::pages) struct AddressForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    forwarding_address: String,
}

/// "Customise address": `channel update --forwarding-address`, refused
/// in its words when taken, outside the hosted domains or finished.
pub(in crate::pages) async fn address(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<AddressForm>,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    let checked = input::hosted_address(
        "Forwarding address",
        &form.forwarding_address,
        &state.hosted_domains,
    )
    .map_err(|e| refusal(&e));
    let given = form.forwarding_address.clone();
    change(&state, &signed_in, id, given, move |store| {
        let address = checked.map_err(Refusal::Address)?;
        let update = ChannelUpdate {
            forwarding_address: Some(address),
            ..ChannelUpdate::default()
        };
        store
            .settings()
            .update_channel(id, &update)
            .map_err(|e| Refusal::of(e, Refusal::Address))
    })
    .await
}

#[derive(Deserialize)]
pub(in crate::pages) struct SourceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
}

/// `channel update --source`.
pub(in crate::pages) async fn add_source(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<SourceForm>,
) -> PageResult {
    change_sources(state, signed_in, id, form, true).await
}

/// `channel update --remove-source`.
pub(in crate::pages) async fn remove_source(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<SourceForm>,
) -> PageResult {
    change_sources(state, signed_in, id, form, false).await
}

async fn change_sources(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<SourceForm>,
    add: bool,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    let checked = input::address("Source", &form.address).map_err(|e| refusal(&e));
    change(&state, &signed_in, id, String::new(), move |store| {
        let address = checked.map_err(Refusal::Source)?;
        let update = if add {
            ChannelUpdate {
                add_sources: vec![address],
                ..ChannelUpdate::default()
            }
        } else {
            ChannelUpdate {
                remove_sources: vec![address],
                ..ChannelUpdate::default()
            }
        };
        store
            .settings()
            .update_channel(id, &update)
            .map_err(|e| Refusal::of(e, Refusal::Source))
    })
    .await
}

/// "Connect and finish": `channel finish`. Finishing again is harmless.
pub(in crate::pages) async fn finish(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    blocking(&state, move |store| store.settings().finish_channel(id)).await?;
    Ok(Redirect::to(&format!("/settings/channels/{id}/forwarding")).into_response())
}

/// Why a change on this page was refused, and next to which field.
enum Refusal {
    Address(String),
    Source(String),
    Store(StoreError),
}

impl Refusal {
    /// A store refusal next to its field; anything else as it is.
    fn of(e: StoreError, field: fn(String) -> Refusal) -> Refusal {
        match e {
            // A channel that is not there is a 404 when the page is shown
            // again; what else is not found is the source to remove.
            StoreError::Conflict(why) | StoreError::NotFound(why) => field(why),
            other => Refusal::Store(other),
        }
    }
}

/// Makes a change and comes back to the page, or shows it again with the
/// refusal next to its field.
async fn change(
    state: &AppState,
    signed_in: &SignedIn,
    id: i64,
    address_given: String,
    work: impl FnOnce(&Store) -> Result<Channel, Refusal> + Send + 'static,
) -> PageResult {
    let outcome = blocking(state, move |store| match work(store) {
        Ok(_) => Ok(Ok(())),
        Err(Refusal::Store(e)) => Err(e),
        Err(refusal) => Ok(Err((refusal, store.settings().channel(id)?))),
    })
    .await?;
    let (refusal, channel) = match outcome {
        Ok(()) => {
            return Ok(Redirect::to(&format!("/settings/channels/{id}/forwarding")).into_response())
        }
        Err(refused) => refused,
    };
    let given = (!address_given.is_empty()).then_some(address_given);
    let mut shown = forwarding_page(signed_in, &channel, Provider::Gmail, given);
    match refusal {
        Refusal::Address(why) => shown.address_error = Some(why),
        Refusal::Source(why) => shown.source_error = Some(why),
        Refusal::Store(e) => return Err(PageError::from(e)),
    }
    refused(&shown)
}
