//! Decodes every input with picday's copy of jpeg-decoder and with the published 0.3.2 it was
//! taken from, at one DCT scale (`PICDAY_FUZZ_SCALE`: 1, 2, 4 or 8, for 1/1 to 1/8), and
//! fails on any difference the copy does not document:
//!
//! - both decode: the same size, pixel format and pixels, byte for byte;
//! - only upstream decodes, or only the copy: a bug, unless the copy recorded one of its
//!   documented departures on damaged data (`jpeg_decoder::departures`, PICDAY.md change 2):
//!   after (a) anything may differ (the scan is read from a different bit onwards); after (b)
//!   or (c) the copy may decode a file whose restart intervals upstream gives up on; (d) the
//!   copy refuses a file with fill bytes and 00 after the end of a scan's MCUs.
//!
//! The copy is driven as picday drives it (single-threaded, its buffers lent from one decode
//! to the next, so a read of a stale buffer shows up as a difference), upstream as published.
//! Counts of each outcome are printed at exit, for vendor/jpeg-decoder/PICDAY.md.
#![no_main]

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use libfuzzer_sys::fuzz_target;

/// Larger frames are skipped: upstream decodes them on helper threads, which slows the
/// campaign down, and no code path needs them (the largest MCU is 32x32).
const MAX_PIXELS: u32 = 512 * 512;
/// The same allocation limit for both, as picday sets one from the header.
const MAX_BUFFER: usize = 8 << 20;

fn scale() -> u16 {
    static SCALE: OnceLock<u16> = OnceLock::new();
    *SCALE.get_or_init(|| {
        let scale = std::env::var("PICDAY_FUZZ_SCALE").unwrap_or_else(|_| "1".into());
        match scale.trim() {
            "1" => 1,
            "2" => 2,
            "4" => 4,
            "8" => 8,
            other => panic!("PICDAY_FUZZ_SCALE must be 1, 2, 4 or 8, not {other:?}"),
        }
    })
}

thread_local! {
    static BUFFERS: RefCell<vendored::Buffers> = RefCell::default();
}

/// Outcomes, printed when the process exits (libFuzzer calls `exit`).
static COUNTS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
const NAMES: [&str; 8] = [
    "no frame or too large (skipped)",
    "both decoded, same pixels",
    "both failed",
    "both decoded after departure (a), pixels not compared",
    "outcomes differ after departure (a)",
    "only the copy decoded, after departure (b) or (c)",
    "both decoded at a reduced scale",
    "only upstream decoded, departure (d)",
];

fn count(outcome: usize) {
    COUNTS[outcome].fetch_add(1, Relaxed);
}

extern "C" fn print_counts() {
    eprintln!("== differential outcomes at 1/{}", scale());
    for (name, n) in NAMES.iter().zip(&COUNTS) {
        eprintln!("   {:>10}  {name}", n.load(Relaxed));
    }
}

unsafe extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

struct Decoded {
    width: u16,
    height: u16,
    format: String,
    pixels: Vec<u8>,
}

fn decode_upstream(data: &[u8], width: u16, height: u16) -> Result<Decoded, String> {
    let mut decoder = upstream::Decoder::new(data);
    decoder.set_max_decoding_buffer_size(MAX_BUFFER);
    decoder.read_info().map_err(|e| e.to_string())?;
    decoder.scale(width, height).map_err(|e| e.to_string())?;
    let pixels = decoder.decode().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no info after decoding")?;
    Ok(Decoded {
        width: info.width,
        height: info.height,
        format: format!("{:?}", info.pixel_format),
        pixels,
    })
}

fn decode_vendored(data: &[u8], width: u16, height: u16) -> Result<Decoded, String> {
    let mut decoder = vendored::Decoder::new(data);
    decoder.set_single_threaded(true);
    decoder.set_max_decoding_buffer_size(MAX_BUFFER);
    decoder.read_info().map_err(|e| e.to_string())?;
    decoder.scale(width, height).map_err(|e| e.to_string())?;
    decoder.set_buffers(BUFFERS.take());
    let pixels = decoder.decode();
    BUFFERS.set(decoder.take_buffers());
    let pixels = pixels.map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no info after decoding")?;
    Ok(Decoded {
        width: info.width,
        height: info.height,
        format: format!("{:?}", info.pixel_format),
        pixels,
    })
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

fuzz_target!(
    init: {
        // SAFETY: `atexit` with a function that only reads atomics and writes to stderr.
        unsafe { atexit(print_counts) };
    },
    |data: &[u8]| {
    // The frame's size, from upstream's header parse (the copy's parser is upstream's).
    let mut probe = upstream::Decoder::new(data);
    let Some(info) = probe.read_info().ok().and_then(|()| probe.info()) else {
        count(0);
        return;
    };
    if u32::from(info.width) * u32::from(info.height) > MAX_PIXELS {
        count(0);
        return;
    }
    let s = scale();
    let (w, h) = (info.width.div_ceil(s).max(1), info.height.div_ceil(s).max(1));

    let _ = vendored::departures::take();
    let ours = decode_vendored(data, w, h);
    let departures = vendored::departures::take();
    let theirs = decode_upstream(data, w, h);

    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            if (a.width, a.height, &a.format) != (b.width, b.height, &b.format) {
                panic!(
                    "the copy decoded {}x{} {}, upstream {}x{} {} ({departures:?})",
                    a.width, a.height, a.format, b.width, b.height, b.format
                );
            }
            if a.pixels != b.pixels {
                if departures.run_past_block > 0 {
                    count(3);
                } else {
                    panic!(
                        "the copy and upstream decoded different pixels at 1/{s} ({}x{} {}, \
                         {} and {} bytes, first difference at byte {:?})",
                        a.width,
                        a.height,
                        a.format,
                        a.pixels.len(),
                        b.pixels.len(),
                        first_difference(&a.pixels, &b.pixels)
                    );
                }
            } else {
                count(1);
                if s > 1 && (a.width, a.height) != (info.width, info.height) {
                    count(6);
                }
            }
        }
        (Err(_), Err(_)) => count(2),
        _ if departures.run_past_block > 0 => count(4),
        (Ok(_), Err(e))
            if (departures.restart_skip > 0 || departures.trailing_intervals > 0)
                && e.contains("RST") =>
        {
            count(5)
        }
        // (d): the copy reads a sequential scan's data whole, to its end marker, and refuses
        // fill bytes followed by 00 anywhere in it; upstream reads only as far as the scan's
        // MCUs need (and 8 bytes of look-ahead), and skips what lies after them as it skips
        // any bytes between markers. Only a damaged file has them; refusing it is safe.
        (Err(e), Ok(_)) if e.contains("FF 00 found where marker was expected") => count(7),
        (Ok(_), Err(e)) => panic!("only the copy decoded (upstream: {e}; {departures:?})"),
        (Err(e), Ok(_)) => panic!("only upstream decoded (the copy: {e}; {departures:?})"),
    }
    if let Ok(decoded) = ours {
        BUFFERS.with_borrow_mut(|buffers| buffers.recycle_pixels(decoded.pixels));
    }
});
