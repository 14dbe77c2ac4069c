//! DKIM keys and signing for outbound mail (mail-auth signs; aws-lc-rs,
//! already mail-auth's crypto, makes the keys).

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use mail_auth::{
    common::crypto::{RsaKey, Sha256},
    common::headers::HeaderWriter,
    dkim::DkimSigner,
};
use rustls_pki_types::{pem::PemObject, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A new RSA 2048 key: its PKCS#8 PEM (to keep) and its DKIM TXT record
/// value (to publish).
pub struct GeneratedKey {
    pub private_key_pem: String,
    pub dns_txt: String,
}

pub fn generate_key() -> Result<GeneratedKey, String> {
    let pair =
        KeyPair::generate(KeySize::Rsa2048).map_err(|_| "cannot generate an RSA key".to_owned())?;
    let private = pair
        .as_der()
        .map_err(|_| "cannot encode the private key".to_owned())?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| "cannot encode the public key".to_owned())?;
    let body = STANDARD.encode(private.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    Ok(GeneratedKey {
        private_key_pem: format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ),
        dns_txt: format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(public.as_ref())),
    })
}

/// The `p=` value of a DKIM TXT record, without white space.
pub fn public_key_of(txt: &str) -> Option<String> {
    txt.split(';')
        .map(str::trim)
        .find_map(|tag| tag.strip_prefix("p="))
        .map(|p| p.split_whitespace().collect())
}

/// Prepends a DKIM-Signature (relaxed/relaxed, rsa-sha256) to `raw`.
pub fn sign(
    raw: &[u8],
    domain: &str,
    selector: &str,
    private_key_pem: &str,
) -> Result<Vec<u8>, String> {
    let unreadable =
        |e: &dyn std::fmt::Display| format!("the DKIM key of {domain} cannot be read: {e}");
    let der = PrivatePkcs8KeyDer::from_pem_slice(private_key_pem.as_bytes())
        .map_err(|e| unreadable(&e))?;
    let key =
        RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der)).map_err(|e| unreadable(&e))?;
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers([
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "In-Reply-To",
            "References",
        ])
        .sign(raw)
        .map_err(|e| format!("cannot sign for {domain}: {e}"))?;
    let mut signed = signature.to_header().into_bytes();
    signed.extend_from_slice(raw);
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_and_its_record_names_it() {
        let key = generate_key().unwrap();
        assert!(key.dns_txt.starts_with("v=DKIM1; k=rsa; p=MII"));
        let signed = sign(
            b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n",
            "example.com",
            "s1",
            &key.private_key_pem,
        )
        .unwrap();
        let text = String::from_utf8(signed).unwrap();
        assert!(
            text.starts_with("DKIM-Signature: v=1; a=rsa-sha256; s=s1; d=example.com;"),
            "{text}"
        );
        assert_eq!(
            public_key_of(&key.dns_txt).unwrap(),
            key.dns_txt.split("p=").nth(1).unwrap()
        );
        assert_eq!(
            public_key_of("v=DKIM1; p=AB CD\tEF").as_deref(),
            Some("ABCDEF")
        );
    }
}
