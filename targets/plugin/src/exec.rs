//! Executable plugins: one long-lived child process per configured target, one JSON object per
//! line over its stdin and stdout.
//!
//! A plugin process is the safest way to run code picday was not built with: it can be written
//! in any language, and when it crashes, hangs or talks nonsense only its own target fails.
//! Every wait for a line has a timeout; after a crash, a timeout or an unreadable line the
//! process is stopped and every later call on that target fails at once with the same message,
//! which names the plugin (and quotes the last lines it wrote to stderr).

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use picday_core::{Error, ErrorKind, Result};
use picday_plugin_sdk::protocol::{
    Envelope, HelloOk, PROTOCOL_VERSION, PhotoTransfer, Reply, ReplyEnvelope, Request,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::host;
use crate::{Candidate, label};

/// Lines of a plugin's stderr kept for the message when it dies.
const STDERR_TAIL: usize = 8;

/// A running plugin process.
#[derive(Debug)]
pub struct Process {
    label: String,
    timeout: Duration,
    state: tokio::sync::Mutex<State>,
    /// Set once the process is unusable: every later call fails with this.
    broken: Mutex<Option<(ErrorKind, String)>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

#[derive(Debug)]
struct State {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    next_id: u64,
}

/// Starts a plugin, says hello, and stops it: what discovery needs to list it.
pub fn hello(candidate: &Candidate, timeout: Duration) -> Result<HelloOk> {
    open(candidate, timeout).map(|(_, hello)| hello)
}

/// Starts a plugin and says hello; the process stays up for a target.
pub fn open(candidate: &Candidate, timeout: Duration) -> Result<(Arc<Process>, HelloOk)> {
    let candidate = candidate.clone();
    host::block_on(async move {
        let process = Arc::new(Process::spawn(&candidate, timeout)?);
        let hello = process.handshake(&candidate).await?;
        Ok((process, hello))
    })
}

impl Process {
    fn spawn(candidate: &Candidate, timeout: Duration) -> Result<Process> {
        let label = label(candidate);
        let mut child = tokio::process::Command::new(&candidate.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Error::unavailable(format!("{label} cannot be started: {e}")).temporary(false)
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::internal(format!("{label}: pipes were not created")));
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_task = {
            let tail = tail.clone();
            let name = candidate.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(plugin = %name, "{line}");
                    let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                    if tail.len() == STDERR_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            })
        };
        Ok(Process {
            label,
            timeout,
            state: tokio::sync::Mutex::new(State {
                child,
                stdin,
                stdout: BufReader::new(stdout).lines(),
                stderr_task: Some(stderr_task),
                next_id: 1,
            }),
            broken: Mutex::new(None),
            stderr: tail,
        })
    }

    async fn handshake(&self, candidate: &Candidate) -> Result<HelloOk> {
        let value = self
            .exchange(Request::Hello {
                protocol: PROTOCOL_VERSION,
                host: concat!("picday ", env!("CARGO_PKG_VERSION")).into(),
                photo_transfer: vec![PhotoTransfer::Base64, PhotoTransfer::File],
            })
            .await
            .map_err(|e| {
                if e.message().starts_with(&self.label) {
                    e
                } else {
                    Error::protocol(format!("{} refused the handshake: {e}", self.label))
                }
            })?;
        check_hello(&self.label, candidate, value)
    }

    /// Sends one request and waits for its answer, relaying the plugin's HTTP requests.
    pub async fn call(self: &Arc<Self>, request: Request) -> Result<serde_json::Value> {
        if let Some(e) = self.broken() {
            return Err(e);
        }
        let this = self.clone();
        host::on_runtime(async move { this.exchange(request).await }).await
    }

    fn broken(&self) -> Option<Error> {
        let broken = self.broken.lock().unwrap_or_else(|p| p.into_inner());
        broken
            .as_ref()
            .map(|(kind, msg)| Error::new(*kind, msg.clone()).temporary(false))
    }

    async fn exchange(&self, request: Request) -> Result<serde_json::Value> {
        let mut st = self.state.lock().await;
        if let Some(e) = self.broken() {
            return Err(e);
        }
        let id = st.next_id;
        st.next_id += 1;
        let op = request.op();
        if write_line(&mut st.stdin, &Envelope { id, request })
            .await
            .is_err()
        {
            return Err(self.crashed(&mut st, op).await);
        }
        loop {
            let line = match tokio::time::timeout(self.timeout, st.stdout.next_line()).await {
                Err(_) => {
                    let msg = format!(
                        "{} did not answer `{op}` within {} s; picday stopped it",
                        self.label,
                        self.timeout.as_secs_f64()
                    );
                    return Err(self.fail(&mut st, ErrorKind::Unavailable, msg));
                }
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) | Ok(Err(_)) => return Err(self.crashed(&mut st, op).await),
            };
            if line.trim().is_empty() {
                continue;
            }
            let reply: ReplyEnvelope = match serde_json::from_str(&line) {
                Ok(r) => r,
                Err(e) => {
                    let msg = format!(
                        "{} answered `{op}` with something that is not a protocol {PROTOCOL_VERSION} reply ({e}): {}",
                        self.label,
                        excerpt(&line)
                    );
                    return Err(self.fail(&mut st, ErrorKind::Protocol, msg));
                }
            };
            if reply.id != id {
                let msg = format!(
                    "{} answered request {} while request {id} (`{op}`) was waiting",
                    self.label, reply.id
                );
                return Err(self.fail(&mut st, ErrorKind::Protocol, msg));
            }
            match reply.reply {
                Reply::Ok(value) => return Ok(value),
                Reply::Error(m) => return Err(host::from_error_msg(&self.label, m)),
                Reply::Http(http) => {
                    let result = host::http(http).await;
                    let answer = Envelope {
                        id,
                        request: Request::HttpResponse { result },
                    };
                    if write_line(&mut st.stdin, &answer).await.is_err() {
                        return Err(self.crashed(&mut st, op).await);
                    }
                }
            }
        }
    }

    /// Marks the process unusable and stops it.
    fn fail(&self, st: &mut State, kind: ErrorKind, msg: String) -> Error {
        let _ = st.child.start_kill();
        *self.broken.lock().unwrap_or_else(|p| p.into_inner()) = Some((kind, msg.clone()));
        Error::new(kind, msg).temporary(false)
    }

    /// The process closed its output: say how it ended and what it last said.
    async fn crashed(&self, st: &mut State, op: &str) -> Error {
        let status = match tokio::time::timeout(Duration::from_secs(2), st.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            _ => "closed its output".to_string(),
        };
        if let Some(task) = st.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
        }
        let tail: Vec<String> = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let last = if tail.is_empty() {
            String::new()
        } else {
            format!("; its last words on stderr: {}", tail.join(" | "))
        };
        let msg = format!("{} stopped ({status}) during `{op}`{last}", self.label);
        self.fail(st, ErrorKind::Unavailable, msg)
    }
}

async fn write_line(stdin: &mut ChildStdin, message: &Envelope) -> std::io::Result<()> {
    let mut line = serde_json::to_string(message).map_err(std::io::Error::other)?;
    line.push('\n');
    stdin.write_all(line.as_bytes()).await?;
    stdin.flush().await
}

/// The beginning of a line, for messages.
pub(crate) fn excerpt(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Checks a hello answer: the protocol version and the name.
pub(crate) fn check_hello(
    label: &str,
    candidate: &Candidate,
    value: serde_json::Value,
) -> Result<HelloOk> {
    let hello: HelloOk = serde_json::from_value(value).map_err(|e| {
        Error::protocol(format!(
            "{label} answered `hello` with something unreadable: {e}"
        ))
    })?;
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Error::protocol(format!(
            "{label} speaks plugin protocol {}; this picday speaks {PROTOCOL_VERSION}",
            hello.protocol
        )));
    }
    if hello.name.replace('_', "-") != candidate.name {
        return Err(Error::protocol(format!(
            "{label} calls itself `{}`; its file name says `{}`",
            hello.name, candidate.name
        )));
    }
    Ok(hello)
}
