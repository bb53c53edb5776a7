//! Progressive JPEGs and every output through libjpeg-turbo (cargo feature `turbojpeg`).
//!
//! Why: libjpeg-turbo decodes progressive JPEGs about a quarter faster than the pure-Rust
//! decoder (0.37 s against 0.49 s for 24 MP), at any n/8 scale, and encodes about twice as
//! fast. Sequential (baseline) JPEGs, nearly every camera's, do not come here: picday's copy of
//! jpeg-decoder decodes them faster than libjpeg-turbo (`decode.rs`, `docs/photos.md`). It is
//! C built with cmake and nasm, so it stays opt-in (schools build on Windows with only a Rust
//! toolchain). Metadata (EXIF orientation, ICC) is still read by the pure-Rust parser in
//! `decode.rs`; this module only produces pixels in the same layouts. The outputs are encoded
//! with the same rules as the pure-Rust encoder: 4:2:0 below quality 90, and no metadata
//! segment but the JFIF header.

use image::RgbImage;
use turbojpeg::{Colorspace, Compressor, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

use super::decode::Raw;
use crate::error::{Error, Result};

/// Most scans a progressive JPEG may have.
const MAX_SCANS: u32 = 100;

fn turbo_error(e: turbojpeg::Error) -> Error {
    Error::input(format!("cannot decode the photo: {e}"))
}

/// Decodes at the smallest n/8 scale that keeps the short side >= `min_short`.
pub(super) fn decode(bytes: &[u8], min_short: u32) -> Result<(u32, u32, Raw)> {
    let mut d = Decompressor::new().map_err(turbo_error)?;
    let header = d.read_header(bytes).map_err(turbo_error)?;
    let short = header.width.min(header.height);
    let need = usize::try_from(min_short).unwrap_or(usize::MAX);
    let factor = Decompressor::supported_scaling_factors()
        .into_iter()
        .filter(|f| f.num() <= f.denom() && f.scale(short) >= need.min(short))
        .min_by_key(|f| f.num() * 16 / f.denom())
        .unwrap_or(ScalingFactor::ONE);
    d.set_scaling_factor(factor).map_err(turbo_error)?;
    // A progressive JPEG may declare thousands of scans, each a pass over the whole image: a
    // real photo has about ten. More than this is refused rather than decoded for minutes.
    d.set_scan_limit(MAX_SCANS).map_err(turbo_error)?;
    let scaled = header.scaled(factor);
    let format = match header.colorspace {
        Colorspace::Gray => PixelFormat::GRAY,
        Colorspace::CMYK | Colorspace::YCCK => PixelFormat::CMYK,
        _ => PixelFormat::RGB,
    };
    let pitch = scaled.width * format.size();
    let mut pixels = vec![0u8; pitch * scaled.height];
    d.decompress(
        bytes,
        Image {
            pixels: pixels.as_mut_slice(),
            width: scaled.width,
            pitch,
            height: scaled.height,
            format,
        },
    )
    .map_err(turbo_error)?;
    let raw = match format {
        PixelFormat::GRAY => Raw::Gray(pixels),
        PixelFormat::CMYK => {
            // libjpeg-turbo hands back the stored (Adobe, inverted) values; the rest of the
            // pipeline works in ink amounts, like jpeg-decoder.
            pixels.iter_mut().for_each(|v| *v = 255 - *v);
            Raw::Cmyk(pixels)
        }
        _ => Raw::Rgb(pixels),
    };
    let w = u32::try_from(scaled.width).map_err(|_| Error::input("JPEG too wide"))?;
    let h = u32::try_from(scaled.height).map_err(|_| Error::input("JPEG too tall"))?;
    Ok((w, h, raw))
}

/// Baseline JPEG at `quality` (4:2:0 below 90, 4:4:4 from 90, like the pure-Rust encoder).
pub(super) fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let encode_error = |e: turbojpeg::Error| Error::internal(format!("JPEG encode: {e}"));
    let (w, h) = image.dimensions();
    let width = usize::try_from(w).map_err(|_| Error::rejected("output too wide for JPEG"))?;
    let height = usize::try_from(h).map_err(|_| Error::rejected("output too tall for JPEG"))?;
    let mut c = Compressor::new().map_err(encode_error)?;
    c.set_quality(i32::from(quality.clamp(1, 100)))
        .map_err(encode_error)?;
    c.set_subsamp(if quality < 90 {
        Subsamp::Sub2x2
    } else {
        Subsamp::None
    })
    .map_err(encode_error)?;
    c.compress_to_vec(Image {
        pixels: image.as_raw().as_slice(),
        width,
        pitch: width * 3,
        height,
        format: PixelFormat::RGB,
    })
    .map_err(encode_error)
}
