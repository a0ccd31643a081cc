//! A push in one request instead of two. `git push` over http first GETs the mirror's refs (the
//! advertisement), then POSTs the commands and the pack: two round trips on top of the
//! connection's. Over ssh, receive-pack sends the advertisement first and git waits for it
//! before it sends the commands and the pack: a round trip there too. What this repository last
//! left on the mirror is known, so the wait is skipped: `git send-pack --stateless-rpc` (what
//! git's own http helper runs) is given those refs as the advertisement, and the request it
//! writes goes out at once: in one POST, or over ssh into `git-receive-pack` as a session of
//! the master the pass shares, whose advertisement is then read and passed over. receive-pack
//! checks every ref's old value as it updates it, atomically, so a mirror changed meanwhile
//! refuses the whole push and keeps what it had; the caller then pushes the usual way, which
//! reads the mirror's refs.
//!
//! Taken only where the request is what git would send: over http a token for the credential,
//! no proxy and no http setting of git's that this does not apply; over ssh a master of ours
//! to go through; no URL rewritten by git's config; and a small request (a large one is worth
//! the extra round trip, and git's own http code streams it).

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;

use super::ahead::https::Response;
use super::connection::MirrorGit;
use crate::engine::plan::{Change, RefResult, Refs};
use crate::url::Transport;

/// The largest request sent this way: git's own `http.postBuffer` default, under which git sends
/// a request in one piece too.
const LARGEST_REQUEST: usize = 1024 * 1024;

/// Environment variables that change what git's http code does and that this path does not
/// follow: where one is set, the push goes the usual way.
const ENV_LEFT_TO_GIT: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CERT",
    "GIT_SSL_KEY",
    "GIT_SSL_CAPATH",
    "GIT_SSL_CERT_PASSWORD_PROTECTED",
    "GIT_SSL_VERSION",
    "GIT_SSL_CIPHER_LIST",
    "GIT_HTTP_USER_AGENT",
    "GIT_HTTP_PROXY_AUTHMETHOD",
    "GIT_CURL_VERBOSE",
    "GIT_TRACE_CURL",
    "GIT_PROXY_SSL_CERT",
    "GIT_PROXY_SSL_KEY",
    "GIT_PROXY_SSL_CAINFO",
];

/// `http.*` settings (without a URL of their own) this path applies or that do not change a
/// push; any other one leaves the push to git.
const HTTP_KEYS_FOLLOWED: &[&str] = &[
    "http.sslcainfo",
    "http.sslverify",
    "http.proactiveauth",
    "http.lowspeedlimit",
    "http.lowspeedtime",
    "http.postbuffer",
    "http.version",
    "http.followredirects",
    "http.maxrequests",
    "http.minsessions",
];

/// Where git's TLS (curl with OpenSSL or GnuTLS) finds the system's certificate authorities on
/// the usual systems, when nothing names a file.
const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// What came of a push in one request.
#[derive(Debug)]
pub(crate) enum Tried {
    /// The mirror took every change: the result per ref.
    Pushed(BTreeMap<String, RefResult>),
    /// The server refused the credential: `git push` would only be refused again (a second
    /// failed login, which a server may count against the account).
    Failed(anyhow::Error),
    /// Not taken: the push goes the usual way. `refused` when the server or this machine's
    /// set-up does not allow it (not asked again for a while); otherwise the mirror was not as
    /// last left (and kept what it had), or the request was too large, or not sent.
    Declined { refused: bool, why: String },
}

/// How the request would reach the mirror, when git's config and environment leave nothing to
/// git that this does not do.
pub(crate) enum Setup {
    Http(HttpSetup),
    /// `git-receive-pack '<path>'`, run as a session of the pass's ssh master.
    Ssh {
        remote: String,
    },
}

