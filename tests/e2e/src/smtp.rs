//! A small blocking SMTP client that records every reply.
//!
//! It never panics on what the server does: a 4xx/5xx reply, a closed
//! connection or a timeout at any stage comes back as a [`Reply`] (code 0 when
//! there was no reply at all), so tests can assert exactly what a sender
//! would have seen.

use std::fmt;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

/// One SMTP reply.  Multi-line replies are joined with `\n` in `text`
/// (without the `250-` prefixes).  `code` is 0 when no reply could be read:
/// the connection was closed or reset, timed out, or the reply was not SMTP;
/// `text` then says what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    fn none(why: impl fmt::Display) -> Reply {
        Reply {
            code: 0,
            text: why.to_string(),
        }
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: permanent failure.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// No reply at all (connection closed, reset, timeout, garbage).
    pub fn is_none(&self) -> bool {
        self.code == 0
    }

    /// The RFC 3463 enhanced status code at the start of the text, e.g.
    /// `Some("4.7.1")` for `451 4.7.1 Service unavailable`.
    pub fn enhanced_code(&self) -> Option<&str> {
        let first = self.text.split_whitespace().next()?;
        let mut parts = first.split('.');
        let class = parts.next()?;
        let ok = matches!(class, "2" | "4" | "5")
            && parts.clone().count() == 2
            && parts
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        ok.then_some(first)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == 0 {
            write!(f, "(no reply: {})", self.text)
        } else {
            write!(f, "{} {}", self.code, self.text.replace('\n', " / "))
        }
    }
}

/// An SMTP client connection.  Every command and its reply is recorded in
/// [`SmtpSession::transcript`].
pub struct SmtpSession {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    /// The server's greeting (220 normally).
    pub greeting: Reply,
    transcript: Vec<(String, Reply)>,
    /// Set once the connection is known to be unusable (closed, reset, timed
    /// out): later commands are not sent and return a code-0 reply.
    broken: Option<String>,
}

/// Default read/write timeout; long enough for a 30 MiB message through a
/// milter on a slow machine, short enough that a hung test ends.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

