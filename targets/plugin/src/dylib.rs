//! Dynamic-library plugins, loaded with libloading through one versioned C entry point.
//!
//! Rust has no stable ABI, so the boundary is C: `picday_plugin_v1()` returns a `#[repr(C)]`
//! table ([`PluginV1`]) whose `abi_version` and `struct_size` are checked before anything else
//! in it is touched. Requests and replies are the same JSON as for executable plugins, passed
//! as bytes; each buffer is freed by the side that allocated it; the SDK catches panics inside
//! the library. Libraries are never unloaded (their statics and thread-locals may outlive any
//! call), and each call runs on a blocking thread, off the async workers. A library is native
//! code in picday's own process: a crash there is picday's crash, which is why executable
//! plugins exist too.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use picday_core::{Error, ErrorKind, Result};
use picday_plugin_sdk::abi::{self, Buf, EntryV1, HostV1, PluginV1};
use picday_plugin_sdk::protocol::{
    Envelope, HelloOk, HttpRequest, HttpResult, PROTOCOL_VERSION, PhotoTransfer, Reply,
    ReplyEnvelope, Request,
};

use crate::{Candidate, host, label};

/// Loaded libraries by path: loaded once, never unloaded.
static LOADED: OnceLock<Mutex<BTreeMap<PathBuf, &'static PluginV1>>> = OnceLock::new();

/// Loads a library (once per process) and checks its table.
fn load(candidate: &Candidate) -> Result<&'static PluginV1> {
    let label = label(candidate);
    let mut loaded = LOADED
        .get_or_init(|| Mutex::new(BTreeMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(table) = loaded.get(&candidate.path) {
        return Ok(table);
    }
    // SAFETY: loading runs the library's initialisers. picday loads only files from the
    // plugin folders the user configured, and documents that a library plugin is trusted
    // native code.
    let library = unsafe { libloading::Library::new(&candidate.path) }
        .map_err(|e| Error::config(format!("{label} cannot be loaded: {e}")))?;
    // Never unloaded: see the module documentation.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: the symbol is declared by the plugin ABI as `extern "C" fn() -> *const PluginV1`
    // (the SDK's `plugin!` macro exports exactly that).
    let entry = unsafe { library.get::<EntryV1>(abi::ENTRY_SYMBOL.as_bytes()) }.map_err(|e| {
        Error::protocol(format!(
            "{label} does not export `{}` (is it a picday plugin of ABI version {}?): {e}",
            abi::ENTRY_SYMBOL,
            abi::ABI_VERSION
        ))
    })?;
    // SAFETY: calling the entry point has no preconditions.
    let table = unsafe { entry() };
    if table.is_null() {
        return Err(Error::protocol(format!(
            "{label} returned no function table"
        )));
    }
    // SAFETY: every ABI version starts with `abi_version: u32` then `struct_size: usize`, so
    // these two fields can be read before the rest of the layout is known. They are read
    // field by field through raw pointers, without forming a reference to the whole table.
    let (version, size) = unsafe {
        (
            std::ptr::addr_of!((*table).abi_version).read(),
            std::ptr::addr_of!((*table).struct_size).read(),
        )
    };
    if version != abi::ABI_VERSION {
        return Err(Error::protocol(format!(
            "{label} has plugin ABI version {version}; this picday loads version {}",
            abi::ABI_VERSION
        )));
    }
    if size < std::mem::size_of::<PluginV1>() {
        return Err(Error::protocol(format!(
            "{label} has a function table of {size} bytes, smaller than the {} bytes of ABI version {}",
            std::mem::size_of::<PluginV1>(),
            abi::ABI_VERSION
        )));
    }
    // SAFETY: version and size were checked: the table is a complete PluginV1 in the library's
    // static memory, which lives as long as the library (forever).
    let table: &'static PluginV1 = unsafe { &*table };
    if table.protocol != PROTOCOL_VERSION {
        return Err(Error::protocol(format!(
            "{label} speaks plugin protocol {}; this picday speaks {PROTOCOL_VERSION}",
            table.protocol
        )));
    }
    loaded.insert(candidate.path.clone(), table);
    Ok(table)
}

/// Loads a library, says hello in a throwaway session: what discovery needs to list it.
pub fn hello(candidate: &Candidate) -> Result<HelloOk> {
    open(candidate, crate::DEFAULT_TIMEOUT).map(|(_, hello)| hello)
}

/// Loads a library and opens a session for a target.
pub fn open(candidate: &Candidate, timeout: Duration) -> Result<(Arc<Session>, HelloOk)> {
    let table = load(candidate)?;
    let label = label(candidate);
    let host = Box::new(HostV1 {
        ctx: std::ptr::null(),
        http: host_http,
        free_buf: host_free_buf,
    });
    let mut handle: *mut c_void = std::ptr::null_mut();
    // SAFETY: `host` is boxed and kept alive by the Session until `destroy`; `handle` is a
    // valid place to write the new session's pointer.
    let rc = unsafe { (table.create)(&*host, &mut handle) };
    if rc != abi::OK || handle.is_null() {
        return Err(Error::protocol(format!(
            "{label} could not create a session (code {rc})"
        )));
    }
    let session = Arc::new(Session {
        raw: Arc::new(Raw {
            table,
            handle,
            _host: host,
        }),
        label,
        timeout,
        next_id: AtomicU64::new(1),
        broken: Mutex::new(None),
    });
    let value = host::block_on({
        let session = session.clone();
        async move {
            session
                .call(Request::Hello {
                    protocol: PROTOCOL_VERSION,
                    host: concat!("picday ", env!("CARGO_PKG_VERSION")).into(),
                    photo_transfer: vec![PhotoTransfer::Base64],
                })
                .await
        }
    })?;
    let hello = crate::exec::check_hello(&session.label, candidate, value)?;
    Ok((session, hello))
}

/// One session of a library: the handle `create` returned.
struct Raw {
    table: &'static PluginV1,
    handle: *mut c_void,
    /// What `handle` points back to; must outlive it.
    _host: Box<HostV1>,
}

// SAFETY: the ABI contract says a session's `call` may run on any thread, several at once
// (the SDK keeps the plugin behind a lock and requires `Send + Sync`). `destroy` runs only
// when the last `Arc<Raw>` is dropped, so never during a call.
unsafe impl Send for Raw {}
// SAFETY: as above.
unsafe impl Sync for Raw {}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: the handle came from this table's `create` and no call holds it any more
        // (calls hold an `Arc<Raw>`; a call abandoned after a timeout keeps it alive).
        unsafe { (self.table.destroy)(self.handle) };
    }
}

