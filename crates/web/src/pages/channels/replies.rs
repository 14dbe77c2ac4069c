//! Step 1, how replies look: the channel's name and company, the From
//! name, the From address and the signature, with a preview of a reply of
//! the signed-in user (the reply composer's own [`ReplyLook`]).

use super::{admin_change, next_page, refusal, refused, Steps};
use crate::pages::{page, PageResult};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;
use teaminbox_outbound::reply::ReplyLook;
use teaminbox_outbound::signature;
use teaminbox_store::input;
use teaminbox_store::model::{Channel, FromNameMode, User};
use teaminbox_store::settings::{ChannelReplies, ChannelUpdate, RoutingUpdate};
use teaminbox_store::StoreError;

#[derive(Deserialize, Default)]
pub(super) struct RepliesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    company: String,
    /// `agent-and-company` or `company`.
    #[serde(default)]
    from_name: String,
    /// `custom` for `from_address`; anything else is the default address.
    #[serde(default)]
    from_address_mode: String,
    #[serde(default)]
    from_address: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    go: String,
}

impl RepliesForm {
    fn of(channel: &Channel) -> Self {
        Self {
            name: channel.name.clone(),
            company: channel.company.clone(),
            from_name: channel.from_name_mode.as_str().into(),
            from_address_mode: if channel.from_address.is_some() {
                "custom"
            } else {
                "default"
            }
            .into(),
            from_address: channel.from_address.clone().unwrap_or_default(),
            signature: channel.signature_html.clone().unwrap_or_default(),
            ..Self::default()
        }
    }

    fn custom_from(&self) -> bool {
        self.from_address_mode == "custom"
    }

    fn company_only(&self) -> bool {
        self.from_name == FromNameMode::Company.as_str()
    }
}

/// Refusals, each shown next to its field.
#[derive(Default)]
struct Errors {
    name: Option<String>,
    company: Option<String>,
    from_name: Option<String>,
    from_address: Option<String>,
    signature: Option<String>,
}

impl Errors {
    fn any(&self) -> bool {
        self.name.is_some()
            || self.company.is_some()
            || self.from_name.is_some()
            || self.from_address.is_some()
            || self.signature.is_some()
    }
}

/// What a contact sees of a reply.
struct Preview {
    from: String,
    /// Checked by [`signature::check`] before it is shown.
    signature_html: String,
    /// Why the signature typed is refused (the live preview's).
    refusal: Option<String>,
}

impl Preview {
    /// A reply of the signed-in user on `channel`, through the reply
    /// composer's own [`ReplyLook`].
    fn of(channel: &Channel, signed_in: &SignedIn, state: &AppState) -> Self {
        let look = ReplyLook::new(channel, &signed_in.session.user, &state.reply);
        Self {
            from: look.from.display(),
            signature_html: look.signature_html,
            refusal: None,
        }
    }
}

#[derive(Template)]
#[template(path = "channel_preview_page.html")]
struct PreviewFragment {
    preview: Option<Preview>,
}

/// The live preview (app.js asks as the admin types): the channel as the
/// form would make it, unsaved. What the form cannot make yet stays as
/// saved; a refused signature is said instead of shown.
pub(in crate::pages) async fn live_preview(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<RepliesForm>,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    let mut channel = blocking(&state, move |store| store.settings().channel(id)).await?;
    if let Ok(company) = input::text_field("Company", &form.company) {
        company.clone_into(&mut channel.company);
    }
    if let Ok(mode) = form.from_name.parse() {
        channel.from_name_mode = mode;
    }
    channel.from_address = form
        .custom_from()
        .then(|| input::address("From address", &form.from_address).ok())
        .flatten();
    let refused_signature = match checked_signature(&form.signature) {
        Ok(signature) => {
            channel.signature_html = signature;
            None
        }
        Err(why) => Some(why),
    };
    let preview = Preview {
        refusal: refused_signature,
        ..Preview::of(&channel, &signed_in, &state)
    };
    page(&PreviewFragment {
        preview: Some(preview),
    })
}

#[derive(Template)]
#[template(path = "channel_replies.html")]
struct RepliesPage {
    nav: Nav,
    steps: Steps,
    form: RepliesForm,
    errors: Errors,
    preview: Option<Preview>,
    /// The signed-in user's default From address.
    default_from: String,
    saved: bool,
}

fn default_from(state: &AppState, user: &User) -> String {
    format!("{}@{}", user.username, state.reply.default_from_domain)
}

pub(in crate::pages) async fn new(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> PageResult {
    signed_in.require_admin()?;
    page(&RepliesPage {
        nav: signed_in.nav(),
        steps: Steps {
            id: None,
            current: 1,
            connected: false,
        },
        form: RepliesForm::default(),
        errors: Errors::default(),
        preview: None,
        default_from: default_from(&state, &signed_in.session.user),
        saved: false,
    })
}

pub(in crate::pages) async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    query: axum::extract::Query<Saved>,
) -> PageResult {
    signed_in.require_admin()?;
    let channel = blocking(&state, move |store| store.settings().channel(id)).await?;
    page(&RepliesPage {
        nav: signed_in.nav(),
        steps: Steps::of(&channel, 1),
        form: RepliesForm::of(&channel),
        errors: Errors::default(),
        preview: Some(Preview::of(&channel, &signed_in, &state)),
        default_from: default_from(&state, &signed_in.session.user),
        saved: query.is_saved(),
    })
}

#[derive(Deserialize)]
pub(in crate::pages) struct Saved {
    saved: Option<String>,
}

impl Saved {
    /// The page comes back after its form was saved: say so.
    pub(super) fn is_saved(&self) -> bool {
        self.saved.is_some()
    }
}

