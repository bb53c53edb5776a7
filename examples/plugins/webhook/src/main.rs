//! `webhook`: an executable picday plugin that POSTs each photo, with the person's columns, as
//! JSON to a URL the school controls (an intranet page, a badge printer's import service, a
//! Power Automate or Zapier flow...).
//!
//! It shows the executable side of picday's plugin system: any language could do the same by
//! reading and writing JSON lines. The plugin does no networking itself: it builds each request
//! and asks picday to send it ([`Host::http`]), so picday's HTTP client, timeouts, retries and
//! throttling apply, and the plugin only decides what the answer means.
//!
//! Each delivery is signed like GitHub's webhooks when a `secret` is set:
//! `X-Picday-Signature: sha256=<hex HMAC-SHA256 of the body>`.

use std::collections::BTreeMap;

use picday_plugin_sdk::base64::Engine as _;
use picday_plugin_sdk::{
    CheckOk, Config, DescribeOk, Host, HttpRequest, Info, OptionSpec, Photo, PhotoShape,
    PhotoTransfer, Plugin, PluginCapabilities, PluginError, Receipt, SharedOptions, Subject,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

picday_plugin_sdk::plugin!(Webhook);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    url: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

/// The options shared with picday's own targets: the key, a square photo, deliveries at once.
const SHARED: SharedOptions = SharedOptions {
    key: ("key", "{mail}", "the person's key template"),
    photo: (PhotoShape::Square, (648, 648)),
    concurrency: Some((4, 64, "deliveries at once")),
};

/// A configured webhook.
struct Webhook {
    url: String,
    secret: Option<String>,
    fields: Option<Vec<String>>,
}

impl Plugin for Webhook {
    fn info() -> Info {
        Info {
            name: "webhook",
            version: env!("CARGO_PKG_VERSION"),
            summary: "POSTs each photo and the person's columns as JSON to a URL (signed with HMAC-SHA256 when a secret is set)",
            capabilities: PluginCapabilities {
                read_back: false,
                delete: true,
                resolves_people: false,
            },
            options: [
                OptionSpec::required("url", "where deliveries are POSTed (http or https)"),
                OptionSpec::optional(
                    "secret",
                    "none",
                    "signs each body: X-Picday-Signature: sha256=HMAC",
                )
                .secret(),
                OptionSpec::optional(
                    "fields",
                    "every column",
                    "the mapping columns sent with each photo",
                ),
            ]
            .into_iter()
            .chain(SHARED.specs())
            .collect(),
            photo_transfer: PhotoTransfer::File,
        }
    }

    fn configure(config: &Config) -> Result<(Self, DescribeOk), PluginError> {
        let (shared, own) = config.take_shared(&SHARED)?;
        let o: Options = own.parse()?;
        let bad = |msg: String| PluginError::config(format!("[targets.{}]: {msg}", config.target));
        let (scheme, rest) = o
            .url
            .split_once("://")
            .ok_or_else(|| bad(format!("`url` {:?} is not a URL", o.url)))?;
        if !matches!(scheme, "http" | "https") || rest.is_empty() {
            return Err(bad("`url` must start with http:// or https://".into()));
        }
        // The summary goes into reports: no query string, which may hold a token.
        let shown = o.url.split(['?', '#']).next().unwrap_or_default();
        let signed = if o.secret.is_some() { ", signed" } else { "" };
        let described = DescribeOk {
            profile: shared.profile,
            key: shared.key,
            summary: format!("webhook POST {shown}{signed}"),
            max_concurrency: shared.max_concurrency,
        };
        Ok((
            Webhook {
                url: o.url,
                secret: o.secret,
                fields: o
                    .fields
                    .map(|f| f.into_iter().map(|c| c.to_lowercase()).collect()),
            },
            described,
        ))
    }

    fn check(&self, host: &Host<'_>) -> Result<CheckOk, PluginError> {
        let response = self.deliver(host, &serde_json::json!({ "event": "ping" }))?;
        Ok(CheckOk {
            ok: vec![format!(
                "the receiver answered a ping with HTTP {}",
                response.status
            )],
            warnings: Vec::new(),
        })
    }

    fn put(
        &self,
        host: &Host<'_>,
        subject: &Subject,
        photo: &Photo,
    ) -> Result<Receipt, PluginError> {
        let body = serde_json::json!({
            "event": "photo.updated",
            "key": subject.key,
            "person": self.person(subject),
            "photo": {
                "content_type": "image/jpeg",
                "width": photo.width,
                "height": photo.height,
                "sha256": photo.sha256,
                "data": picday_plugin_sdk::base64::engine::general_purpose::STANDARD.encode(&photo.bytes),
            },
        });
        let response = self.deliver(host, &body)?;
        Ok(Receipt {
            detail: format!("delivered (HTTP {})", response.status),
            remote_id: None,
            request_id: response.header("x-request-id").map(str::to_string),
        })
    }

    fn delete(&self, host: &Host<'_>, subject: &Subject) -> Result<Receipt, PluginError> {
        let body = serde_json::json!({
            "event": "photo.removed",
            "key": subject.key,
            "person": self.person(subject),
        });
        let response = self.deliver(host, &body)?;
        Ok(Receipt::new(format!(
            "removal delivered (HTTP {})",
            response.status
        )))
    }
}

impl Webhook {
    fn person(&self, subject: &Subject) -> BTreeMap<String, String> {
        match &self.fields {
            None => subject.fields.clone(),
            Some(keep) => subject
                .fields
                .iter()
                .filter(|(k, _)| keep.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// POSTs one event; any non-2xx answer is an error classified by its status.
    fn deliver(
        &self,
        host: &Host<'_>,
        body: &serde_json::Value,
    ) -> Result<picday_plugin_sdk::HttpResponse, PluginError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| PluginError::new(picday_plugin_sdk::ErrorKind::Internal, e.to_string()))?;
        let event = body["event"].as_str().unwrap_or("event");
        let mut request = HttpRequest::new("POST", &self.url)
            .header("content-type", "application/json")
            .header("x-picday-event", event);
        if let Some(secret) = &self.secret {
            let mac = hmac_sha256(secret.as_bytes(), &bytes);
            request = request.header(
                "x-picday-signature",
                &format!("sha256={}", hex::encode(mac)),
            );
        }
        host.http(&request.body(&bytes))?
            .error_for_status(&format!("webhook {event}"))
    }
}

/// HMAC-SHA256 (RFC 2104), the signature webhook receivers commonly verify.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_cases() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