impl Setup {
    /// The way to the mirror behind `git`, or why not ([`Tried::Declined`], `refused` when
    /// trying again soon cannot help).
    pub(crate) fn new(git: &MirrorGit<'_>, requests: &SharedRequests) -> Result<Self, Tried> {
        let declined = |refused, why: String| Tried::Declined { refused, why };
        match git.mirror().url.transport() {
            Transport::Http => requests
                .http_settings(git)
                .and_then(|settings| HttpSetup::new(git, settings))
                .map(Self::Http)
                .map_err(|why| declined(true, why)),
            Transport::Ssh => {
                // No master this pass (one mirror on the host, not kept open): no round trip
                // to save on a connection opened for this push alone. Not remembered.
                if git.ssh_session("").is_none() {
                    return Err(declined(false, "no shared ssh connection".into()));
                }
                let path = git
                    .mirror()
                    .url
                    .ssh_path()
                    .ok_or_else(|| declined(true, "no path in the URL".into()))?;
                let settings = requests.http_settings(git).map_err(|why| declined(true, why))?;
                if let Some(key) = rewriting(settings, git.url()) {
                    return Err(declined(true, format!("{key} rewrites the URL")));
                }
                Ok(Self::Ssh {
                    remote: ssh_remote(path),
                })
            }
            _ => Err(declined(true, "not an http(s) or ssh URL".into())),
        }
    }
}

/// The command a push to the repository at `path` runs over ssh, quoted as git quotes it (which
/// gitolite's forced command matches).
pub(crate) fn ssh_remote(path: &str) -> String {
    format!("git-receive-pack {}", crate::shell::quote_as_git(path))
}

/// The first `url.*.insteadOf` or `url.*.pushInsteadOf` among `settings` that rewrites `url`.
fn rewriting<'s>(settings: &'s [(String, String)], url: &str) -> Option<&'s str> {
    settings
        .iter()
        .find(|(key, value)| {
            key.starts_with("url.")
                && (key.ends_with(".insteadof") || key.ends_with(".pushinsteadof"))
                && url.starts_with(value.as_str())
        })
        .map(|(key, _)| key.as_str())
}

/// The TLS and credential this path would send the request with over http(s).
pub(crate) struct HttpSetup {
    /// `https://host[:port]/path/git-receive-pack`.
    endpoint: String,
    authorization: String,
    agent: ureq::Agent,
    /// The same, for a connection opened ahead.
    ahead: Option<super::ahead::https::Endpoint>,
}

impl HttpSetup {
    /// Why not, when the push is better left to git: no token, a proxy, an `http.*` setting not
    /// followed here, a URL rewritten by `url.*.insteadOf`, no CA file to trust.
    fn new(git: &MirrorGit<'_>, settings: &[(String, String)]) -> Result<Self, String> {
        let token = git.token().ok_or("the mirror has no token_env")?;
        if let Some(var) = ENV_LEFT_TO_GIT.iter().find(|var| std::env::var_os(var).is_some()) {
            return Err(format!("{var} is set"));
        }
        let url = git.url();
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if let Some(key) = rewriting(settings, url) {
            return Err(format!("{key} rewrites the URL"));
        }
        for (key, _) in settings {
            if key.starts_with("http.") && !HTTP_KEYS_FOLLOWED.contains(&key.as_str()) {
                return Err(format!("{key} is set"));
            }
        }
        let last = |name: &str| {
            settings
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, v)| v.as_str())
        };
        if last("http.sslverify").is_some_and(|value| !is_true(value)) {
            return Err("http.sslVerify is off".into());
        }
        let timeout = Some(git.mirror().timeout());
        let mut ca_file = None;
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .user_agent(USER_AGENT)
            .timeout_connect(timeout)
            .timeout_send_request(timeout)
            .timeout_send_body(timeout)
            .timeout_recv_response(timeout)
            .timeout_recv_body(timeout);
        if scheme.as_deref() == Some("https") {
            let ca = std::env::var_os("GIT_SSL_CAINFO")
                .filter(|value| !value.is_empty())
                .map(std::path::PathBuf::from)
                .or_else(|| last("http.sslcainfo").map(expand_home))
                .or_else(|| {
                    SYSTEM_CA_FILES
                        .iter()
                        .map(std::path::PathBuf::from)
                        .find(|file| file.is_file())
                })
                .ok_or("no CA file")?;
            let pem = std::fs::read(&ca).map_err(|err| format!("reading {}: {err}", ca.display()))?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(format!("no certificate in {}", ca.display()));
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
                    .build(),
            );
            ca_file = Some(ca);
        } else if scheme.as_deref() != Some("http") {
            return Err("not an http(s) URL".into());
        }
        let user = git.mirror().url.user().unwrap_or("git");
        let credential = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
        let endpoint = format!("{}/git-receive-pack", url.trim_end_matches('/'));
        Ok(Self {
            ahead: super::ahead::https::Endpoint::parse(&endpoint, ca_file.as_deref()),
            endpoint,
            authorization: format!("Basic {credential}"),
            agent: config.build().new_agent(),
        })
    }
}