/// The form, checked by the rules `channel create` and `channel update`
/// use.
struct Checked {
    name: String,
    company: String,
    from_name_mode: FromNameMode,
    from_address: Option<String>,
    signature_html: Option<String>,
}

fn check(form: &RepliesForm) -> Result<Checked, Errors> {
    let mut errors = Errors::default();
    let text = |what: &str, value: &str, error: &mut Option<String>| {
        input::text_field(what, value)
            .map(str::to_owned)
            .map_err(|e| *error = Some(refusal(&e)))
            .ok()
    };
    let name = text("Name", &form.name, &mut errors.name);
    let company = text("Company", &form.company, &mut errors.company);
    let from_name_mode = form
        .from_name
        .parse::<FromNameMode>()
        .map_err(|e| errors.from_name = Some(e))
        .ok();
    let from_address = if form.custom_from() {
        input::address("From address", &form.from_address)
            .map(Some)
            .map_err(|e| errors.from_address = Some(refusal(&e)))
            .ok()
    } else {
        Some(None)
    };
    let signature_html = checked_signature(&form.signature)
        .map_err(|e| errors.signature = Some(e))
        .ok();
    match (name, company, from_name_mode, from_address, signature_html) {
        (
            Some(name),
            Some(company),
            Some(from_name_mode),
            Some(from_address),
            Some(signature_html),
        ) if !errors.any() => Ok(Checked {
            name,
            company,
            from_name_mode,
            from_address,
            signature_html,
        }),
        _ => Err(errors),
    }
}

/// An empty signature is none; any other must pass
/// [`signature::check`], as a `--signature-file` must.
fn checked_signature(given: &str) -> Result<Option<String>, String> {
    let given = given.trim();
    if given.is_empty() {
        return Ok(None);
    }
    if given.len() > signature::MAX_LEN {
        return Err(format!(
            "the signature is larger than {} bytes; a signature is a few lines",
            signature::MAX_LEN
        ));
    }
    signature::check(given).map_err(|e| e.to_string())?;
    Ok(Some(given.to_owned()))
}

/// Saves step 1 of a new channel: it is created as a draft (and receives
/// mail from now on), with an address made from its name in the first
/// hosted domain, as `channel create` makes it.
pub(in crate::pages) async fn create(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<RepliesForm>,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    let domain = state.hosted_domains[0].clone();
    saved(&state, &signed_in, None, form, move |store, checked| {
        let replies = ChannelReplies {
            from_name_mode: checked.from_name_mode,
            from_address: checked.from_address,
            signature_html: checked.signature_html,
        };
        store
            .settings()
            .create_channel_generated(
                &checked.name,
                &checked.company,
                &domain,
                &replies,
                &RoutingUpdate::default(),
                &[],
            )
            .map(|c| c.id)
    })
    .await
}

/// Saves step 1 of a channel, as `channel update` would.
pub(in crate::pages) async fn save(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<RepliesForm>,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    saved(&state, &signed_in, Some(id), form, move |store, checked| {
        let update = ChannelUpdate {
            name: Some(checked.name),
            company: Some(checked.company),
            from_name_mode: Some(checked.from_name_mode),
            from_address: Some(checked.from_address),
            signature_html: Some(checked.signature_html),
            ..ChannelUpdate::default()
        };
        store.settings().update_channel(id, &update).map(|c| c.id)
    })
    .await
}

/// Checks the form and, when it is valid, writes it with `write`; a
/// refusal comes back next to its field: the From address's domain, or
/// the From name another channel uses (the company).
async fn saved(
    state: &AppState,
    signed_in: &SignedIn,
    id: Option<i64>,
    form: RepliesForm,
    write: impl FnOnce(&teaminbox_store::Store, Checked) -> Result<i64, StoreError> + Send + 'static,
) -> PageResult {
    let outcome = match check(&form) {
        Ok(checked) => {
            blocking(state, move |store| {
                if let Some(address) = &checked.from_address {
                    match store.settings().check_from_address(address) {
                        Err(StoreError::Conflict(why)) => return Ok(Err((why, true))),
                        other => other?,
                    }
                }
                match write(store, checked) {
                    Ok(id) => Ok(Ok(id)),
                    Err(StoreError::Conflict(why)) => Ok(Err((why, false))),
                    Err(e) => Err(e),
                }
            })
            .await?
        }
        Err(errors) => return show_refused(state, signed_in, id, form, errors).await,
    };
    match outcome {
        Ok(saved_id) => {
            let to = next_page(saved_id, &form.go, "replies", "replies?saved=1", "routing");
            Ok(Redirect::to(&to).into_response())
        }
        Err((why, from_address)) => {
            let errors = if from_address {
                Errors {
                    from_address: Some(why),
                    ..Errors::default()
                }
            } else {
                Errors {
                    company: Some(why),
                    ..Errors::default()
                }
            };
            show_refused(state, signed_in, id, form, errors).await
        }
    }
}

async fn show_refused(
    state: &AppState,
    signed_in: &SignedIn,
    id: Option<i64>,
    form: RepliesForm,
    errors: Errors,
) -> PageResult {
    let steps = match id {
        Some(id) => {
            let channel = blocking(state, move |store| store.settings().channel(id)).await?;
            Steps::of(&channel, 1)
        }
        None => Steps {
            id: None,
            current: 1,
            connected: false,
        },
    };
    refused(&RepliesPage {
        nav: signed_in.nav(),
        steps,
        form,
        errors,
        preview: None,
        default_from: default_from(state, &signed_in.session.user),
        saved: false,
    })
}
