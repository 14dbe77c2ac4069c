//! Whether Postfix's smtpd, running as `mail_owner`, can connect to the
//! daemon's UNIX socket: write permission on the socket and search
//! permission on every directory above it.

use super::Finding;
use nix::unistd::{getgrouplist, Gid, Uid, User};
use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use teaminbox_store::config::ListenAddress;

const CHECK: &str = "milter socket";
const WRITE: u32 = 0o2;
const SEARCH: u32 = 0o1;

/// Who smtpd runs as: a user of this host and its groups, or none.
struct Account {
    uid: Uid,
    gids: Vec<Gid>,
}

pub fn check(listen: &ListenAddress, mail_owner: &str) -> Finding {
    let path = match listen {
        ListenAddress::Inet(addr) => {
            return Finding::ok(CHECK, format!("TCP ({addr}): no file permissions involved"))
        }
        ListenAddress::Unix(path) => path,
    };
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            return Finding::wrong(
                CHECK,
                format!("{shown}: {e}: the daemon is not running, or listens elsewhere"),
                "start the daemon (systemctl start teaminbox) and check [milter] listen",
            )
        }
    };
    if !meta.file_type().is_socket() {
        return Finding::wrong(
            CHECK,
            format!("{shown} is not a socket"),
            "check [milter] listen and start the daemon",
        );
    }
    let account = account(mail_owner);
    let who = match account {
        Some(_) => format!("Postfix's user {mail_owner}"),
        None => format!(
            "Postfix's user {mail_owner} (not a user of this host: only what all may do counts)"
        ),
    };
    if let Some(dir) = path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
        .find(|d| !allowed(account.as_ref(), d, SEARCH))
    {
        return Finding::wrong(
            CHECK,
            format!("{who} cannot enter {} ({})", dir.display(), mode_of(dir)),
            format!(
                "chmod o+x {} (or give {mail_owner} access to it)",
                dir.display()
            ),
        );
    }
    if !allowed(account.as_ref(), path, WRITE) {
        return Finding::wrong(
            CHECK,
            format!("{who} cannot connect to {shown} ({})", mode_of(path)),
            format!("in teaminbox.toml: socket_group = \"{mail_owner}\" and socket_mode = \"0660\" under [milter], then restart the daemon"),
        );
    }
    Finding::ok(
        CHECK,
        format!("{who} can connect to {shown} ({})", mode_of(path)),
    )
}

fn account(name: &str) -> Option<Account> {
    let user = User::from_name(name).ok()??;
    let gids = getgrouplist(&CString::new(name).ok()?, user.gid).unwrap_or(vec![user.gid]);
    Some(Account {
        uid: user.uid,
        gids,
    })
}

/// Whether `account` has `bit` (one of the `rwx` bits, as for others) on
/// `path`, by the owner, group, other rule; root may do anything.
fn allowed(account: Option<&Account>, path: &Path, bit: u32) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let mode = meta.mode();
    let shift = match account {
        Some(a) if a.uid.is_root() => return true,
        Some(a) if a.uid.as_raw() == meta.uid() => 6,
        Some(a) if a.gids.iter().any(|g| g.as_raw() == meta.gid()) => 3,
        _ => 0,
    };
    mode & (bit << shift) != 0
}

/// `mode 0660, uid 998, gid 115`, for the finding.
fn mode_of(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => format!(
            "mode {:04o}, uid {}, gid {}",
            m.mode() & 0o7777,
            m.uid(),
            m.gid()
        ),
        Err(e) => e.to_string(),
    }
}
