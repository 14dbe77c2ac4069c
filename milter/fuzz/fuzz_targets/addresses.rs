//! Addresses from the MTA and from admins: never a panic, and nothing that
//! is accepted or printed can break out of a header or a terminal line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teaminbox_store::address::{
    envelope_address, envelope_domain, normalize_domain, printable, ForwardingAddress,
};

fuzz_target!(|s: &str| {
    if let Ok(address) = ForwardingAddress::parse(s) {
        let shown = address.to_string();
        assert!(!shown.contains(['\r', '\n', '\0', ' ']), "{shown:?}");
        assert_eq!(ForwardingAddress::parse(&shown).as_ref(), Ok(&address));
    }
    if let Ok(domain) = normalize_domain(s) {
        assert!(!domain.contains(['\r', '\n', '\0', ' ', '@']), "{domain:?}");
    }
    let _ = envelope_domain(envelope_address(s));
    assert!(!printable(s).chars().any(char::is_control));
});