impl SmtpSession {
    /// Connects and reads the greeting.  Only the TCP connect itself can
    /// fail here; a 4xx/5xx or missing greeting is in `greeting`.
    pub fn connect(addr: SocketAddr) -> io::Result<SmtpSession> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(DEFAULT_TIMEOUT))?;
        stream.set_write_timeout(Some(DEFAULT_TIMEOUT))?;
        let _ = stream.set_nodelay(true);
        let mut session = SmtpSession {
            reader: BufReader::new(stream.try_clone()?),
            writer: BufWriter::with_capacity(64 * 1024, stream),
            greeting: Reply::none("no greeting read yet"),
            transcript: Vec::new(),
            broken: None,
        };
        let greeting = session.read_reply();
        session
            .transcript
            .push(("<connect>".into(), greeting.clone()));
        session.greeting = greeting;
        Ok(session)
    }

    /// Changes the read and write timeouts (default 120 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        let _ = self.writer.get_ref().set_read_timeout(Some(timeout));
        let _ = self.writer.get_ref().set_write_timeout(Some(timeout));
    }

    /// Every command sent (`<connect>` for the greeting, `<message>` for the
    /// message content) with the reply it got, in order.
    pub fn transcript(&self) -> &[(String, Reply)] {
        &self.transcript
    }

    /// Sends one command line (CRLF is added) and reads the reply.
    pub fn command(&mut self, line: &str) -> Reply {
        let reply = self.send_line_and_read(line);
        self.transcript.push((line.to_string(), reply.clone()));
        reply
    }

    pub fn ehlo(&mut self, name: &str) -> Reply {
        self.command(&format!("EHLO {name}"))
    }

    pub fn helo(&mut self, name: &str) -> Reply {
        self.command(&format!("HELO {name}"))
    }

    /// `MAIL FROM:<addr> params...`; `addr` without angle brackets ("" for
    /// the null sender).
    pub fn mail_from(&mut self, addr: &str, params: &[&str]) -> Reply {
        self.command(&with_params(format!("MAIL FROM:<{addr}>"), params))
    }

    pub fn rcpt_to(&mut self, addr: &str) -> Reply {
        self.rcpt_to_with(addr, &[])
    }

    pub fn rcpt_to_with(&mut self, addr: &str, params: &[&str]) -> Reply {
        self.command(&with_params(format!("RCPT TO:<{addr}>"), params))
    }

    /// Sends DATA and, if the server answers 354, the message: line endings
    /// made CRLF (bare LF becomes CRLF), lines starting with "." dot-stuffed,
    /// a final CRLF added if missing, then ".".  Returns the reply to DATA if
    /// it was not 354, else the final reply.  The message is streamed, not
    /// copied.
    pub fn data(&mut self, message: &[u8]) -> Reply {
        self.data_from_reader(message)
    }

    /// Like [`SmtpSession::data`], reading the message from `message`, so a
    /// large message need not be in memory at all (e.g. generated on the fly).
    pub fn data_from_reader(&mut self, message: impl Read) -> Reply {
        let reply = self.command("DATA");
        if reply.code != 354 {
            return reply;
        }
        self.send_content(message)
    }

    /// The second half of [`SmtpSession::data_from_reader`], for a caller
    /// that sent DATA itself and got 354: streams the message (CRLF, dot-
    /// stuffing, final ".") and returns the final reply.
    pub fn send_content(&mut self, mut message: impl Read) -> Reply {
        if let Some(why) = &self.broken {
            let reply = Reply::none(format!("not sent, connection unusable: {why}"));
            self.transcript.push(("<message>".into(), reply.clone()));
            return reply;
        }
        let result = (|| -> io::Result<()> {
            let mut encoder = DataEncoder::new(&mut self.writer);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match message.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(io::Error::new(
                            e.kind(),
                            format!("reading the message: {e}"),
                        ))
                    }
                };
                encoder.write_all(&buf[..n])?;
            }
            encoder.finish()
        })();
        let reply = match result {
            Ok(()) => self.read_reply(),
            // The server may have answered and closed while we were still
            // sending (e.g. a size limit); its reply is worth more than our
            // write error.
            Err(e) => self.reply_after_write_error(e),
        };
        self.transcript.push(("<message>".into(), reply.clone()));
        reply
    }

    /// Sends `bytes` verbatim (no line-ending fix, no dot-stuffing, no
    /// terminating dot) and then reads a reply.  For protocol-abuse tests.
    pub fn raw(&mut self, bytes: &[u8]) -> Reply {
        let result = self
            .writer
            .write_all(bytes)
            .and_then(|()| self.writer.flush());
        let reply = match result {
            Ok(()) => self.read_reply(),
            Err(e) => self.reply_after_write_error(e),
        };
        self.transcript.push(("<raw>".into(), reply.clone()));
        reply
    }

    pub fn rset(&mut self) -> Reply {
        self.command("RSET")
    }

    pub fn noop(&mut self) -> Reply {
        self.command("NOOP")
    }

    /// Sends QUIT and closes the connection.
    pub fn quit(mut self) -> Reply {
        let reply = self.command("QUIT");
        let _ = self.writer.get_ref().shutdown(Shutdown::Both);
        reply
    }

    /// Drops the connection without QUIT (like a client that crashed).
    pub fn abort(self) {
        let _ = self.writer.get_ref().shutdown(Shutdown::Both);
    }

    fn send_line_and_read(&mut self, line: &str) -> Reply {
        if let Some(why) = &self.broken {
            return Reply::none(format!("not sent, connection unusable: {why}"));
        }
        let result = self
            .writer
            .write_all(line.as_bytes())
            .and_then(|()| self.writer.write_all(b"\r\n"))
            .and_then(|()| self.writer.flush());
        match result {
            Ok(()) => self.read_reply(),
            Err(e) => self.reply_after_write_error(e),
        }
    }

    fn reply_after_write_error(&mut self, e: io::Error) -> Reply {
        let reply = self.read_reply();
        if reply.is_none() {
            self.broken = Some(format!("write failed: {e}"));
            Reply::none(format!("write failed: {e}; then {}", reply.text))
        } else {
            self.broken
                .get_or_insert_with(|| format!("write failed: {e}"));
            reply
        }
    }

    /// Reads one (possibly multi-line) reply.
    fn read_reply(&mut self) -> Reply {
        if let Some(why) = &self.broken {
            return Reply::none(format!("connection unusable: {why}"));
        }
        let mut code = None;
        let mut texts = Vec::new();
        loop {
            let mut line = Vec::new();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => {
                    let why = if texts.is_empty() {
                        "connection closed by the server".to_string()
                    } else {
                        format!(
                            "connection closed in the middle of a reply: {}",
                            texts.join("\n")
                        )
                    };
                    self.broken = Some("connection closed by the server".into());
                    return Reply::none(why);
                }
                Ok(_) => {}
                Err(e) => {
                    let why = match e.kind() {
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                            format!("timed out waiting for a reply: {e}")
                        }
                        _ => format!("read failed: {e}"),
                    };
                    self.broken = Some(why.clone());
                    return Reply::none(why);
                }
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let parsed = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (100..600).contains(c));
            let sep = line.as_bytes().get(3).copied();
            match (parsed, sep) {
                (Some(c), Some(b'-')) | (Some(c), Some(b' ')) | (Some(c), None) => {
                    if code.is_some_and(|prev| prev != c) {
                        self.broken = Some("inconsistent multi-line reply".into());
                        return Reply::none(format!("inconsistent multi-line reply: {line}"));
                    }
                    code = Some(c);
                    texts.push(line.get(4..).unwrap_or("").to_string());
                    if sep != Some(b'-') {
                        return Reply {
                            code: c,
                            text: texts.join("\n"),
                        };
                    }
                }
                _ => {
                    self.broken = Some("malformed reply".into());
                    return Reply::none(format!("malformed reply line: {line:?}"));
                }
            }
        }
    }
}

