//! An administrator signs in in their own browser: the authorization code flow with PKCE
//! (RFC 7636) on a loopback redirect (RFC 8252), as Graph PowerShell's `Connect-MgGraph` and
//! MSAL's public clients do.
//!
//! It exists for tenants whose Conditional Access blocks the device code flow (AADSTS53003,
//! Microsoft's own advice is to block it where possible): the sign-in then happens in the
//! browser where the administrator's MFA and compliant-device claims already live. picday
//! listens on 127.0.0.1 (and ::1) on a free port, sends the browser to the authorize
//! endpoint with `redirect_uri=http://localhost:PORT` (the identity platform ignores the
//! port of a loopback redirect, so the app registration lists `http://localhost` once), takes
//! the one redirect that carries the right `state`, and redeems the code with the verifier
//! that only this process knows.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use picday_core::{Error, Result, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long picday waits for the administrator to finish signing in.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// One sign-in's secrets: the PKCE verifier (sent only with the code) and the `state` that
/// ties the redirect to this request.
#[derive(Debug)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
    pub state: String,
}

impl Pkce {
    /// A fresh verifier (32 random bytes, 43 base64url characters), its S256 challenge and a
    /// random state.
    pub fn new() -> Result<Self> {
        let random = |n: usize| -> Result<String> {
            let mut bytes = vec![0u8; n];
            aws_lc_rs::rand::fill(&mut bytes)
                .map_err(|_| Error::internal("the system gave no random bytes"))?;
            Ok(URL_SAFE_NO_PAD.encode(bytes))
        };
        let verifier = random(32)?;
        let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
            state: random(16)?,
        })
    }
}

/// The loopback listener the browser comes back to.
#[derive(Debug)]
pub struct Redirect {
    v4: TcpListener,
    v6: Option<TcpListener>,
    pub uri: String,
}

impl Redirect {
    /// Listens on a free port of 127.0.0.1, and on the same port of ::1 where the machine has
    /// it (a browser may resolve `localhost` to either).
    pub async fn listen() -> Result<Self> {
        let v4 = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
            Error::config(format!("cannot listen on 127.0.0.1 for the sign-in: {e}"))
        })?;
        let port = v4
            .local_addr()
            .map_err(|e| Error::config(format!("cannot listen for the sign-in: {e}")))?
            .port();
        let v6 = TcpListener::bind(("::1", port)).await.ok();
        Ok(Redirect {
            v4,
            v6,
            uri: format!("http://localhost:{port}"),
        })
    }

    /// Waits for the redirect that carries `state` and returns its code. Other requests (a
    /// favicon, a stray page) are answered 404 and waited past; a redirect with the identity
    /// platform's `error` ends the sign-in with its description.
    pub async fn code(&self, state: &str) -> Result<Secret> {
        let wait = async {
            loop {
                let stream = match &self.v6 {
                    Some(v6) => tokio::select! {
                        s = self.v4.accept() => s,
                        s = v6.accept() => s,
                    },
                    None => self.v4.accept().await,
                };
                let Ok((stream, _)) = stream else { continue };
                if let Some(answer) = answer(stream, state).await {
                    return answer;
                }
            }
        };
        tokio::time::timeout(SIGN_IN_TIMEOUT, wait)
            .await
            .map_err(|_| {
                Error::auth(format!(
                    "browser sign-in: nobody signed in within {} minutes",
                    SIGN_IN_TIMEOUT.as_secs() / 60
                ))
            })?
    }
}

/// Reads one request; `None` if it was not the redirect of this sign-in.
async fn answer(mut stream: TcpStream, state: &str) -> Option<Result<Secret>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let params: Vec<(String, String)> = url_params(query);
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    if get("state") != Some(state) {
        let _ = reply(&mut stream, "404 Not Found", "Not the picday sign-in.").await;
        return None;
    }
    let result = match (get("code"), get("error")) {
        (Some(code), _) => Ok(Secret::new(code.to_string())),
        (None, Some(error)) => {
            let refused = crate::error::TokenError {
                error: error.to_string(),
                error_description: get("error_description")
                    .unwrap_or("no description")
                    .to_string(),
                ..Default::default()
            };
            let mut message = format!("browser sign-in: {}", refused.summary());
            if let Some(advice) = refused.advice() {
                message = format!("{message}; {advice}");
            }
            Err(Error::auth(message))
        }
        (None, None) => Err(Error::protocol(
            "browser sign-in: the redirect carried neither a code nor an error",
        )),
    };
    let page = match &result {
        Ok(_) => "Signed in. You can close this window and return to picday.",
        Err(_) => "The sign-in did not succeed; picday says why in its window.",
    };
    let _ = reply(&mut stream, "200 OK", page).await;
    Some(result)
}

async fn reply(stream: &mut TcpStream, status: &str, text: &str) -> std::io::Result<()> {
    let body = format!("<!doctype html><meta charset=\"utf-8\"><title>picday</title><p>{text}</p>");
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// The decoded `name=value` pairs of a query string.
fn url_params(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_s256_of_the_verifier() {
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.expose().len(), 43);
        let expected = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            p.verifier.expose().as_bytes(),
        ));
        assert_eq!(p.challenge, expected);
        assert_ne!(
            Pkce::new().unwrap().state,
            p.state,
            "every sign-in its own state"
        );
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            url_params("code=0.A%2Bb&state=x&error_description=a+b%3A"),
            vec![
                ("code".into(), "0.A+b".into()),
                ("state".into(), "x".into()),
                ("error_description".into(), "a b:".into())
            ]
        );
    }
}
