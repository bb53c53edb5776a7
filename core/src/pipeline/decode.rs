//! Decoding: turns the bytes of a source photo into upright 8-bit sRGB pixels, as small as the
//! requested outputs allow.
//!
//! Why a module of its own: decoding is where almost all of the time, memory and risk is. JPEGs
//! are decoded "shrink on load" (the DCT is scaled by 1/2, 1/4 or 1/8 while decoding, so a 24 MP
//! photo never exists at full size in memory) with the pure-Rust `jpeg-decoder` (the copy in
//! `vendor/`, which decodes on the calling thread and is tuned for baseline JPEGs); behind the
//! `turbojpeg` cargo feature, progressive and lossless JPEGs go through libjpeg-turbo.
//! Everything a school delivery contains is normalised here: EXIF orientation, embedded ICC
//! profiles (converted to sRGB with `moxcms`), CMYK/YCCK JPEGs, greyscale, 16-bit and
//! transparent PNGs. Metadata is read only for that purpose and never carried forward. Every
//! decoder call runs under `catch_unwind`, so a decoder bug on a hostile file becomes an input
//! error, never a crashed run.

use std::cell::RefCell;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, RgbImage};

use super::SourceInfo;
use crate::error::{Error, Result};

/// A worker keeps the JPEG decoder's buffers (the scan's data, the sample planes, the pixels:
/// 10-15 MB for a 24 MP photo at 1/4 scale) from one photo to the next, up to this size: freed
/// and allocated again, each of their pages is a page fault for the kernel to serve, together
/// about 3% of a photo's time (`docs/photos.md`).
const KEEP_DECODE_BUFFERS: usize = 64 << 20;

thread_local! {
    static JPEG_BUFFERS: RefCell<jpeg_decoder::Buffers> = RefCell::default();
}

/// Keeps `buffers` for this thread's next JPEG decode, unless they are too large to pin.
fn keep_buffers(buffers: jpeg_decoder::Buffers) {
    if buffers.capacity() <= KEEP_DECODE_BUFFERS {
        JPEG_BUFFERS.set(buffers);
    }
}

/// Hands the pixels of a photo that is done with back to this thread's next JPEG decode.
pub fn recycle(decoded: Decoded) {
    let pixels = decoded.image.into_raw();
    JPEG_BUFFERS.with_borrow_mut(|buffers| {
        if buffers.capacity() + pixels.capacity() <= KEEP_DECODE_BUFFERS {
            buffers.recycle_pixels(pixels);
        }
    });
}

/// A source photo decoded and turned upright, as 8-bit sRGB.
#[derive(Debug)]
pub struct Decoded {
    /// The pixels, possibly smaller than the source (shrink on load).
    pub image: RgbImage,
    /// Upright size of the source at full resolution: crops are planned in these coordinates.
    pub source_width: u32,
    pub source_height: u32,
    /// Things worth knowing that did not stop the decode (an unreadable ICC profile...).
    pub notes: Vec<String>,
}

impl Decoded {
    /// Decoded pixels per source pixel, horizontally and vertically.
    pub fn scale(&self) -> (f64, f64) {
        (
            f64::from(self.image.width()) / f64::from(self.source_width),
            f64::from(self.image.height()) / f64::from(self.source_height),
        )
    }
}

/// Turns a decoded photo clockwise by `quarter_turns` quarter turns (a person's review
/// decision, after the photo's own orientation), its source size with it.
pub fn turn(decoded: Decoded, quarter_turns: u8) -> Decoded {
    let image = match quarter_turns % 4 {
        0 => return decoded,
        1 => image::imageops::rotate90(&decoded.image),
        2 => image::imageops::rotate180(&decoded.image),
        _ => image::imageops::rotate270(&decoded.image),
    };
    let swaps = quarter_turns % 2 == 1;
    let (source_width, source_height) = if swaps {
        (decoded.source_height, decoded.source_width)
    } else {
        (decoded.source_width, decoded.source_height)
    };
    Decoded {
        image,
        source_width,
        source_height,
        notes: decoded.notes,
    }
}

