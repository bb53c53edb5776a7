//! One plugin session: the state machine both transports drive.
//!
//! `hello` first, then `describe` configures the plugin, then any number of check / put / get /
//! delete / finish. Keeping it in one place means an executable and a dynamic library built
//! from the same code answer exactly the same way.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::RwLock;

use base64::Engine as _;

use crate::protocol::{
    FinishOk, GetOk, HelloOk, PROTOCOL_VERSION, PhotoMsg, PhotoTransfer, Reply, Request,
};
use crate::{Config, ErrorKind, Host, Photo, Plugin, PluginError};

/// A plugin and whether it has been configured.
#[derive(Debug)]
pub struct Session<P> {
    plugin: RwLock<Option<P>>,
}

impl<P: Plugin> Default for Session<P> {
    fn default() -> Self {
        Session {
            plugin: RwLock::new(None),
        }
    }
}

impl<P: Plugin> Session<P> {
    /// Answers one request. A panic in the plugin's code becomes an `internal` error reply.
    pub fn handle(&self, request: Request, host: &Host<'_>) -> Reply {
        let op = request.op();
        match catch_unwind(AssertUnwindSafe(|| self.dispatch(request, host))) {
            Ok(Ok(value)) => Reply::Ok(value),
            Ok(Err(e)) => Reply::Error(e.to_msg()),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Reply::Error(
                    PluginError::new(
                        ErrorKind::Internal,
                        format!("the plugin panicked during `{op}`: {what}"),
                    )
                    .to_msg(),
                )
            }
        }
    }

    fn dispatch(
        &self,
        request: Request,
        host: &Host<'_>,
    ) -> Result<serde_json::Value, PluginError> {
        match request {
            Request::Hello {
                protocol,
                photo_transfer,
                ..
            } => {
                if protocol != PROTOCOL_VERSION {
                    return Err(PluginError::new(
                        ErrorKind::Protocol,
                        format!(
                            "picday speaks plugin protocol {protocol}, this plugin speaks {PROTOCOL_VERSION}"
                        ),
                    ));
                }
                let info = P::info();
                let transfer = if photo_transfer.contains(&info.photo_transfer) {
                    info.photo_transfer
                } else {
                    PhotoTransfer::Base64
                };
                to_value(HelloOk {
                    protocol: PROTOCOL_VERSION,
                    name: info.name.into(),
                    version: info.version.into(),
                    summary: info.summary.into(),
                    capabilities: info.capabilities,
                    photo_transfer: transfer,
                    options: info.options,
                })
            }
            Request::Describe {
                target,
                options,
                base_dir,
                quality,
            } => {
                let config = Config {
                    target,
                    options,
                    base_dir: base_dir.into(),
                    quality,
                };
                let (plugin, described) = P::configure(&config)?;
                *self.plugin.write().unwrap_or_else(|p| p.into_inner()) = Some(plugin);
                to_value(described)
            }
            Request::Check => self.with(|p| to_value(p.check(host)?)),
            Request::Put { subject, photo } => {
                let photo = read_photo(photo)?;
                self.with(|p| to_value(p.put(host, &subject, &photo)?))
            }
            Request::Get { subject } => self.with(|p| {
                let photo = p
                    .get(host, &subject)?
                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b));
                to_value(GetOk { photo })
            }),
            Request::Delete { subject } => self.with(|p| to_value(p.delete(host, &subject)?)),
            Request::Finish => self.with(|p| {
                to_value(FinishOk {
                    note: p.finish(host)?,
                })
            }),
            Request::HttpResponse { .. } => Err(PluginError::new(
                ErrorKind::Protocol,
                "an http_response arrived while no HTTP request was pending",
            )),
        }
    }

    fn with(
        &self,
        f: impl FnOnce(&P) -> Result<serde_json::Value, PluginError>,
    ) -> Result<serde_json::Value, PluginError> {
        let guard = self.plugin.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(p) => f(p),
            None => Err(PluginError::new(
                ErrorKind::Protocol,
                "the plugin was not configured: `describe` must come first",
            )),
        }
    }
}

fn to_value(v: impl serde::Serialize) -> Result<serde_json::Value, PluginError> {
    serde_json::to_value(v).map_err(|e| PluginError::new(ErrorKind::Internal, e.to_string()))
}

fn read_photo(msg: PhotoMsg) -> Result<Photo, PluginError> {
    let bytes = match (msg.data, msg.path) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| PluginError::new(ErrorKind::Protocol, format!("photo data: {e}")))?,
        (None, Some(path)) => {
            std::fs::read(&path).map_err(|e| PluginError::io(std::path::Path::new(&path), e))?
        }
        (None, None) => {
            return Err(PluginError::new(
                ErrorKind::Protocol,
                "the photo has neither `data` nor `path`",
            ));
        }
    };
    Ok(Photo {
        bytes,
        width: msg.width,
        height: msg.height,
        sha256: msg.sha256,
    })
}