/// Requests built during one pass, by what `git send-pack` was given: mirrors last left with
/// the same refs get the same commands and pack, built once (eight mirrors of a fleet's host
/// then cost one pack, not eight).
#[derive(Debug, Default)]
pub(crate) struct SharedRequests {
    built: Mutex<HashMap<Vec<u8>, Slot>>,
    /// The connections to open ahead for the pushes after these (see [`super::ahead`]), once
    /// the pass's pushes are done.
    ahead: Mutex<Vec<super::ahead::Holder>>,
    /// git's `http.*` and `url.*` settings for the repository, read once for all its mirrors.
    settings: OnceLock<Result<Vec<(String, String)>, String>>,
}

/// One request's place among the [`SharedRequests`]: empty until its first mirror built it;
/// `None` inside when it is larger than one piece.
type Slot = Arc<OnceLock<Result<Option<Vec<u8>>, String>>>;

impl SharedRequests {
    /// git's `http.*` and `url.*` settings for the repository `git` pushes from (all the
    /// pass's mirrors are of one repository), or why they could not be read.
    fn http_settings(&self, git: &MirrorGit<'_>) -> Result<&[(String, String)], String> {
        self.settings
            .get_or_init(|| http_settings(git.common_dir()).map_err(|err| format!("{err:#}")))
            .as_deref()
            .map_err(Clone::clone)
    }

    /// Keeps `holder` to start once the pass is recorded ([`Self::take_ahead`]).
    pub(crate) fn leave_ahead(&self, holder: Option<super::ahead::Holder>) {
        if let Some(holder) = holder {
            self.ahead
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(holder);
        }
    }

