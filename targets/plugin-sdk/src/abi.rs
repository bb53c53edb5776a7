//! The dynamic-library boundary: one versioned `extern "C"` entry point returning a
//! `#[repr(C)]` table of functions.
//!
//! Rust has no stable ABI, so nothing Rust-specific crosses: no `String`, `Vec`, `Box<dyn>`,
//! `Result` or panic. Only integers, function pointers, byte buffers and opaque handles do.
//! Requests and replies are the JSON of [`crate::protocol`], the same messages an executable
//! plugin reads and writes. Every buffer is freed by the side that allocated it (`free_buf` of
//! the table that returned it). picday checks `abi_version` and `struct_size` before calling
//! anything else, and the table only grows by appending fields.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::protocol::{Envelope, HttpRequest, HttpResponse, HttpResult, Reply, ReplyEnvelope};
use crate::session::Session;
use crate::{ErrorKind, Host, HttpBridge, Plugin, PluginError};

/// The ABI this SDK exports.
pub const ABI_VERSION: u32 = 1;

/// The exported symbol of ABI version 1.
pub const ENTRY_SYMBOL: &str = "picday_plugin_v1";

/// The signature of the entry point.
pub type EntryV1 = unsafe extern "C" fn() -> *const PluginV1;

/// Return codes of the table's functions.
pub const OK: i32 = 0;
/// A null pointer or unreadable input; `out` holds nothing.
pub const BAD_CALL: i32 = 1;
/// A panic escaped the plugin's own handling; `out` holds nothing.
pub const PANICKED: i32 = 2;