/// Decodes at full resolution.
pub fn decode(bytes: &[u8], info: SourceInfo) -> Result<Decoded> {
    decode_scaled(bytes, info, u32::MAX)
}

/// Decodes, shrinking on load as far as possible while keeping the short side of the result at
/// least `min_short` pixels (or the full size, if smaller). Only JPEG can shrink on load.
pub fn decode_scaled(bytes: &[u8], info: SourceInfo, min_short: u32) -> Result<Decoded> {
    let run = || match info.format {
        ImageFormat::Jpeg => decode_jpeg(bytes, info, min_short),
        ImageFormat::Png => decode_with_image(bytes, info),
        other => Err(Error::input(format!("{other:?} images are not supported"))),
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(_) => Err(Error::input(
            "the decoder gave up on this file (corrupt data); export the photo again",
        )),
    }
}

fn decode_error(e: impl std::fmt::Display) -> Error {
    Error::input(format!("cannot decode the photo: {e}"))
}

/// The pixel layout a JPEG decoder hands back.
pub(super) enum Raw {
    Rgb(Vec<u8>),
    Gray(Vec<u8>),
    /// Ink amounts (0 = no ink), four bytes per pixel.
    Cmyk(Vec<u8>),
}

fn decode_jpeg(bytes: &[u8], info: SourceInfo, min_short: u32) -> Result<Decoded> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    // The engine already runs one decode per core; the decoder's own per-component threads
    // would only add hand-offs (vendor/jpeg-decoder/PICDAY.md).
    decoder.set_single_threaded(true);
    // The header was checked against the pixel limit; never let the decoder allocate more than
    // that image could need (4 bytes a pixel for CMYK, plus slack for the DCT block padding).
    let limit = (u64::from(info.width) + 16) * (u64::from(info.height) + 16) * 4;
    decoder.set_max_decoding_buffer_size(usize::try_from(limit).unwrap_or(usize::MAX));
    decoder.read_info().map_err(decode_error)?;
    let header = decoder
        .info()
        .ok_or_else(|| Error::input("the JPEG has no frame header"))?;
    if (u32::from(header.width), u32::from(header.height)) != (info.width, info.height) {
        return Err(Error::input(
            "the JPEG headers disagree about its size (corrupt file)",
        ));
    }
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile();

    decoder.set_buffers(JPEG_BUFFERS.take());
    let pixels = decode_jpeg_pixels(&mut decoder, bytes, header, min_short);
    keep_buffers(decoder.take_buffers());
    let (w, h, raw) = pixels?;
    let mut notes = Vec::new();
    let rgb = match raw {
        Raw::Rgb(px) => {
            let mut px = px;
            if let Some(icc) = &icc {
                icc_rgb_to_srgb(icc, &mut px, &mut notes);
            }
            px
        }
        Raw::Gray(px) => px.iter().flat_map(|&g| [g, g, g]).collect(),
        Raw::Cmyk(px) => cmyk_to_srgb(&px, icc.as_deref(), &mut notes),
    };
    let image = RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| Error::input("the JPEG decoded to fewer pixels than its header says"))?;
    Ok(upright(image, orientation, info, notes))
}

