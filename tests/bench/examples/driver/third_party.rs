//! The comparison: Debian's OpenDKIM (verify mode) and OpenDMARC (SPF by
//! itself, DMARC, refusing failures) as milters on the same Postfix.
//!
//! They run on the host, with their UNIX sockets in a directory that the
//! Postfix container sees at the same path. Their DNS goes to the test DNS
//! server: OpenDKIM (libunbound) through `Nameservers 127.0.0.1`, OpenDMARC
//! (libresolv, libspf2) through /etc/resolv.conf; both can only ask port
//! 53, so the driver relays 127.0.0.1:53 to the test DNS, and each filter
//! runs in its own mount namespace (`unshare --mount`) in which
//! /etc/resolv.conf is a bind mount of a file saying `nameserver
//! 127.0.0.1`. The machine's own resolv.conf is never touched.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

pub const OPENDKIM_ID: &str = "bench-opendkim";
pub const OPENDMARC_ID: &str = "bench-opendmarc";

pub struct ThirdParty {
    children: Vec<Child>,
    pub milters: String,
    pub versions: String,
}

impl ThirdParty {
    /// The filters' process ids (for their CPU time).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

impl Drop for ThirdParty {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        for child in &mut self.children {
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts both filters; `Err` says exactly what is missing or failed.
pub fn start(work: &Path, shared: &Path) -> Result<ThirdParty, String> {
    for program in [
        "/usr/sbin/opendkim",
        "/usr/sbin/opendmarc",
        "/usr/bin/unshare",
    ] {
        if !Path::new(program).exists() {
            return Err(format!(
                "{program} is not installed (tests/bench/run installs opendkim, opendmarc)"
            ));
        }
    }
    let dir = work.join("third-party");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // The sockets: in the directory Postfix sees, writable by the filters'
    // users.
    let sockets = shared.join("milters");
    std::fs::create_dir_all(&sockets).map_err(|e| e.to_string())?;
    set_mode(&sockets, 0o777);
    set_mode(&dir, 0o755);
    let write = |name: &str, text: &str| -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        set_mode(&path, 0o644);
        path
    };
    write("resolv.conf", "nameserver 127.0.0.1\noptions edns0\n");
    // Both filters treat 127.0.0.1 specially by default (OpenDKIM signs
    // rather than verifies for it, OpenDMARC ignores it), and every client
    // here is 127.0.0.1: give each a list that names no client we use.
    write("nobody.hosts", "127.255.255.254\n");
    let dkim_socket = sockets.join("opendkim.sock");
    let dmarc_socket = sockets.join("opendmarc.sock");
    let opendkim_conf = write(
        "opendkim.conf",
        &format!(
            "Syslog no\nMode v\nSocket local:{}\nUMask 000\nUserID opendkim\n\
             AuthservID {OPENDKIM_ID}\nAlwaysAddARHeader yes\n\
             InternalHosts {}/nobody.hosts\nNameservers 127.0.0.1\nOn-NoSignature accept\n\
             On-BadSignature accept\nOn-DNSError accept\n",
            dkim_socket.display(),
            dir.display(),
        ),
    );
    let opendmarc_conf = write(
        "opendmarc.conf",
        &format!(
            "Syslog false\nSocket local:{}\nUMask 000\nUserID opendmarc\n\
             AuthservID {OPENDMARC_ID}\nTrustedAuthservIDs {OPENDKIM_ID}\n\
             IgnoreHosts {}/nobody.hosts\nSPFSelfValidate true\nSPFIgnoreResults true\n\
             RejectFailures true\nFailureReports false\nRequiredHeaders false\n",
            dmarc_socket.display(),
            dir.display(),
        ),
    );
    for socket in [&dkim_socket, &dmarc_socket] {
        let _ = std::fs::remove_file(socket);
    }
    let resolv = dir.join("resolv.conf");
    let mut tp = ThirdParty {
        children: Vec::new(),
        milters: format!(
            "unix:{}, unix:{}",
            dkim_socket.display(),
            dmarc_socket.display()
        ),
        versions: format!(
            "{}; {}",
            teaminbox_bench::system::command_line("/usr/sbin/opendkim", &["-V"])
                .unwrap_or_default(),
            teaminbox_bench::system::command_line("/usr/sbin/opendmarc", &["-V"])
                .unwrap_or_default()
        ),
    };
    for (name, program, flag, conf, socket) in [
        (
            "opendkim",
            "/usr/sbin/opendkim",
            "-x",
            &opendkim_conf,
            &dkim_socket,
        ),
        (
            "opendmarc",
            "/usr/sbin/opendmarc",
            "-c",
            &opendmarc_conf,
            &dmarc_socket,
        ),
    ] {
        let log =
            std::fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
        let script = format!(
            "mount --bind '{}' /etc/resolv.conf && exec {program} -f {flag} '{}'",
            resolv.display(),
            conf.display()
        );
        let child = Command::new("/usr/bin/unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        tp.children.push(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if let Some(child) = tp.children.last_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(dir.join(format!("{name}.log")))
                        .unwrap_or_default();
                    return Err(format!("{name} exited at start ({status}): {}", log.trim()));
                }
            }
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "{name} did not create {} within 10 s",
                    socket.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        set_mode(socket, 0o666);
    }
    Ok(tp)
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}