/// Bytes owned by the side that allocated them; give them back with that side's `free_buf`.
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl Buf {
    /// An empty buffer (nothing to free).
    pub const fn empty() -> Self {
        Buf {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    /// Gives up a vector's allocation to the other side.
    pub fn from_vec(v: Vec<u8>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        Buf {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }

    /// Takes back an allocation made by [`Buf::from_vec`] in this same binary.
    ///
    /// # Safety
    /// `self` must come from `Buf::from_vec` of this binary and not have been freed.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: by the contract above, ptr/len/cap are a Vec's raw parts from this allocator.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }

    /// The bytes, borrowed.
    ///
    /// # Safety
    /// `self` must describe `len` readable bytes (or be null).
    pub unsafe fn as_slice(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: by the contract above.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// What picday offers a library: its HTTP client. Valid until the session is destroyed.
#[repr(C)]
#[derive(Debug)]
pub struct HostV1 {
    /// picday's own data; passed back unchanged.
    pub ctx: *const c_void,
    /// Makes an HTTP request: JSON [`HttpRequest`] in, JSON [`HttpResult`] written to `out`
    /// (allocated by picday). Returns [`OK`] or [`BAD_CALL`].
    pub http:
        unsafe extern "C" fn(ctx: *const c_void, ptr: *const u8, len: usize, out: *mut Buf) -> i32,
    /// Frees a buffer picday allocated.
    pub free_buf: unsafe extern "C" fn(buf: Buf),
}

/// The function table of ABI version 1.
#[repr(C)]
#[derive(Debug)]
pub struct PluginV1 {
    /// [`ABI_VERSION`] of the SDK that built the plugin.
    pub abi_version: u32,
    /// `size_of::<PluginV1>()` of that SDK: fields are only ever appended.
    pub struct_size: usize,
    /// The message protocol version ([`crate::PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// Creates a session (one per configured target). `host` must stay valid until `destroy`.
    pub create: unsafe extern "C" fn(host: *const HostV1, out: *mut *mut c_void) -> i32,
    /// Handles one JSON request (an [`Envelope`]); writes the JSON reply (a [`ReplyEnvelope`])
    /// into `out`, allocated by the plugin. May be called from several threads at once.
    pub call: unsafe extern "C" fn(
        session: *mut c_void,
        ptr: *const u8,
        len: usize,
        out: *mut Buf,
    ) -> i32,
    /// Frees a buffer the plugin allocated.
    pub free_buf: unsafe extern "C" fn(buf: Buf),
    /// Ends a session.
    pub destroy: unsafe extern "C" fn(session: *mut c_void),
}

/// The table for a plugin type; used by [`crate::plugin!`].
pub const fn table<P: Plugin>() -> PluginV1 {
    PluginV1 {
        abi_version: ABI_VERSION,
        struct_size: std::mem::size_of::<PluginV1>(),
        protocol: crate::PROTOCOL_VERSION,
        create: create::<P>,
        call: call::<P>,
        free_buf,
        destroy: destroy::<P>,
    }
}

struct LibSession<P> {
    session: Session<P>,
    host: *const HostV1,
}

unsafe extern "C" fn create<P: Plugin>(host: *const HostV1, out: *mut *mut c_void) -> i32 {
    if host.is_null() || out.is_null() {
        return BAD_CALL;
    }
    catch_unwind(|| {
        let s = Box::new(LibSession::<P> {
            session: Session::default(),
            host,
        });
        // SAFETY: `out` is non-null and, by the ABI contract, points to writable storage.
        unsafe { *out = Box::into_raw(s).cast() };
        OK
    })
    .unwrap_or(PANICKED)
}

unsafe extern "C" fn call<P: Plugin>(
    session: *mut c_void,
    ptr: *const u8,
    len: usize,
    out: *mut Buf,
) -> i32 {
    if session.is_null() || out.is_null() || (ptr.is_null() && len > 0) {
        return BAD_CALL;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `session` came from `create::<P>` (the ABI contract) and is not destroyed
        // while calls run; a LibSession is only read through `&`.
        let s = unsafe { &*session.cast::<LibSession<P>>() };
        let input = if ptr.is_null() {
            &[][..]
        } else {
            // SAFETY: the caller passes `len` readable bytes that outlive this call.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        };
        let (id, reply) = match serde_json::from_slice::<Envelope>(input) {
            Ok(env) => {
                let bridge = LibBridge { host: s.host };
                (env.id, s.session.handle(env.request, &Host::new(&bridge)))
            }
            Err(e) => (
                0,
                Reply::Error(
                    PluginError::new(
                        ErrorKind::Protocol,
                        format!("the plugin cannot read this request: {e}"),
                    )
                    .to_msg(),
                ),
            ),
        };
        serde_json::to_vec(&ReplyEnvelope { id, reply }).unwrap_or_default()
    }));
    match result {
        Ok(bytes) => {
            // SAFETY: `out` is non-null and writable by the ABI contract.
            unsafe { *out = Buf::from_vec(bytes) };
            OK
        }
        Err(_) => PANICKED,
    }
}

unsafe extern "C" fn free_buf(buf: Buf) {
    // SAFETY: the host only gives back buffers this library returned from `call`.
    drop(unsafe { buf.into_vec() });
}

unsafe extern "C" fn destroy<P: Plugin>(session: *mut c_void) {
    if session.is_null() {
        return;
    }
    let _ = catch_unwind(|| {
        // SAFETY: `session` came from `create::<P>` and no call runs any more (ABI contract).
        drop(unsafe { Box::from_raw(session.cast::<LibSession<P>>()) });
    });
}

struct LibBridge {
    host: *const HostV1,
}

impl HttpBridge for LibBridge {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PluginError> {
        let input = serde_json::to_vec(request)
            .map_err(|e| PluginError::new(ErrorKind::Internal, e.to_string()))?;
        let mut out = Buf::empty();
        // SAFETY: `host` was valid at `create` and stays valid until `destroy` (ABI contract).
        let host = unsafe { &*self.host };
        // SAFETY: input is a live slice; `out` is a local the host writes into.
        let rc = unsafe { (host.http)(host.ctx, input.as_ptr(), input.len(), &mut out) };
        // SAFETY: the host wrote `len` bytes it allocated; copied before being freed by it.
        let bytes = unsafe { out.as_slice() }.to_vec();
        // SAFETY: `out` was allocated by the host, so the host's free_buf releases it.
        unsafe { (host.free_buf)(out) };
        if rc != OK {
            return Err(PluginError::new(
                ErrorKind::Internal,
                format!("picday refused the HTTP request (code {rc})"),
            ));
        }
        match serde_json::from_slice::<HttpResult>(&bytes) {
            Ok(HttpResult::Response(r)) => Ok(r),
            Ok(HttpResult::Error(e)) => Err(PluginError::from_msg(e)),
            Err(e) => Err(PluginError::new(
                ErrorKind::Protocol,
                format!("unreadable HTTP result from picday: {e}"),
            )),
        }
    }
}