/// The pixels of a JPEG, at the smallest DCT scale that keeps the short side >= `min_short`.
///
/// Sequential (baseline) JPEGs, nearly every camera's, go through jpeg-decoder in every build:
/// its sequential decoding (the copy in `vendor/`) is faster than libjpeg-turbo's. With the
/// `turbojpeg` feature, progressive and lossless JPEGs go through libjpeg-turbo, which decodes
/// those faster and at any n/8 scale.
fn decode_jpeg_pixels(
    decoder: &mut jpeg_decoder::Decoder<&[u8]>,
    bytes: &[u8],
    header: jpeg_decoder::ImageInfo,
    min_short: u32,
) -> Result<(u32, u32, Raw)> {
    #[cfg(feature = "turbojpeg")]
    if header.coding_process != jpeg_decoder::CodingProcess::DctSequential {
        return super::turbo::decode(bytes, min_short);
    }
    #[cfg(not(feature = "turbojpeg"))]
    let _ = bytes;
    let short = header.width.min(header.height);
    if min_short < u32::from(short) {
        // `scale` keeps the smallest factor for which EITHER axis reaches the request, so only
        // the short axis may be constrained (the other asks for the impossible).
        let need = u16::try_from(min_short.max(1)).unwrap_or(u16::MAX);
        if header.width <= header.height {
            decoder.scale(need, u16::MAX).map_err(decode_error)?;
        } else {
            decoder.scale(u16::MAX, need).map_err(decode_error)?;
        }
    }
    let pixels = decoder.decode().map_err(decode_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| Error::input("the JPEG has no frame header"))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let raw = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => Raw::Rgb(pixels),
        jpeg_decoder::PixelFormat::L8 => Raw::Gray(pixels),
        // 12-bit greyscale: keep the high byte (big-endian samples).
        jpeg_decoder::PixelFormat::L16 => Raw::Gray(pixels.chunks_exact(2).map(|c| c[0]).collect()),
        jpeg_decoder::PixelFormat::CMYK32 => Raw::Cmyk(pixels),
    };
    Ok((w, h, raw))
}

/// Refuses a PNG whose palette chunk (`PLTE`) cannot be a palette: its length must be a
/// whole number of RGB entries, 1 to 256 of them, and there is one (PNG spec, 11.2.3). The
/// `png` crate (0.18) indexes a palette of any other length past its end and panics (found by
/// the fuzz target; crash input in `fuzz/corpus/decode`); such a file is damaged anyway.
fn check_png_palette(bytes: &[u8]) -> Result<()> {
    let mut at = 8; // the signature
    let mut palettes = 0;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        if kind == b"IDAT" || kind == b"IEND" {
            break;
        }
        if kind == b"PLTE" {
            palettes += 1;
            if len == 0 || !len.is_multiple_of(3) || len > 3 * 256 || palettes > 1 {
                return Err(Error::input(format!(
                    "this PNG is damaged: its palette chunk ({len} bytes{}) is not a palette; \
                     export the photo again",
                    if palettes > 1 { ", the second one" } else { "" }
                )));
            }
        }
        at = at.saturating_add(12).saturating_add(len);
    }
    Ok(())
}

/// PNG (and anything else `image` reads): full decode, alpha flattened onto white, 16-bit to 8.
fn decode_with_image(bytes: &[u8], info: SourceInfo) -> Result<Decoded> {
    if info.format == ImageFormat::Png {
        check_png_palette(bytes)?;
    }
    let mut decoder = image::ImageReader::with_format(Cursor::new(bytes), info.format)
        .into_decoder()
        .map_err(decode_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let is_rgb = !matches!(
        image.color(),
        image::ColorType::L8
            | image::ColorType::L16
            | image::ColorType::La8
            | image::ColorType::La16
    );
    let mut rgb = if image.color().has_alpha() {
        flatten_on_white(&image)
    } else {
        image.into_rgb8()
    };
    let mut notes = Vec::new();
    if let (Some(icc), true) = (&icc, is_rgb) {
        let (w, h) = rgb.dimensions();
        let mut px = rgb.into_raw();
        icc_rgb_to_srgb(icc, &mut px, &mut notes);
        rgb = RgbImage::from_raw(w, h, px)
            .ok_or_else(|| Error::internal("colour conversion changed the buffer size"))?;
    }
    Ok(upright(rgb, orientation, info, notes))
}

/// Applies the EXIF orientation to the (already shrunk) pixels; the source size is reported
/// upright too, so every later stage works in upright coordinates only.
fn upright(
    image: RgbImage,
    orientation: Orientation,
    info: SourceInfo,
    notes: Vec<String>,
) -> Decoded {
    let swaps = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (source_width, source_height) = if swaps {
        (info.height, info.width)
    } else {
        (info.width, info.height)
    };
    let image = if orientation == Orientation::NoTransforms {
        image
    } else {
        let mut dynamic = DynamicImage::ImageRgb8(image);
        dynamic.apply_orientation(orientation);
        dynamic.into_rgb8()
    };
    Decoded {
        image,
        source_width,
        source_height,
        notes,
    }
}

/// Blends transparent pixels onto white (photographers' cut-outs have transparent backgrounds;
/// directories expect an opaque photo).
pub fn flatten_on_white(image: &DynamicImage) -> RgbImage {
    let rgba = image.to_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let a = u32::from(src[3]);
        for c in 0..3 {
            let v = (u32::from(src[c]) * a + 255 * (255 - a) + 127) / 255;
            dst[c] = v as u8;
        }
    }
    out
}