impl Raw {
    /// One blocking call: JSON in, JSON out.
    fn call(&self, input: &[u8]) -> std::result::Result<Vec<u8>, i32> {
        let mut out = Buf::empty();
        // SAFETY: the handle is live (we hold it), `input` is a live slice and `out` a local
        // the library writes its buffer into.
        let rc = unsafe { (self.table.call)(self.handle, input.as_ptr(), input.len(), &mut out) };
        // SAFETY: on return the library describes `len` bytes it allocated (or null).
        let bytes = unsafe { out.as_slice() }.to_vec();
        // SAFETY: `out` was allocated by the library, so its own free_buf releases it.
        unsafe { (self.table.free_buf)(out) };
        if rc == abi::OK { Ok(bytes) } else { Err(rc) }
    }
}

/// A library session, as a target uses it.
pub struct Session {
    raw: Arc<Raw>,
    label: String,
    timeout: Duration,
    next_id: AtomicU64,
    broken: Mutex<Option<(ErrorKind, String)>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("plugin", &self.label)
            .finish()
    }
}

impl Session {
    /// Sends one request on a blocking thread and reads the reply.
    pub async fn call(&self, request: Request) -> Result<serde_json::Value> {
        if let Some((kind, msg)) = self
            .broken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(Error::new(kind, msg).temporary(false));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let op = request.op();
        let input = serde_json::to_vec(&Envelope { id, request })
            .map_err(|e| Error::internal(e.to_string()))?;
        let raw = self.raw.clone();
        let answer = host::blocking(self.timeout, move || raw.call(&input)).await?;
        let fail = |kind: ErrorKind, msg: String| {
            *self.broken.lock().unwrap_or_else(|p| p.into_inner()) = Some((kind, msg.clone()));
            Error::new(kind, msg).temporary(false)
        };
        let bytes = match answer {
            None => {
                return Err(fail(
                    ErrorKind::Unavailable,
                    format!(
                        "{} did not answer `{op}` within {} s; its target is stopped (the call's thread cannot be interrupted)",
                        self.label,
                        self.timeout.as_secs_f64()
                    ),
                ));
            }
            Some(Err(rc)) => {
                let why = if rc == abi::PANICKED {
                    "panicked outside the SDK's guard".to_string()
                } else {
                    format!("failed with code {rc}")
                };
                return Err(fail(
                    ErrorKind::Protocol,
                    format!("{} {why} during `{op}`", self.label),
                ));
            }
            Some(Ok(bytes)) => bytes,
        };
        let reply: ReplyEnvelope = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                let text = String::from_utf8_lossy(&bytes);
                return Err(fail(
                    ErrorKind::Protocol,
                    format!(
                        "{} answered `{op}` with something that is not a protocol {PROTOCOL_VERSION} reply ({e}): {}",
                        self.label,
                        crate::exec::excerpt(&text)
                    ),
                ));
            }
        };
        match reply.reply {
            _ if reply.id != id => Err(fail(
                ErrorKind::Protocol,
                format!(
                    "{} answered request {} to request {id} (`{op}`)",
                    self.label, reply.id
                ),
            )),
            Reply::Ok(v) => Ok(v),
            Reply::Error(m) => Err(host::from_error_msg(&self.label, m)),
            Reply::Http(_) => Err(fail(
                ErrorKind::Protocol,
                format!(
                    "{} answered `{op}` with an HTTP request; libraries call the host's `http` function instead",
                    self.label
                ),
            )),
        }
    }
}

/// The host's `http` for libraries: called on the library's (blocking) thread.
unsafe extern "C" fn host_http(
    _ctx: *const c_void,
    ptr: *const u8,
    len: usize,
    out: *mut Buf,
) -> i32 {
    if out.is_null() || (ptr.is_null() && len > 0) {
        return abi::BAD_CALL;
    }
    let input = if ptr.is_null() {
        &[][..]
    } else {
        // SAFETY: the library passes `len` readable bytes that outlive this call.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    let result = match serde_json::from_slice::<HttpRequest>(input) {
        Ok(request) => host::block_on(async move { Ok(host::http(request).await) })
            .unwrap_or_else(|e| HttpResult::Error(host::error_msg(&e))),
        Err(e) => HttpResult::Error(host::error_msg(&Error::protocol(format!(
            "unreadable HTTP request from the plugin: {e}"
        )))),
    };
    let bytes = serde_json::to_vec(&result).unwrap_or_default();
    // SAFETY: `out` is non-null and writable by the ABI contract.
    unsafe { *out = Buf::from_vec(bytes) };
    abi::OK
}

/// Frees a buffer `host_http` allocated.
unsafe extern "C" fn host_free_buf(buf: Buf) {
    // SAFETY: libraries only give back buffers `host_http` made with `Buf::from_vec`.
    drop(unsafe { buf.into_vec() });
}
