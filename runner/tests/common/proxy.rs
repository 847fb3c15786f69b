//! A small fault-injecting HTTP/1.1 proxy between the runner and the real S3 server.
//! Requests pass through unchanged unless a [`Rule`] matches them (by method and a
//! substring of the request target), in which case its [`Fault`] happens: the reply is
//! dropped after the request was forwarded (and so stored), the answer is an S3 error
//! (500, 503 SlowDown…), the connection stalls, or a GET body is cut off (closed or
//! reset) or stalls halfway. Every request seen is recorded.
//!
//! It understands just enough HTTP: request and response heads, `Content-Length` and
//! chunked bodies, `Expect: 100-continue` (answered by the proxy itself), HEAD answers
//! without a body. One upstream connection per client connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What happens to a matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward the request, read the whole answer, then close the client connection
    /// without a byte: the request took effect, its reply was lost.
    DropReply,
    /// Answer with this status and S3 error code, without forwarding.
    Status(u16, &'static str),
    /// Accept the request and never answer (until the client gives up).
    Stall,
    /// Forward, send the answer's head and half its body, then close the connection.
    TruncateBody,
    /// Like [`Fault::TruncateBody`] but with a TCP reset.
    ResetBody,
    /// Forward, send the answer's head and half its body, then stall.
    StallBody,
}

/// When a fault applies.
#[derive(Clone, Debug)]
pub struct Rule {
    /// HTTP method, e.g. `PUT`; any when `None`.
    pub method: Option<&'static str>,
    /// Substring of the request target (path and query), e.g. `.manifest.json`.
    pub target: String,
    /// A request whose target contains this does not match.
    pub exclude: Option<String>,
    /// Matching requests to let through before the fault applies.
    pub skip: usize,
    /// How many matching requests get the fault (after `skip`).
    pub times: usize,
    pub fault: Fault,
}

impl Rule {
    /// `fault` for every request with `method` whose target contains `target`.
    pub fn new(method: Option<&'static str>, target: &str, fault: Fault) -> Rule {
        Rule {
            method,
            target: target.to_string(),
            exclude: None,
            skip: 0,
            times: usize::MAX,
            fault,
        }
    }

    /// Requests whose target contains `text` do not match.
    pub fn except(mut self, text: &str) -> Rule {
        self.exclude = Some(text.to_string());
        self
    }

    /// Only the first `n` matching requests (after any skipped).
    pub fn times(mut self, n: usize) -> Rule {
        self.times = n;
        self
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<String>,
}

/// A running proxy.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = shared.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, state).await;
                });
            }
        });
        FaultProxy {
            endpoint,
            state,
            task,
        }
    }

    /// Replaces the rules.
    pub fn set(&self, rules: Vec<Rule>) {
        self.state.lock().unwrap().rules = rules;
    }

    /// Requests seen so far, as `METHOD target`.
    pub fn seen(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fault for a request, if a rule matches (consuming one of its uses).
fn decide(state: &Mutex<State>, method: &str, target: &str) -> Option<Fault> {
    let mut state = state.lock().unwrap();
    state.seen.push(format!("{method} {target}"));
    for rule in state.rules.iter_mut() {
        if rule.method.is_some_and(|m| m != method)
            || !target.contains(&rule.target)
            || rule.exclude.as_ref().is_some_and(|x| target.contains(x))
        {
            continue;
        }
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        if rule.times == 0 {
            continue;
        }
        rule.times -= 1;
        return Some(rule.fault.clone());
    }
    None
}

/// A message head: the first line, the header lines, and the raw bytes.
struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn encode(&self, skip: &[&str]) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.first);
        for (k, v) in &self.headers {
            if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn length(&self) -> Option<usize> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }
}