fn srgb_options() -> moxcms::TransformOptions {
    moxcms::TransformOptions {
        rendering_intent: moxcms::RenderingIntent::Perceptual,
        ..moxcms::TransformOptions::default()
    }
}

/// Converts RGB pixels in place from the embedded profile to sRGB. A profile that cannot be read
/// (or is not an RGB profile) is ignored, with a note: the pixels are then taken as sRGB.
fn icc_rgb_to_srgb(icc: &[u8], pixels: &mut [u8], notes: &mut Vec<String>) {
    let Ok(profile) = moxcms::ColorProfile::new_from_slice(icc) else {
        notes.push("embedded ICC profile is unreadable; colours taken as sRGB".into());
        return;
    };
    if profile.color_space != moxcms::DataColorSpace::Rgb {
        notes.push("embedded ICC profile is not an RGB profile; colours taken as sRGB".into());
        return;
    }
    let srgb = moxcms::ColorProfile::new_srgb();
    let transform = match profile.create_transform_8bit(
        moxcms::Layout::Rgb,
        &srgb,
        moxcms::Layout::Rgb,
        srgb_options(),
    ) {
        Ok(t) => t,
        Err(_) => {
            notes.push("embedded ICC profile cannot be applied; colours taken as sRGB".into());
            return;
        }
    };
    let src = pixels.to_vec();
    if transform.transform(&src, pixels).is_err() {
        pixels.copy_from_slice(&src);
        notes.push("embedded ICC profile cannot be applied; colours taken as sRGB".into());
    }
}

/// CMYK ink amounts to sRGB: through the embedded CMYK profile when there is one (that is what
/// the printer's file means), otherwise with the device-independent formula.
fn cmyk_to_srgb(cmyk: &[u8], icc: Option<&[u8]>, notes: &mut Vec<String>) -> Vec<u8> {
    if let Some(icc) = icc {
        match moxcms::ColorProfile::new_from_slice(icc) {
            Ok(profile) if profile.color_space == moxcms::DataColorSpace::Cmyk => {
                let srgb = moxcms::ColorProfile::new_srgb();
                if let Ok(t) = profile.create_transform_8bit(
                    moxcms::Layout::Rgba,
                    &srgb,
                    moxcms::Layout::Rgb,
                    srgb_options(),
                ) {
                    let mut out = vec![0u8; cmyk.len() / 4 * 3];
                    if t.transform(cmyk, &mut out).is_ok() {
                        return out;
                    }
                }
                notes.push("embedded CMYK profile cannot be applied; converted without it".into());
            }
            _ => notes.push("embedded ICC profile is not a CMYK profile; ignored".into()),
        }
    }
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - u32::from(p[3]);
            let f = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
            [f(p[0]), f(p[1]), f(p[2])]
        })
        .collect()
}
