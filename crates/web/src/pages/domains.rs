//! Sending domains, for users with the `admin` role: add one (a DKIM key
//! is made), the DNS records to publish, Verify. As `teaminbox-admin
//! domain add|verify|list`, through the same functions
//! (`teaminbox_outbound::sending_domain`, `teaminbox_outbound::dkim`).

use super::channels::{admin_change, refused};
use super::{page, shown_time, PageResult};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;
use teaminbox_outbound::dkim::generate_key;
use teaminbox_outbound::sending_domain::{
    dkim_advice, dkim_record, dmarc_advice, not_a_sending_domain, spf_advice,
};
use teaminbox_store::address::normalize_domain;
use teaminbox_store::StoreError;

/// One domain and its records.
struct Shown {
    domain: String,
    /// "verified 2026-11-30 10:02 UTC" or "not verified".
    state: String,
    dkim: String,
    spf: String,
    dmarc: String,
}

#[derive(Template)]
#[template(path = "domains.html")]
struct DomainsPage {
    nav: Nav,
    domains: Vec<Shown>,
    error: Option<String>,
}

pub(super) async fn list(State(state): State<AppState>, signed_in: SignedIn) -> PageResult {
    signed_in.require_admin()?;
    show(&state, &signed_in, None).await
}

async fn show(state: &AppState, signed_in: &SignedIn, error: Option<String>) -> PageResult {
    let domains = blocking(state, |store| store.outbound().sending_domains()).await?;
    let shown = DomainsPage {
        nav: signed_in.nav(),
        domains: domains
            .iter()
            .map(|d| Shown {
                domain: d.domain.clone(),
                state: d.verified_at.map_or("not verified".into(), |at| {
                    format!("verified {}", shown_time(at))
                }),
                dkim: dkim_advice(d),
                spf: spf_advice(&d.domain),
                dmarc: dmarc_advice(&d.domain),
            })
            .collect(),
        error,
    };
    if shown.error.is_some() {
        refused(&shown)
    } else {
        page(&shown)
    }
}

#[derive(Deserialize)]
pub(super) struct DomainForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

/// `domain add DOMAIN` (selector `teaminbox`, the command's default).
pub(super) async fn add(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<DomainForm>,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    let domain = match normalize_domain(&form.domain) {
        Ok(domain) => domain,
        Err(why) => return show(&state, &signed_in, Some(why)).await,
    };
    let added = blocking(&state, move |store| {
        let key = generate_key().map_err(StoreError::Conflict)?;
        let added = store.outbound().add_sending_domain(
            &domain,
            "teaminbox",
            &key.private_key_pem,
            &key.dns_txt,
        );
        match added {
            Ok(_) => Ok(Ok(())),
            Err(StoreError::Conflict(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        }
    })
    .await?;
    match added {
        Ok(()) => Ok(Redirect::to("/settings/domains").into_response()),
        Err(why) => show(&state, &signed_in, Some(why)).await,
    }
}

/// `domain verify DOMAIN`: its DKIM record must hold our key.
pub(super) async fn verify(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<DomainForm>,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    let domain = normalize_domain(&form.domain).unwrap_or_default();
    let looked_up = domain.clone();
    let Some(known) = blocking(&state, move |store| {
        store.outbound().sending_domain(&looked_up)
    })
    .await?
    else {
        return show(&state, &signed_in, Some(not_a_sending_domain(&domain))).await;
    };
    let why = match dkim_record(&state.nameservers, &known).await {
        Ok((name, record)) => record.refusal(&name),
        Err(why) => Some(why),
    };
    if let Some(why) = why {
        return show(&state, &signed_in, Some(why)).await;
    }
    blocking(&state, move |store| {
        store.outbound().mark_domain_verified(&domain)
    })
    .await?;
    Ok(Redirect::to("/settings/domains").into_response())
}
