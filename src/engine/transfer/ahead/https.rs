//! An http(s) connection opened ahead: TCP and TLS set up, no request sent. After a push in one
//! request, the pass leaves a holder (`git-repo-sync hold-connection`) that connects to the
//! mirror's server as that push did, trusting the same certificate authorities, and waits. The
//! next push writes its whole request there (`Connection: close`), and the holder relays it and
//! then the server's answer, up to the end of the connection. One no push comes to within
//! [`KEEP_OPEN`] closes its connection, as does one whose server closed it first (the push then
//! finds it gone and connects by itself). The credential is in the request: the holder never
//! has it but while relaying.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, TcpStream, ToSocketAddrs as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

/// How long a holder waits for the next push: the next commits of a burst. Servers close a
/// connection that sends no request after a minute or so.
pub(crate) const KEEP_OPEN: Duration = Duration::from_secs(30);

/// The largest answer relayed (receive-pack's report, with progress).
const LARGEST_ANSWER: usize = 16 * 1024 * 1024;

/// Where a push in one request over http(s) goes, as a holder connects to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
    /// The request's target: the path (and query) of `…/git-receive-pack`.
    target: String,
    /// The certificate authorities trusted, for https.
    ca_file: Option<PathBuf>,
}

/// The server's answer, as the push needs it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Endpoint {
    /// `url` (`http[s]://host[:port]/path`), reached trusting `ca_file` over https; `None` for
    /// anything else.
    pub(crate) fn parse(url: &str, ca_file: Option<&Path>) -> Option<Self> {
        let uri: ureq::http::Uri = url.parse().ok()?;
        let tls = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        if tls && ca_file.is_none() {
            return None;
        }
        Some(Self {
            tls,
            host: uri.host()?.to_owned(),
            port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            target: uri.path_and_query()?.as_str().to_owned(),
            ca_file: ca_file.filter(|_| tls).map(Path::to_owned),
        })
    }

    /// `scheme://host:port`, the holder's argument.
    fn address(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// The Host header's value.
    fn authority(&self) -> String {
        match (self.tls, self.port) {
            (true, 443) | (false, 80) => self.host.clone(),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    /// Where the holder for this endpoint listens and the lock that keeps it the only one;
    /// `None` without a private directory, or where the path would be too long.
    fn paths(&self) -> Option<(PathBuf, PathBuf)> {
        let dir = super::super::shared_ssh::socket_dir()?;
        let ca = self
            .ca_file
            .as_deref()
            .map(Path::to_string_lossy)
            .unwrap_or_default();
        let id = super::super::shared_ssh::endpoint_id(&self.address(), &ca);
        let socket = dir.join(format!("h{id}"));
        let lock = dir.join(format!("h{id}.lock"));
        (socket.as_os_str().len() <= super::MAX_SOCKET_PATH).then_some((socket, lock))
    }

    /// A POST of `body` with `headers`, as HTTP/1.1 writes it, asking the server to close the
    /// connection after its answer (which is how the holder knows the answer is whole).
    pub(crate) fn request(&self, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut request = format!("POST {} HTTP/1.1\r\nHost: {}\r\n", self.target, self.authority());
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        request
    }

    /// Sends `request` (from [`Self::request`]) through the connection a holder keeps open for
    /// this endpoint, if one waits, and reads the answer; `None` when none waits, or when what
    /// came back is not a whole answer.
    /// `body_whole` says when a body is whole before its end (receive-pack's report), so that
    /// the push does not wait for the server to finish what follows it.
    pub(crate) fn post(
        &self,
        request: &[u8],
        timeout: Duration,
        body_whole: impl Fn(&[u8]) -> bool,
    ) -> Option<Response> {
        let whole = |raw: &[u8]| parse_response(raw, &body_whole).is_some();
        let raw = super::exchange(&self.paths()?.0, request, timeout, whole)?.ok()?;
        parse_response(&raw, &body_whole)
    }

    /// The command line of a holder that connects to this endpoint and waits [`KEEP_OPEN`] for
    /// the next push; `timeout` bounds its connecting and the server's silences.
    pub(super) fn command_line(&self, timeout: Duration) -> Option<Vec<OsString>> {
        let (socket, lock) = self.paths()?;
        let mut args = super::holder_args("hold-connection", &socket, &lock, KEEP_OPEN);
        args.extend(["--timeout".into(), timeout.as_secs().max(1).to_string().into()]);
        if let Some(ca) = &self.ca_file {
            args.extend(["--ca-file".into(), ca.into()]);
        }
        args.push(self.address().into());
        Some(args)
    }
}

/// The holder: `git-repo-sync hold-connection`. Returns once its connection was used, or could
/// not be set up.
pub(crate) fn hold(
    socket: &Path,
    lock: &Path,
    idle: Duration,
    timeout: Duration,
    address: &str,
    ca_file: Option<&Path>,
) -> Result<()> {
    let Some(lock) = super::try_lock(lock)? else {
        return Ok(());
    };
    let endpoint = Endpoint::parse(address, ca_file).context("not an http(s) address")?;
    let tcp = connect(&endpoint.host, endpoint.port, timeout)?;
    let probe = tcp.try_clone()?;
    let mut server: Box<dyn ReadWrite> = if endpoint.tls {
        let ca_file = endpoint
            .ca_file
            .as_deref()
            .context("https without certificate authorities")?;
        Box::new(tls_stream(tcp, &endpoint.host, ca_file)?)
    } else {
        Box::new(tcp)
    };

    let _ = fs::remove_file(socket);
    let listener =
        UnixListener::bind(socket).with_context(|| format!("listening at {}", socket.display()))?;
    let client: Arc<Mutex<Option<UnixStream>>> = Arc::default();
    // The server sees the connection close; nothing more is owed before a request.
    super::expire_after(idle, socket, Arc::clone(&client), || {});
    let (mut stream, _) = listener.accept().context("waiting for a push")?;
    {
        let mut slot = client.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = fs::remove_file(socket);
        *slot = Some(stream.try_clone()?);
    }
    drop(lock);
    if !still_open(server.as_mut(), &probe) {
        // The push finds nothing relayed and connects by itself.
        return Ok(());
    }
    stream.set_read_timeout(Some(idle))?;
    let mut request = Vec::new();
    stream.read_to_end(&mut request)?;
    // A server that stops answering ends the holder after the mirror's `timeout`, as a push
    // of its own would end.
    probe.set_write_timeout(Some(timeout))?;
    probe.set_read_timeout(Some(timeout))?;
    server.write_all(&request)?;
    server.flush()?;
    let mut relayed = 0;
    let mut push_left = false;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        // A server that closes without TLS's close_notify ends the answer as well.
        let read = match server.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        relayed += read;
        if relayed > LARGEST_ANSWER {
            break;
        }
        // Read to the end after a push that left at its report: a server whose client goes
        // away may stop the mirror's hooks and `gc --auto` that follow the report.
        if !push_left {
            push_left = stream.write_all(&buffer[..read]).is_err();
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

trait ReadWrite: io::Read + io::Write {}
impl<T: io::Read + io::Write> ReadWrite for T {}

/// A TCP connection to `host`:`port`, trying each of its addresses for `timeout`.
fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = None;
    for address in (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
    {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                return Ok(tcp);
            }
            Err(err) => last = Some(err),
        }
    }
    match last {
        Some(err) => Err(err).with_context(|| format!("connecting to {host}:{port}")),
        None => bail!("{host} has no address"),
    }
}

/// TLS over `tcp` to `host`, trusting the certificates in `ca_file` only (as the push in one
/// request does), its handshake done.
fn tls_stream(
    tcp: TcpStream,
    host: &str,
    ca_file: &Path,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let pem = fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for item in ureq::tls::parse_pem(&pem) {
        if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
            roots.add(rustls::pki_types::CertificateDer::from(cert.der().to_vec()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(
        host.trim_start_matches('[').trim_end_matches(']').to_owned(),
    )?;
    let connection = rustls::ClientConnection::new(Arc::new(config), name)?;
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Whether the server has neither closed the connection nor sent anything (before a request,
/// anything it sends is a goodbye: a close alert, a 408). TLS's own messages since the
/// handshake (TLS 1.3's session tickets) are read on the way.
fn still_open(server: &mut dyn ReadWrite, tcp: &TcpStream) -> bool {
    if tcp.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(server.read(&mut [0u8; 1]), Err(err) if err.kind() == io::ErrorKind::WouldBlock);
    tcp.set_nonblocking(false).is_ok() && open
}

/// An HTTP/1.1 answer: the status, the content type and the body (de-chunked); `None` when it is
/// not whole yet. A body of no stated length ends with the connection (`raw` is all there was),
/// or where `body_whole` says so.
fn parse_response(raw: &[u8], body_whole: &dyn Fn(&[u8]) -> bool) -> Option<Response> {
    let end = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()?
        .strip_prefix("HTTP/1.")?
        .get(2..)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let (mut content_type, mut chunked, mut length) = (None, false, None);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_owned()),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-length" => length = Some(value.parse::<usize>().ok()?),
            _ => {}
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        let (body, ended) = dechunk(rest);
        (ended || body_whole(&body)).then_some(body)?
    } else if let Some(length) = length {
        rest.get(..length)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(Response {
        status,
        content_type,
        body,
    })
}

/// A chunked body's data so far, and whether its last chunk came.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") else {
            return (body, false);
        };
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|text| usize::from_str_radix(text.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else {
            return (body, false);
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (body, true);
        }
        let Some(chunk) = rest.get(..size) else {
            return (body, false);
        };
        body.extend_from_slice(chunk);
        let Some(after) = rest[size..].strip_prefix(b"\r\n") else {
            return (body, false);
        };
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_read_from_its_url_and_writes_a_whole_request() {
        let ca = Path::new("/etc/ssl/certs/ca-certificates.crt");
        let endpoint = Endpoint::parse("https://example.com:8443/a/repo.git/git-receive-pack", Some(ca))
            .expect("an https endpoint");
        assert_eq!(endpoint.address(), "https://example.com:8443");
        let request = endpoint.request(&[("Authorization", "Basic eA==")], b"0000");
        assert_eq!(
            String::from_utf8(request).expect("text"),
            "POST /a/repo.git/git-receive-pack HTTP/1.1\r\nHost: example.com:8443\r\n\
             Authorization: Basic eA==\r\nContent-Length: 4\r\nConnection: close\r\n\r\n0000"
        );
        let plain = Endpoint::parse("http://example.com/r.git/git-receive-pack", None).expect("http");
        assert_eq!(plain.authority(), "example.com");
        assert_eq!(plain.ca_file, None);
        assert_eq!(
            Endpoint::parse("https://example.com/r.git", None),
            None,
            "https trusts a CA file"
        );
        assert_eq!(Endpoint::parse("ssh://example.com/r.git", None), None);
    }

    #[test]
    fn a_connection_the_server_closed_or_spoke_on_is_not_open_any_more() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let connect = || {
            let tcp = TcpStream::connect(listener.local_addr().expect("address")).expect("connecting");
            let (server, _) = listener.accept().expect("accepting");
            (tcp, server)
        };
        let (tcp, _server) = connect();
        let mut reader = tcp.try_clone().expect("clone");
        assert!(still_open(&mut reader, &tcp), "silent");
        assert!(still_open(&mut reader, &tcp), "and blocking again");

        let (tcp, server) = connect();
        drop(server);
        let mut reader = tcp.try_clone().expect("clone");
        assert!(!still_open(&mut reader, &tcp), "closed");

        let (tcp, mut server) = connect();
        server
            .write_all(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
            .expect("writing");
        let mut reader = tcp.try_clone().expect("clone");
        std::thread::sleep(Duration::from_millis(50));
        assert!(!still_open(&mut reader, &tcp), "said goodbye");
    }

    #[test]
    fn answers_are_read_whole_chunked_or_not_and_cut_ones_are_refused() {
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-git-receive-pack-result\r\n\
                        Transfer-Encoding: chunked\r\n\r\n4\r\n0000\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
        let never = |_: &[u8]| false;
        let response = parse_response(chunked, &never).expect("whole");
        assert_eq!(response.status, 200);
        assert_eq!(
            response.content_type.as_deref(),
            Some("application/x-git-receive-pack-result")
        );
        assert_eq!(response.body, b"0000abc");
        let cut = &chunked[..chunked.len() - 7];
        assert_eq!(parse_response(cut, &never), None, "no last chunk");
        let at_abc = |body: &[u8]| body.ends_with(b"abc");
        assert_eq!(
            parse_response(cut, &at_abc).map(|response| response.body),
            Some(b"0000abc".to_vec()),
            "whole by what it holds"
        );

        let sized = b"HTTP/1.0 401 Unauthorized\r\ncontent-length: 2\r\n\r\nno";
        let response = parse_response(sized, &never).expect("whole");
        assert_eq!((response.status, response.body.as_slice()), (401, &b"no"[..]));
        assert_eq!(
            parse_response(&sized[..sized.len() - 1], &never),
            None,
            "shorter than its length"
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n", &never),
            None,
            "no end of headers"
        );
    }
}