fn with_params(mut cmd: String, params: &[&str]) -> String {
    for p in params {
        cmd.push(' ');
        cmd.push_str(p);
    }
    cmd
}

/// Streams message content in SMTP DATA form: CRLF line endings (a bare LF
/// becomes CRLF; CRLF and a bare CR pass unchanged), dot-stuffing, and on
/// `finish` a final CRLF if needed plus the terminating ".".
struct DataEncoder<W: Write> {
    inner: W,
    at_line_start: bool,
    prev_cr: bool,
    out: Vec<u8>,
}

impl<W: Write> DataEncoder<W> {
    fn new(inner: W) -> Self {
        DataEncoder {
            inner,
            at_line_start: true,
            prev_cr: false,
            out: Vec::with_capacity(80 * 1024),
        }
    }

    fn finish(mut self) -> io::Result<()> {
        if self.prev_cr {
            self.out.push(b'\n');
        } else if !self.at_line_start {
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b".\r\n");
        self.inner.write_all(&self.out)?;
        self.inner.flush()
    }
}

impl<W: Write> Write for DataEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.clear();
        for &b in buf {
            match b {
                b'\n' => {
                    if !self.prev_cr {
                        self.out.push(b'\r');
                    }
                    self.out.push(b'\n');
                    self.at_line_start = true;
                    self.prev_cr = false;
                }
                b'\r' => {
                    self.out.push(b'\r');
                    self.at_line_start = false;
                    self.prev_cr = true;
                }
                b'.' if self.at_line_start => {
                    self.out.extend_from_slice(b"..");
                    self.at_line_start = false;
                    self.prev_cr = false;
                }
                _ => {
                    self.out.push(b);
                    self.at_line_start = false;
                    self.prev_cr = false;
                }
            }
        }
        self.inner.write_all(&self.out)?;
        self.out.clear();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Every reply of one [`send_message`] run.  Stages that were not reached
/// are `None` (e.g. no `data` when every RCPT was refused).
#[derive(Clone, Debug)]
pub struct Transcript {
    /// The greeting; code 0 if the TCP connect itself failed.
    pub greeting: Reply,
    pub ehlo: Option<Reply>,
    pub mail: Option<Reply>,
    /// One reply per recipient, in order.
    pub rcpts: Vec<Reply>,
    /// The reply to the DATA command (354 normally).
    pub data: Option<Reply>,
    /// The reply after the message content (the one that says whether the
    /// message was accepted).
    pub message: Option<Reply>,
    pub quit: Option<Reply>,
    /// Everything, in order, as in [`SmtpSession::transcript`].
    pub all: Vec<(String, Reply)>,
}

impl Transcript {
    /// The reply that decided the outcome: the final reply if the message
    /// was sent, else the last reply before the session gave up.
    pub fn outcome(&self) -> &Reply {
        if let Some(r) = &self.message {
            return r;
        }
        if let Some(r) = self.data.as_ref().filter(|r| r.code != 354) {
            return r;
        }
        if let Some(r) = self.rcpts.iter().rev().find(|r| !r.is_positive()) {
            return r;
        }
        if let Some(r) = self.mail.as_ref().filter(|r| !r.is_positive()) {
            return r;
        }
        if let Some(r) = self.ehlo.as_ref().filter(|r| !r.is_positive()) {
            return r;
        }
        &self.greeting
    }

    /// The message was accepted (250 after the content).
    pub fn accepted(&self) -> bool {
        self.message.as_ref().is_some_and(|r| r.code == 250)
    }

    /// The reply codes in order, greeting first.
    pub fn codes(&self) -> Vec<u16> {
        self.all.iter().map(|(_, r)| r.code).collect()
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (cmd, reply) in &self.all {
            writeln!(f, "{cmd} -> {reply}")?;
        }
        Ok(())
    }
}