    /// The holders kept, to start once the pass is recorded ([`super::ahead::start`]).
    pub(crate) fn take_ahead(&self) -> Vec<super::ahead::Holder> {
        std::mem::take(
            &mut *self
                .ahead
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The request `git send-pack` writes for `input` (what to push, then the advertisement),
    /// built by the first mirror that asks; the others wait for it.
    fn get(&self, git: &MirrorGit<'_>, input: Vec<u8>) -> Result<Slot> {
        let slot = {
            let mut built = self
                .built
                .lock()
                .map_err(|_| anyhow!("another mirror's request build panicked"))?;
            Arc::clone(built.entry(input.clone()).or_default())
        };
        slot.get_or_init(|| build_request(git, &input).map_err(|err| format!("{err:#}")));
        Ok(slot)
    }
}

/// Pushes `changes` in one request, telling `git send-pack` that the mirror has `known`. Every
/// change is forced where it is not a fast-forward (the caller asks only for a forcing mirror)
/// and the push is atomic.
pub(crate) fn push(
    git: &MirrorGit<'_>,
    setup: &Setup,
    changes: &[Change],
    known: &Refs,
    requests: &SharedRequests,
) -> Tried {
    match push_or_fail(git, setup, changes, known, requests) {
        Ok(tried) => tried,
        Err(err) => Tried::Declined {
            refused: false,
            why: format!("{err:#}"),
        },
    }
}

fn push_or_fail(
    git: &MirrorGit<'_>,
    setup: &Setup,
    changes: &[Change],
    known: &Refs,
    requests: &SharedRequests,
) -> Result<Tried> {
    // What to push, then what the mirror has, as git's http helper hands them over.
    let mut input = Vec::new();
    for change in changes {
        let spec = match change {
            Change::Create { refname, new } | Change::Update { refname, new, .. } => {
                format!("+{new}:{refname}\n")
            }
            Change::Delete { refname, .. } => format!(":{refname}\n"),
        };
        pkt_line(&mut input, spec.as_bytes());
    }
    input.extend_from_slice(b"0000");
    advertisement(&mut input, known, changes);
    let slot = requests.get(git, input)?;
    let request = match slot.get() {
        Some(Ok(Some(request))) => request,
        Some(Ok(None)) => {
            return Ok(Tried::Declined {
                refused: false,
                why: "the request is larger than one piece".into(),
            });
        }
        Some(Err(why)) => anyhow::bail!("{why}"),
        None => anyhow::bail!("no request was built"),
    };
    let sent = match setup {
        Setup::Http(http) => http.send(git, request)?,
        Setup::Ssh { remote } => send_over_ssh(git, remote, request)?,
    };
    let answer = match sent {
        Ok(answer) => answer,
        Err(tried) => return Ok(tried),
    };
    let reported = match report_status(&answer) {
        Ok(reported) => reported,
        Err(why) => {
            return Ok(Tried::Declined {
                refused: false,
                why: git.mirror().url.redact(&why),
            });
        }
    };
    let source = super::SourceObjects::open(git.common_dir());
    let mut results = BTreeMap::new();
    for change in changes {
        let refname = change.refname();
        match reported.get(refname) {
            Some(Ok(())) => {
                results.insert(refname.to_owned(), result_of(&source, change));
            }
            Some(Err(why)) => {
                return Ok(Tried::Declined {
                    refused: false,
                    why: format!("{refname}: {why}"),
                });
            }
            None => {
                return Ok(Tried::Declined {
                    refused: false,
                    why: format!("no report for {refname}"),
                });
            }
        }
    }
    Ok(Tried::Pushed(results))
}

/// Runs `git send-pack --stateless-rpc` (what git's own http helper runs) on `input` and keeps
/// the request it writes; `None` when that is larger than one piece. send-pack then waits for
/// the mirror's answer, which we read ourselves: it is stopped.
fn build_request(git: &MirrorGit<'_>, input: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut cmd = git.command();
    cmd.args([
        "send-pack",
        "--stateless-rpc",
        "--helper-status",
        "--thin",
        "--atomic",
        "--progress",
    ])
    .arg(git.url())
    .arg("--stdin")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = KillOnDrop(
        cmd.spawn()
            .context("starting git send-pack (is git installed?)")?,
    );
    let (Some(mut stdin), Some(mut stdout)) = (child.0.stdin.take(), child.0.stdout.take()) else {
        bail!("git send-pack started without its pipes");
    };
    stdin
        .write_all(input)
        .context("handing git send-pack what to push")?;
    read_request(&mut stdout)
}

/// receive-pack's report (`unpack ok`, then `ok <ref>` or `ng <ref> <why>` per ref), read from
/// its answer: side-band-64k packets whose band 1 carries the report's own pkt-lines (band 2 is
/// progress, band 3 a fatal error). Why not, when the answer holds no whole report.
fn report_status(answer: &[u8]) -> Result<BTreeMap<String, Result<(), String>>, String> {
    let mut report = Vec::new();
    let mut rest = answer;
    while let Some((payload, after)) = next_pkt(rest) {
        rest = after;
        let Some(payload) = payload else { break };
        match payload.split_first() {
            Some((1, data)) => report.extend_from_slice(data),
            Some((2, _)) => {}
            Some((3, said)) => return Err(String::from_utf8_lossy(said).trim().to_owned()),
            // Without side-band: the report's lines themselves.
            _ => pkt_line(&mut report, payload),
        }
    }
    let mut reported = BTreeMap::new();
    let mut unpacked = None;
    let mut lines = &report[..];
    while let Some((payload, after)) = next_pkt(lines) {
        lines = after;
        let Some(payload) = payload else { break };
        let line = String::from_utf8_lossy(payload);
        let line = line.trim_end_matches('\n');
        if let Some(status) = line.strip_prefix("unpack ") {
            unpacked = Some(status.to_owned());
        } else if let Some(refname) = line.strip_prefix("ok ") {
            reported.insert(refname.to_owned(), Ok(()));
        } else if let Some(rest) = line.strip_prefix("ng ") {
            let (refname, why) = rest.split_once(' ').unwrap_or((rest, "rejected"));
            reported.insert(refname.to_owned(), Err(why.to_owned()));
        }
    }
    match unpacked.as_deref() {
        Some("ok") => Ok(reported),
        Some(why) => Err(format!("the mirror could not unpack the objects: {why}")),
        None => Err("the mirror's answer holds no report".into()),
    }
}

/// The first pkt-line of `data`: its payload (`None` for a flush) and what follows. `None`
/// when `data` does not start with a whole pkt-line.
fn next_pkt(data: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let length = usize::from_str_radix(std::str::from_utf8(data.get(..4)?).ok()?, 16).ok()?;
    match length {
        0 => Some((None, &data[4..])),
        1..=3 => None,
        _ => Some((Some(data.get(4..length)?), &data[length..])),
    }
}

/// The headers of a push's POST, beside its length and host.
const REQUEST_TYPE: &str = "application/x-git-receive-pack-request";
const RESULT_TYPE: &str = "application/x-git-receive-pack-result";
const USER_AGENT: &str = concat!("git/2 (git-repo-sync ", env!("CARGO_PKG_VERSION"), ")");

impl HttpSetup {
    /// POSTs `request`, through the connection opened ahead for this mirror where one waits;
    /// the mirror's answer, or what came of the push when there is none.
    fn send(&self, git: &MirrorGit<'_>, request: &[u8]) -> Result<Result<Vec<u8>, Tried>> {
        let ahead = self.ahead.as_ref().and_then(|ahead| {
            let headers = [
                ("User-Agent", USER_AGENT),
                ("Authorization", self.authorization.as_str()),
                ("Content-Type", REQUEST_TYPE),
                ("Accept", RESULT_TYPE),
            ];
            ahead.post(
                &ahead.request(&headers, request),
                git.mirror().timeout(),
                answer_whole,
            )
        });
        let response = match ahead {
            Some(response) => response,
            None => match self.send_now(git, request)? {
                Ok(response) => response,
                Err(tried) => return Ok(Err(tried)),
            },
        };
        let Response {
            status,
            content_type,
            body,
        } = response;
        let result_type = content_type.as_deref() == Some(RESULT_TYPE);
        if status == 401 {
            // Not retried, and explained, as git push's refused login is.
            let refused = crate::failure::MirrorError::new(
                crate::failure::Failure::AuthRefused,
                format!(
                    "git push failed: authentication failed: the server refused the credentials \
                     (HTTP 401 for '{}')",
                    git.url()
                ),
            );
            return Ok(Err(Tried::Failed(anyhow::Error::new(refused))));
        }
        if status != 200 || !result_type {
            // A server that wants the GET first (a redirect, an unknown endpoint) keeps refusing;
            // one that is busy or asks for other credentials is git's to report.
            let refused = !matches!(status, 401 | 403 | 429 | 500..=599);
            return Ok(Err(Tried::Declined {
                refused,
                why: format!("the server answered HTTP {status}"),
            }));
        }
        Ok(Ok(body))
    }

    /// POSTs `request` over a connection of its own: the answer, whose body is read only where
    /// it is receive-pack's result.
    fn send_now(&self, git: &MirrorGit<'_>, request: &[u8]) -> Result<Result<Response, Tried>> {
        let response = match self
            .agent
            .post(&self.endpoint)
            .header("Authorization", &self.authorization)
            .header("Content-Type", REQUEST_TYPE)
            .header("Accept", RESULT_TYPE)
            .send(request)
        {
            Ok(response) => response,
            Err(err) => {
                // A certificate this path does not trust where git might: left to git for a while.
                let refused = matches!(
                    err,
                    ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_)
                );
                return Ok(Err(Tried::Declined {
                    refused,
                    why: git.mirror().url.redact(&err.to_string()),
                }));
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = if status == 200 && content_type.as_deref() == Some(RESULT_TYPE) {
            response
                .into_body()
                .with_config()
                .limit(16 * 1024 * 1024)
                .read_to_vec()
                .context("reading the mirror's answer")?
        } else {
            Vec::new()
        };
        Ok(Ok(Response {
            status,
            content_type,
            body,
        }))
    }
}

impl Setup {
    /// After a push that went in one request: the connection or session to open ahead for the
    /// next one (see [`super::ahead`]).
    pub(crate) fn ahead(&self, git: &MirrorGit<'_>) -> Option<super::ahead::Holder> {
        match self {
            Self::Http(http) => Some(super::ahead::Holder::Https {
                endpoint: http.ahead.clone()?,
                timeout: git.mirror().timeout(),
            }),
            Self::Ssh { remote } => super::ahead::ssh::spare_for(git, remote),
        }
    }
}

/// Runs `remote` (`git-receive-pack '<path>'`) as a session of the pass's ssh master with
/// `request` on its stdin from the start; the mirror's answer after its advertisement, or what
/// came of the push when there is none. Anything unexpected leaves the push to git, which
/// says what is wrong in its own words.
fn send_over_ssh(git: &MirrorGit<'_>, remote: &str, request: &[u8]) -> Result<Result<Vec<u8>, Tried>> {
    let declined = |why: String| Ok(Err(Tried::Declined { refused: false, why }));
    // Through the session opened ahead for this mirror, where one waits: an exchange that breaks
    // there goes through a new session, which receive-pack's check of every old value makes
    // safe whatever the first one did.
    if let Some(master) = git.ssh_master()
        && let Some(Ok(output)) =
            super::ahead::ssh::exchange(master, remote, request, git.mirror().timeout(), |out| {
                after_flush(out).is_some_and(answer_whole)
            })
        && let Some(answer) = after_flush(&output)
        && report_status(answer).is_ok()
    {
        return Ok(Ok(answer.to_vec()));
    }
    let Some(mut session) = git.ssh_session(remote) else {
        return declined("no shared ssh connection".into());
    };
    let Some(output) = crate::child::run_watched(&mut session, Some(request), git.mirror().timeout())
        .context("running ssh (is it installed?)")?
    else {
        return declined("the mirror sent nothing for the mirror's `timeout`".into());
    };
    match after_flush(&output.stdout) {
        Some(answer) if output.status.success() => Ok(Ok(answer.to_vec())),
        _ => {
            let said = crate::failure::reason_lines(&output.stderr).join(" ");
            declined(format!("ssh {}: {said}", output.status))
        }
    }
}

/// Whether `answer`, receive-pack's answer, holds its whole report (the report's own flush,
/// inside band 1), a fatal error, or its end. receive-pack writes the report once the refs are
/// updated, then runs the mirror's post-receive hooks and `gc --auto` before its last flush:
/// the push does not wait for those (the holder that relays it drains them).
fn answer_whole(answer: &[u8]) -> bool {
    let mut report = Vec::new();
    let mut rest = answer;
    while let Some((payload, after)) = next_pkt(rest) {
        rest = after;
        match payload.map(<[u8]>::split_first) {
            None | Some(Some((3, _))) => return true,
            Some(Some((1, data))) => {
                report.extend_from_slice(data);
                if after_flush(&report).is_some() {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// What follows the first flush in `out`, which starts with pkt-lines up to it (receive-pack's
/// advertisement, or its report); `None` before that flush has come.
fn after_flush(out: &[u8]) -> Option<&[u8]> {
    let mut rest = out;
    loop {
        let (payload, after) = next_pkt(rest)?;
        rest = after;
        if payload.is_none() {
            return Some(rest);
        }
    }
}

/// Writes one pkt-line: four hex digits of length (its own included), then the data.
fn pkt_line(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:04x}", data.len() + 4).as_bytes());
    out.extend_from_slice(data);
}

/// The advertisement receive-pack would send if the mirror has `known`: the refs with the
/// capabilities of any git server since 2.4 on the first line.
fn advertisement(out: &mut Vec<u8>, known: &Refs, changes: &[Change]) {
    let format = match known
        .values()
        .next()
        .or_else(|| changes.iter().find_map(new_of))
        .map(String::len)
    {
        Some(64) => "sha256",
        _ => "sha1",
    };
    let capabilities =
        format!("report-status delete-refs side-band-64k atomic ofs-delta object-format={format}");
    let mut first = true;
    let zero = "0".repeat(if format == "sha256" { 64 } else { 40 });
    let refs: Vec<(&str, &str)> = if known.is_empty() {
        vec![(zero.as_str(), "capabilities^{}")]
    } else {
        known
            .iter()
            .map(|(name, oid)| (oid.as_str(), name.as_str()))
            .collect()
    };
    for (oid, name) in refs {
        let mut line = format!("{oid} {name}");
        if first {
            line.push('\0');
            line.push_str(&capabilities);
            first = false;
        }
        line.push('\n');
        pkt_line(out, line.as_bytes());
    }
    out.extend_from_slice(b"0000");
}

fn new_of(change: &Change) -> Option<&String> {
    match change {
        Change::Create { new, .. } | Change::Update { new, .. } => Some(new),
        Change::Delete { .. } => None,
    }
}

/// Reads send-pack's request: pkt-lines whose payloads are the request, up to a flush. `None`
/// when it is larger than [`LARGEST_REQUEST`].
fn read_request(stdout: &mut impl std::io::Read) -> Result<Option<Vec<u8>>> {
    let mut request = Vec::new();
    loop {
        let mut header = [0_u8; 4];
        stdout
            .read_exact(&mut header)
            .context("git send-pack ended before its request did")?;
        let length = std::str::from_utf8(&header)
            .ok()
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .ok_or_else(|| anyhow!("git send-pack wrote something that is not a pkt-line"))?;
        if length == 0 {
            return Ok(Some(request));
        }
        let payload = length
            .checked_sub(4)
            .ok_or_else(|| anyhow!("git send-pack wrote a bad pkt-line"))?;
        if request.len() + payload > LARGEST_REQUEST {
            return Ok(None);
        }
        let start = request.len();
        request.resize(start + payload, 0);
        stdout
            .read_exact(&mut request[start..])
            .context("git send-pack ended within its request")?;
    }
}

/// What a change that the mirror took was: a forced update where the old value is not an
/// ancestor of the new one here (as git push tells them; so is one that is not a commit).
fn result_of(source: &super::SourceObjects<'_>, change: &Change) -> RefResult {
    match change {
        Change::Create { .. } => RefResult::Created,
        Change::Delete { .. } => RefResult::Done,
        Change::Update { old, new, .. } => {
            if source.descends(new, old) {
                RefResult::Done
            } else {
                RefResult::Forced {
                    old: Some(old.clone()),
                }
            }
        }
    }
}

fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "1" | ""
    )
}

fn expand_home(value: &str) -> std::path::PathBuf {
    match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(value),
    }
}

/// The `http.*` and `url.*` settings git would apply, as (lower-case key, value), in order.
fn http_settings(common_dir: &std::path::Path) -> Result<Vec<(String, String)>> {
    let mut cmd = crate::git::in_git_dir(common_dir);
    cmd.args(["config", "-z", "--get-regexp", r"^(http|url)\."]);
    let output = cmd.output().context("reading git's http settings")?;
    // 1: no such setting.
    if !output.status.success() && output.status.code() != Some(1) {
        bail!(
            "git config failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output
        .stdout
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (key, value) = entry.split_once('\n').unwrap_or((&entry, ""));
            (key.to_ascii_lowercase(), value.to_owned())
        })
        .collect())
}

/// Stops send-pack (and the pack-objects it started) when the push ends early.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertisement_lists_the_known_refs_with_capabilities_on_the_first() {
        let known: Refs = [
            ("refs/heads/a".to_owned(), "1".repeat(40)),
            ("refs/heads/b".to_owned(), "2".repeat(40)),
        ]
        .into();
        let mut out = Vec::new();
        advertisement(&mut out, &known, &[]);
        let text = String::from_utf8(out).expect("ascii");
        let first = format!("{} refs/heads/a\0report-status", "1".repeat(40));
        assert!(text[4..].starts_with(&first), "{text:?}");
        assert!(
            text.contains(&format!("{} refs/heads/b\n", "2".repeat(40))),
            "{text:?}"
        );
        assert!(text.ends_with("0000"));
    }

    #[test]
    fn an_empty_mirror_is_advertised_as_git_does() {
        let mut out = Vec::new();
        advertisement(&mut out, &Refs::new(), &[]);
        let text = String::from_utf8(out).expect("ascii");
        assert!(
            text.contains(&format!("{} capabilities^{{}}\0", "0".repeat(40))),
            "{text:?}"
        );
    }

    #[test]
    fn the_answer_over_ssh_is_what_follows_the_advertisement() {
        let mut out = Vec::new();
        advertisement(&mut out, &Refs::new(), &[]);
        out.extend_from_slice(b"0030\x01000eunpack ok\n0019ok refs/heads/main\n00000000");
        let answer = after_flush(&out).expect("an advertisement");
        assert!(answer.starts_with(b"0030\x01000eunpack ok"), "{answer:?}");
        assert_eq!(after_flush(b"fatal: not a repository\n"), None);
        assert_eq!(after_flush(b"0003"), None);
        assert_eq!(after_flush(b""), None);
    }

    /// receive-pack's answer to a request with side-band-64k, as git 2.47 wrote it (one ref
    /// taken, one turned down), and its fatal error on band 3.
    #[test]
    fn the_report_tells_taken_refs_from_refused_ones() {
        let mut report = Vec::new();
        for line in [
            "unpack ok\n",
            "ok refs/heads/main\n",
            "ng refs/heads/x failed to update ref\n",
        ] {
            pkt_line(&mut report, line.as_bytes());
        }
        report.extend_from_slice(b"0000");
        let mut answer = Vec::new();
        pkt_line(&mut answer, b"\x02remote: progress\r");
        let mut band = vec![1_u8];
        band.extend_from_slice(&report);
        pkt_line(&mut answer, &band);
        answer.extend_from_slice(b"0000");
        let reported = report_status(&answer).expect("a report");
        assert_eq!(reported["refs/heads/main"], Ok(()));
        assert_eq!(reported["refs/heads/x"], Err("failed to update ref".to_owned()));
        assert_eq!(reported.len(), 2);
        // The same without side-band.
        assert_eq!(report_status(&report), Ok(reported));

        let mut fatal = Vec::new();
        pkt_line(&mut fatal, b"\x03fatal: the disk is full\n");
        assert_eq!(report_status(&fatal), Err("fatal: the disk is full".to_owned()));
        let mut unpack_failed = Vec::new();
        pkt_line(&mut unpack_failed, b"unpack index-pack failed\n");
        unpack_failed.extend_from_slice(b"0000");
        assert!(report_status(&unpack_failed).is_err_and(|why| why.contains("index-pack failed")));
        assert!(report_status(b"").is_err());
    }

    /// The report split over two band-1 packets, progress and a hook's words around it: whole
    /// at the report's own flush, before receive-pack's last one.
    #[test]
    fn an_answer_is_whole_at_its_report_before_what_the_server_does_after_it() {
        let mut report = Vec::new();
        pkt_line(&mut report, b"unpack ok\n");
        pkt_line(&mut report, b"ok refs/heads/main\n");
        report.extend_from_slice(b"0000");
        let (first, second) = report.split_at(10);
        let mut answer = Vec::new();
        pkt_line(&mut answer, b"\x02remote: Resolving deltas\r");
        pkt_line(&mut answer, &[&[1_u8][..], first].concat());
        assert!(!answer_whole(&answer), "half a report");
        pkt_line(&mut answer, &[&[1_u8][..], second].concat());
        assert!(answer_whole(&answer), "the whole report");
        assert!(report_status(&answer).is_ok_and(|refs| refs["refs/heads/main"].is_ok()));
        pkt_line(&mut answer, b"\x02remote: a post-receive hook speaks\n");
        answer.extend_from_slice(b"0000");
        assert!(answer_whole(&answer));

        let mut fatal = Vec::new();
        pkt_line(&mut fatal, b"\x02remote: progress\r");
        assert!(!answer_whole(&fatal));
        pkt_line(&mut fatal, b"\x03fatal: the disk is full\n");
        assert!(answer_whole(&fatal), "a fatal error ends it");
        // Without side-band, the report's lines and their flush are the answer.
        assert!(!answer_whole(&report[..report.len() - 4]));
        assert!(answer_whole(&report));
    }

    #[test]
    fn a_request_larger_than_one_piece_is_not_read_whole() {
        let mut input = Vec::new();
        let chunk = vec![b'x'; 65_000];
        for _ in 0..20 {
            pkt_line(&mut input, &chunk);
        }
        input.extend_from_slice(b"0000");
        assert!(read_request(&mut &input[..]).expect("pkt-lines").is_none());
        let mut small = Vec::new();
        pkt_line(&mut small, b"abc");
        small.extend_from_slice(b"0000");
        assert_eq!(
            read_request(&mut &small[..]).expect("pkt-lines"),
            Some(b"abc".to_vec())
        );
    }
}
