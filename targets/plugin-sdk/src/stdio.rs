//! The executable transport: one JSON object per line on stdin, one per line on stdout.
//!
//! The loop answers requests one at a time, in order. While a request is being handled the
//! plugin may send `{"id":N,"http":{..}}` lines; picday answers each with an `http_response`
//! line carrying the same id, and the plugin finally answers `ok` or `error`. stdout belongs to
//! the protocol: plugins log to stderr (picday shows the last lines if the plugin dies).

use std::cell::RefCell;
use std::io::{BufRead, Write};

use crate::protocol::{
    Envelope, HttpRequest, HttpResponse, HttpResult, Reply, ReplyEnvelope, Request,
};
use crate::session::Session;
use crate::{ErrorKind, Host, HttpBridge, Plugin, PluginError};

/// Serves requests on stdin/stdout until stdin closes.
pub fn run_stdio<P: Plugin>() {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let session = Session::<P>::default();
    serve(&session, &mut stdin.lock(), &mut stdout.lock());
}

/// The loop, over any reader and writer (tests use buffers).
pub(crate) fn serve<P: Plugin>(
    session: &Session<P>,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) {
    let io = RefCell::new(Io { input, output });
    loop {
        let line = match io.borrow_mut().read_line() {
            Some(line) => line,
            None => return,
        };
        let (id, reply) = match serde_json::from_str::<Envelope>(&line) {
            Ok(env) => {
                let bridge = StdioBridge {
                    id: env.id,
                    io: &io,
                };
                (env.id, session.handle(env.request, &Host::new(&bridge)))
            }
            Err(e) => (
                id_of(&line),
                Reply::Error(
                    PluginError::new(
                        ErrorKind::Protocol,
                        format!("the plugin cannot read this request: {e}"),
                    )
                    .to_msg(),
                ),
            ),
        };
        if io.borrow_mut().write(&ReplyEnvelope { id, reply }).is_err() {
            return;
        }
    }
}

/// The id of a request that did not parse, if it has one, so picday can match the error.
fn id_of(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("id")?.as_u64())
        .unwrap_or(0)
}

struct Io<'a> {
    input: &'a mut dyn BufRead,
    output: &'a mut dyn Write,
}

impl Io<'_> {
    fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        loop {
            line.clear();
            match self.input.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) if line.trim().is_empty() => continue,
                Ok(_) => return Some(line),
            }
        }
    }

    fn write(&mut self, reply: &ReplyEnvelope) -> std::io::Result<()> {
        let mut text = serde_json::to_string(reply).map_err(std::io::Error::other)?;
        text.push('\n');
        self.output.write_all(text.as_bytes())?;
        self.output.flush()
    }
}

struct StdioBridge<'a, 'b> {
    id: u64,
    io: &'a RefCell<Io<'b>>,
}

impl HttpBridge for StdioBridge<'_, '_> {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PluginError> {
        let mut io = self.io.borrow_mut();
        let lost = |what: &str| PluginError::new(ErrorKind::Protocol, what.to_string());
        io.write(&ReplyEnvelope {
            id: self.id,
            reply: Reply::Http(request.clone()),
        })
        .map_err(|_| lost("picday closed the connection"))?;
        let line = io
            .read_line()
            .ok_or_else(|| lost("picday closed the connection during an HTTP request"))?;
        let env: Envelope = serde_json::from_str(&line)
            .map_err(|e| lost(&format!("expected an http_response: {e}")))?;
        match env.request {
            Request::HttpResponse { result } if env.id == self.id => match result {
                HttpResult::Response(r) => Ok(r),
                HttpResult::Error(e) => Err(PluginError::from_msg(e)),
            },
            other => Err(lost(&format!(
                "expected the http_response for request {}, got `{}` for {}",
                self.id,
                other.op(),
                env.id
            ))),
        }
    }
}