/// Sends one message the way a well-behaved client does: EHLO, MAIL, one
/// RCPT per recipient, DATA and the message if at least one RCPT was
/// accepted, QUIT.  Stops early (with QUIT) at a refused greeting, EHLO or
/// MAIL.  Never panics; see [`Transcript`].
pub fn send_message(addr: SocketAddr, from: &str, rcpts: &[&str], message: &[u8]) -> Transcript {
    let mut t = Transcript {
        greeting: Reply::none("not connected"),
        ehlo: None,
        mail: None,
        rcpts: Vec::new(),
        data: None,
        message: None,
        quit: None,
        all: Vec::new(),
    };
    let mut session = match SmtpSession::connect(addr) {
        Ok(s) => s,
        Err(e) => {
            t.greeting = Reply::none(format!("connect to {addr} failed: {e}"));
            t.all.push(("<connect>".into(), t.greeting.clone()));
            return t;
        }
    };
    t.greeting = session.greeting.clone();
    let finish = |mut t: Transcript, session: SmtpSession| {
        let usable = session.broken.is_none();
        let mut all = session.transcript.clone();
        if usable {
            let quit = session.quit();
            all.push(("QUIT".into(), quit.clone()));
            t.quit = Some(quit);
        }
        t.all = all;
        t
    };
    if t.greeting.code != 220 {
        return finish(t, session);
    }
    let ehlo = session.ehlo("client.teaminbox.test");
    t.ehlo = Some(ehlo.clone());
    if !ehlo.is_positive() {
        return finish(t, session);
    }
    let mail = session.mail_from(from, &[]);
    t.mail = Some(mail.clone());
    if !mail.is_positive() {
        return finish(t, session);
    }
    for rcpt in rcpts {
        t.rcpts.push(session.rcpt_to(rcpt));
    }
    if !t.rcpts.iter().any(Reply::is_positive) {
        return finish(t, session);
    }
    let data = session.command("DATA");
    t.data = Some(data.clone());
    if data.code == 354 {
        t.message = Some(session.send_content(message));
    }
    finish(t, session)
}

/// Runs Debian's `swaks` with `args` (add `--server 127.0.0.1:PORT`
/// yourself) and returns its output; the SMTP transcript is on stdout.
/// Panics only if swaks cannot be started at all.
pub fn swaks(args: &[&str]) -> Output {
    Command::new("swaks")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run swaks ({e}); tests/run installs it (apt-get install swaks)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = DataEncoder::new(&mut out);
        for p in parts {
            enc.write_all(p).unwrap();
        }
        enc.finish().unwrap();
        out
    }

    #[test]
    fn dot_stuffing_and_line_endings() {
        assert_eq!(encode(&[b""]), b".\r\n");
        assert_eq!(encode(&[b"a"]), b"a\r\n.\r\n");
        assert_eq!(encode(&[b"a\n.b\n..c\n"]), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(encode(&[b".x\r\n.\r\n"]), b"..x\r\n..\r\n.\r\n");
        // Split across writes: CR at the end of one chunk, LF in the next.
        assert_eq!(encode(&[b"a\r", b"\n.b\r", b"\n"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(encode(&[b"a\r"]), b"a\r\n.\r\n");
        // A dot not at the start of a line is left alone.
        assert_eq!(encode(&[b"a.b\n"]), b"a.b\r\n.\r\n");
    }

    #[test]
    fn enhanced_codes() {
        let r = Reply {
            code: 451,
            text: "4.7.1 Service unavailable - try again later".into(),
        };
        assert_eq!(r.enhanced_code(), Some("4.7.1"));
        let r = Reply {
            code: 250,
            text: "postfix.teaminbox.test".into(),
        };
        assert_eq!(r.enhanced_code(), None);
    }

    #[test]
    fn replies_from_a_fake_server() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"220 fake ESMTP\r\n").unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            assert_eq!(line, "EHLO client.teaminbox.test\r\n");
            s.write_all(b"250-fake\r\n250-SIZE 100\r\n250 8BITMIME\r\n")
                .unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            assert_eq!(line, "MAIL FROM:<a@example.net>\r\n");
            s.write_all(b"451 4.7.1 go away\r\n").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            assert_eq!(line, "QUIT\r\n");
            // Close without answering QUIT.
        });
        let t = send_message(addr, "a@example.net", &["b@example.org"], b"x");
        server.join().unwrap();
        assert_eq!(t.greeting.code, 220);
        assert_eq!(t.ehlo.as_ref().unwrap().text, "fake\nSIZE 100\n8BITMIME");
        assert_eq!(t.mail.as_ref().unwrap().code, 451);
        assert_eq!(t.outcome().code, 451);
        assert!(t.rcpts.is_empty() && t.data.is_none() && !t.accepted());
        assert!(t.quit.as_ref().unwrap().is_none(), "{t}");
        assert_eq!(t.codes(), vec![220, 250, 451, 0]);
    }
}