/// A buffered reader over one side of a connection.
struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 64 << 10];
        let n = self.inner.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The next head, or `None` at a clean end of stream.
    async fn head(&mut self) -> std::io::Result<Option<Head>> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&self.buf[..end]).to_string();
                self.buf.drain(..end + 4);
                let mut lines = text.split("\r\n");
                let first = lines.next().unwrap_or_default().to_string();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                return Ok(Some(Head { first, headers }));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    async fn exact(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn line(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.buf.drain(..end + 2).collect());
            }
            if !self.fill().await? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The raw body bytes (chunked framing kept as is).
    async fn body(&mut self, head: &Head, no_body: bool) -> std::io::Result<Vec<u8>> {
        if no_body {
            return Ok(Vec::new());
        }
        if head.chunked() {
            let mut out = Vec::new();
            loop {
                let line = self.line().await?;
                let size_text = String::from_utf8_lossy(&line);
                let size =
                    usize::from_str_radix(size_text.trim().split(';').next().unwrap_or("0"), 16)
                        .unwrap_or(0);
                out.extend_from_slice(&line);
                if size == 0 {
                    // Trailers until an empty line.
                    loop {
                        let l = self.line().await?;
                        out.extend_from_slice(&l);
                        if l == b"\r\n" {
                            return Ok(out);
                        }
                    }
                }
                out.extend_from_slice(&self.exact(size + 2).await?);
            }
        }
        self.exact(head.length().unwrap_or(0)).await
    }
}

async fn serve(client: TcpStream, upstream: &str, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (client_read, mut client_write) = client.into_split();
    let mut client_in = Reader {
        inner: client_read,
        buf: Vec::new(),
    };
    let mut up: Option<(
        Reader<tokio::net::tcp::OwnedReadHalf>,
        tokio::net::tcp::OwnedWriteHalf,
    )> = None;
    while let Some(request) = client_in.head().await? {
        let mut parts = request.first.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let fault = decide(&state, &method, &target);
        if request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            client_write
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        let body = client_in.body(&request, false).await?;
        match &fault {
            Some(Fault::Status(code, s3code)) => {
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3code}</Code>\
                     <Message>injected by the test proxy</Message></Error>"
                );
                let answer = format!(
                    "HTTP/1.1 {code} Injected\r\nContent-Type: application/xml\r\n\
                     Content-Length: {}\r\n\r\n{xml}",
                    xml.len()
                );
                client_write.write_all(answer.as_bytes()).await?;
                continue;
            }
            Some(Fault::Stall) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            _ => {}
        }
        if up.is_none() {
            let stream = TcpStream::connect(upstream).await?;
            let (r, w) = stream.into_split();
            up = Some((
                Reader {
                    inner: r,
                    buf: Vec::new(),
                },
                w,
            ));
        }
        let (up_in, up_out) = up.as_mut().unwrap();
        up_out.write_all(&request.encode(&["expect"])).await?;
        up_out.write_all(&body).await?;
        let answer = loop {
            let Some(answer) = up_in.head().await? else {
                return Ok(());
            };
            // A 100 Continue from upstream is not forwarded (the proxy sent its own).
            if !answer.first.contains(" 100 ") {
                break answer;
            }
        };
        let status: u16 = answer
            .first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let no_body = method == "HEAD" || status == 204 || status == 304;
        let answer_body = up_in.body(&answer, no_body).await?;
        match fault {
            Some(Fault::DropReply) => return Ok(()),
            Some(Fault::TruncateBody | Fault::ResetBody | Fault::StallBody)
                if !answer_body.is_empty() =>
            {
                // Announce the full length (or keep the chunked framing), send half.
                client_write.write_all(&answer.encode(&[])).await?;
                client_write
                    .write_all(&answer_body[..answer_body.len() / 2])
                    .await?;
                client_write.flush().await?;
                match fault {
                    Some(Fault::StallBody) => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    Some(Fault::ResetBody) => {
                        let stream = client_write.reunite(client_in.inner).unwrap();
                        #[allow(deprecated)]
                        stream.set_linger(Some(Duration::ZERO))?;
                        drop(stream);
                    }
                    _ => {}
                }
                return Ok(());
            }
            _ => {
                client_write.write_all(&answer.encode(&[])).await?;
                client_write.write_all(&answer_body).await?;
            }
        }
        if answer
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            return Ok(());
        }
    }
    Ok(())
}
