//! What the admin typed, checked by the store's rules
//! (`teaminbox_store::input`, shared with the web's settings) before it
//! reaches the database. A bad value is a usage error (exit 2), shown as
//! the terminal shows outside text.

use crate::AdminError;
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::input::{self, InputError};

fn usage(e: InputError) -> AdminError {
    AdminError::Usage(e.message(crate::output::line))
}

/// Names and companies: one line of printable text, 1 to 200 characters.
pub fn text_field<'a>(what: &str, value: &'a str) -> Result<&'a str, AdminError> {
    input::text_field(what, value).map_err(usage)
}

/// Like [`text_field`], but may be empty.
pub fn one_line<'a>(what: &str, value: &'a str) -> Result<&'a str, AdminError> {
    input::one_line(what, value).map_err(usage)
}

/// An email address of a user or a contact, in lower case.
pub fn address(what: &str, value: &str) -> Result<String, AdminError> {
    input::address(what, value).map_err(usage)
}

/// A forwarding address the admin typed: malformed is a usage error,
/// outside the hosted domains a refusal (exit 1).
pub fn hosted_address(
    what: &str,
    value: &str,
    hosted: &[String],
) -> Result<ForwardingAddress, AdminError> {
    input::hosted_address(what, value, hosted).map_err(|e| {
        if e.is_not_hosted() {
            AdminError::Refused(e.message(crate::output::line))
        } else {
            usage(e)
        }
    })
}

/// A `--limit`: a positive number of rows, or 0 for all of them.
pub fn limit(value: i64) -> Result<Option<i64>, AdminError> {
    match value {
        n if n < 0 => Err(AdminError::Usage("--limit must be 0 or more".into())),
        0 => Ok(None),
        n => Ok(Some(n)),
    }
}
