//! What the binary's end-to-end tests share: running `picday`, reading what it said, and a
//! small HTTP/1.1 client for the servers a test talks to on 127.0.0.1 (the review page,
//! ChromeDriver), so that no test needs an HTTP client crate of its own.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `picday --config CONFIG ARGS...`, not started.
pub fn picday_cmd(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_picday"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PICDAY_CONFIG")
        .stdin(Stdio::null());
    c
}

/// `picday --config CONFIG ARGS...`, run to the end.
pub fn picday(config: &Path, args: &[&str]) -> Output {
    picday_cmd(config, args).output().expect("run picday")
}

/// Everything the command printed, stdout then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What the command printed, which must have ended with exit code 0.
pub fn ok(out: &Output) -> String {
    let all = text(out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    all
}

/// An HTTP answer: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request on its own connection (`Connection: close`). `host` overrides the Host header;
/// `body` is (content type, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    host: Option<&str>,
    body: Option<(&str, &str)>,
) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let host = host.map_or_else(|| format!("127.0.0.1:{port}"), str::to_string);
    let (kind, body) = body.unwrap_or(("", ""));
    let kind = if kind.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {kind}\r\n")
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{kind}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    // Read up to the end of the answer, not of the connection: ChromeDriver keeps it open.
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let (split, headers, status) = loop {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "the connection closed before the headers");
        raw.extend_from_slice(&buf[..n]);
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_string();
            let mut lines = head.lines();
            let status: u16 = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|c| c.parse().ok())
                .expect("a status line");
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
                .collect();
            break (split, headers, status);
        }
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    loop {
        let got = &raw[split + 4..];
        let complete = match length {
            Some(n) => got.len() >= n,
            None if chunked => got.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = s.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}
