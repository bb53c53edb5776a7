//! The photo pipeline: each source photo is decoded once and every output profile the enabled
//! targets ask for is derived from that one decode.
//!
//! The stages are separate functions so that each can be replaced on its own: [`inspect`] reads
//! the header and refuses what must not be decoded, [`decode_scaled`] gives upright sRGB pixels
//! no larger than the outputs need (shrink on load, see [`decode`]), [`face::detect`] finds the
//! subject, [`crop_rect`] / [`face::face_crop`] place each crop, [`resize`] scales it (Lanczos3)
//! and [`encode_within_budget`] writes a JPEG with no metadata, within the profile's byte budget.
//! [`Pipeline::process`] runs them in order; the engine calls it on a fixed pool of photo
//! workers, within the memory [`budget`].
//! `docs/photos.md` describes the behaviour for users.

pub mod budget;
pub mod decode;
pub mod face;
#[cfg(feature = "turbojpeg")]
mod turbo;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use image::{ImageFormat, RgbImage};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Format, Photo, Profile};
use crate::review::Adjustment;

pub use budget::{MemoryBudget, decode_memory};
pub use decode::{Decoded, decode, decode_scaled, flatten_on_white};
pub use face::{Detection, FaceBox};

/// Where the crop is placed in the source photo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CropMode {
    /// Around the detected face, at a standard head-and-shoulders position; falls back to
    /// [`CropMode::Top`] (and flags the photo) when there is not exactly one clear face.
    #[default]
    Face,
    /// Anchored towards the top, where the face of a school portrait is.
    Top,
    /// Centred.
    Center,
}

/// Settings that apply to every photo of a run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub crop: CropMode,
    /// Largest number of source pixels decoded.
    pub max_pixels: u64,
    /// Largest source file read, in bytes: checked before a byte is read.
    pub max_file_bytes: u64,
    /// The memory decoding may take, per photo and for all photos at once; shared by the
    /// clones of one pipeline (one run).
    pub budget: Arc<MemoryBudget>,
}

/// The default `max_file_bytes`: a camera's 24 MP JPEG is 4-15 MB, the same photo as a 16-bit
/// PNG up to about 150 MB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 200_000_000;

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            crop: CropMode::default(),
            max_pixels: 100_000_000,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            budget: Arc::default(),
        }
    }
}

/// A worker keeps the buffer it reads source files into between photos, up to this size (a
/// 24 MP JPEG is 4-10 MB): a fresh buffer per photo costs a page fault per 4 KiB, about 3 ms a
/// photo.
const KEEP_READ_BUFFER: usize = 32 << 20;

thread_local! {
    static READ_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    // Keeps its buffer of horizontally filtered rows (1-2 MB) from one photo to the next.
    static RESIZER: RefCell<fast_image_resize::Resizer> =
        RefCell::new(fast_image_resize::Resizer::new());
}

/// Shrink on load keeps the decoded short side at least this many times the largest output
/// side (DCT scaling is a crude filter; the Lanczos3 resize after it does the real work).
pub const DECODE_HEADROOM: f64 = 1.5;

/// What the header of a source photo says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel of what the decoder hands back at full size (1 for grey, 3 for RGB, 4
    /// for CMYK or RGBA, up to 8 for 16-bit RGBA PNGs): what decoding costs in memory.
    pub bytes_per_pixel: u8,
}

/// A crop rectangle in the upright source, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    /// Whether `other` lies entirely inside this rectangle (with `slack` pixels of tolerance).
    pub fn contains(&self, other: &Rect, slack: f64) -> bool {
        other.x >= self.x - slack
            && other.y >= self.y - slack
            && other.x + other.width <= self.x + self.width + slack
            && other.y + other.height <= self.y + self.height + slack
    }
}

impl From<FaceBox> for Rect {
    fn from(f: FaceBox) -> Rect {
        Rect {
            x: f.x,
            y: f.y,
            width: f.width,
            height: f.height,
        }
    }
}

/// Why a photo should be looked at before it is sent. `Display` gives the flag text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Review {
    /// Face crop asked for, no face found: the top-anchored crop was used.
    NoFace,
    /// Several faces of similar size: the top-anchored crop was used.
    SeveralFaces { count: usize },
    /// The only face is too small to be the subject: the top-anchored crop was used.
    FaceTooSmall,
    /// The source's short side is below an output's size: that output is upscaled.
    SmallSource {
        width: u32,
        height: u32,
        profile_width: u32,
        profile_height: u32,
    },
    /// Decoded, but something was off (e.g. an unreadable colour profile).
    Note { text: String },
    /// `review.toml` holds a decision for this person made on another photo: it was not
    /// applied ([`crate::review::Lookup::Stale`]).
    StaleDecision,
}

impl Review {
    /// A stable short code (`no_face`, `several_faces`...), e.g. for a contact sheet.
    pub fn code(&self) -> &'static str {
        match self {
            Review::NoFace => "no_face",
            Review::SeveralFaces { .. } => "several_faces",
            Review::FaceTooSmall => "face_too_small",
            Review::SmallSource { .. } => "small_source",
            Review::Note { .. } => "note",
            Review::StaleDecision => "stale_review",
        }
    }
}

impl fmt::Display for Review {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Review::NoFace => write!(f, "no face found; cropped from the top"),
            Review::SeveralFaces { count } => {
                write!(f, "{count} faces found; cropped from the top")
            }
            Review::FaceTooSmall => {
                write!(f, "face too small to be the subject; cropped from the top")
            }
            Review::SmallSource {
                width,
                height,
                profile_width,
                profile_height,
            } => write!(
                f,
                "source {width}x{height} is smaller than the {profile_width}x{profile_height} output"
            ),
            Review::Note { text } => f.write_str(text),
            Review::StaleDecision => f.write_str(
                "the review decision (review.toml) was made on another photo of this person and \
                 no longer applies; review it again with `picday review`",
            ),
        }
    }
}

/// How much a source may be enlarged for an output before it is flagged `small_source`: more
/// than 15%. Below that an enlargement does not show on a screen (a photographer's standard
/// 640x800 delivery makes Entra's 648x648 at 1.0125x, and flagging it flagged every photo of
/// the school, which hid the one photo that really was too small); a 50x60 thumbnail for a
/// 96x96 output is 1.92x and is flagged.
pub const SMALL_SOURCE_UPSCALE: f64 = 1.15;

/// The enlargement a `width`x`height` source needs to cover `profile`, whatever the crop
/// (1.0 or less: no enlargement).
fn upscale(width: u32, height: u32, profile: &Profile) -> f64 {
    let by = |out: u32, source: u32| f64::from(out) / f64::from(source.max(1));
    by(profile.width, width).max(by(profile.height, height))
}

/// Everything the pipeline derived from one source photo.
#[derive(Debug, Clone)]
pub struct Processed {
    /// BLAKE3 of the source file's bytes, hex: identifies the source across runs (and finds the
    /// same placeholder delivered for several people).
    pub source_hash: String,
    /// Upright source size.
    pub width: u32,
    pub height: u32,
    pub photos: BTreeMap<Profile, Photo>,
    /// Things a person should look at before sending: the text of each [`Review`].
    pub flags: Vec<String>,
    /// The same, structured.
    pub review: Vec<Review>,
    /// The face the crops were placed around (upright source pixels), when crop = "face" found
    /// one; for several faces, the subject among them (not used for cropping).
    pub face: Option<FaceBox>,
    /// Where each profile's crop was taken from, in upright source pixels.
    pub crops: BTreeMap<Profile, Rect>,
    /// With an [`Adjustment`]: whether it was applied (`false`: it was made on another photo).
    pub adjusted: Option<bool>,
}

impl Pipeline {
    /// Reads, decodes and renders one source photo for every profile. The file's size and
    /// first bytes are checked before the rest is read: a 1.5 GB file, or a video named
    /// `.jpg`, is refused without being read whole.
    pub fn process(&self, path: &Path, profiles: &[Profile]) -> Result<Processed> {
        self.process_with(path, profiles, None)
    }

    /// Like [`Pipeline::process`], with a person's review decision: turned and cropped as
    /// decided, its flags dropped, if `adjust` was made on this very photo; else flagged
    /// [`Review::StaleDecision`] and processed as if there were none.
    pub fn process_with(
        &self,
        path: &Path,
        profiles: &[Profile],
        adjust: Option<&Adjustment>,
    ) -> Result<Processed> {
        READ_BUFFER.with_borrow_mut(|bytes| {
            bytes.clear();
            let processed = self
                .read_source(path, bytes)
                .and_then(|()| self.process_bytes_with(bytes, profiles, adjust));
            if bytes.capacity() > KEEP_READ_BUFFER {
                *bytes = Vec::new();
            }
            processed
        })
    }

    fn read_source(&self, path: &Path, bytes: &mut Vec<u8>) -> Result<()> {
        let io = |e| Error::io(path, e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len > self.max_file_bytes {
            return Err(Error::input(format!(
                "the file is {} MB, more than the {} MB a source photo may be",
                len.div_ceil(1_000_000),
                self.max_file_bytes / 1_000_000
            ))
            .with_context(
                "advice",
                "ask the photographer for the JPEG export (a portrait is a few MB)",
            ));
        }
        // Enough for every signature `inspect` knows; the rest only if it is an image.
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < head.len() {
            match file.read(&mut head[read..]).map_err(io)? {
                0 => break,
                n => read += n,
            }
        }
        sniff(&head[..read])?;
        bytes.reserve(usize::try_from(len).unwrap_or(0));
        bytes.extend_from_slice(&head[..read]);
        file.read_to_end(bytes).map_err(io)?;
        Ok(())
    }

    /// Like [`Pipeline::process`], on bytes already read.
    pub fn process_bytes(&self, bytes: &[u8], profiles: &[Profile]) -> Result<Processed> {
        self.process_bytes_with(bytes, profiles, None)
    }

    /// Like [`Pipeline::process_with`], on bytes already read.
    pub fn process_bytes_with(
        &self,
        bytes: &[u8],
        profiles: &[Profile],
        adjust: Option<&Adjustment>,
    ) -> Result<Processed> {
        let info = inspect(bytes, self.max_pixels)?;
        // Hashed first, while the file's bytes are still in the cache from being read.
        let source_hash = blake3::hash(bytes).to_hex().to_string();
        let largest = profiles
            .iter()
            .map(|p| p.width.max(p.height))
            .max()
            .unwrap_or(0);
        let min_short = (f64::from(largest) * DECODE_HEADROOM).ceil() as u32;
        let _memory = self
            .budget
            .reserve(decode_memory(&info, min_short, bytes.len()))?;
        let mut decoded = decode_scaled(bytes, info, min_short)?;
        let applied = adjust.filter(|a| a.source == source_hash);
        // A person's quarter turns (review.toml), applied to every decode of this photo.
        let turns = applied.map_or(0, |a| a.quarter_turns);
        decoded = decode::turn(decoded, turns);
        let (width, height) = (decoded.source_width, decoded.source_height);
        let mut review: Vec<Review> = decoded
            .notes
            .iter()
            .map(|n| Review::Note { text: n.clone() })
            .collect();

        // Face detection may decode the photo again, finer (`find_face`): crops come from the
        // decode it hands back, held under the memory it hands back.
        let (face, detected, decoded, _memory) = match self.crop {
            CropMode::Face => {
                let (found, decoded, memory) =
                    self.find_face(bytes, info, profiles, decoded, _memory, turns)?;
                let (face, detected) = match found {
                    Detection::Face(f) => (Some(f), true),
                    Detection::None => {
                        review.push(Review::NoFace);
                        (None, false)
                    }
                    Detection::Several { count, subject } => {
                        review.push(Review::SeveralFaces { count });
                        (Some(subject), false)
                    }
                    Detection::TooSmall(f) => {
                        review.push(Review::FaceTooSmall);
                        (Some(f), false)
                    }
                };
                (face, detected, decoded, memory)
            }
            CropMode::Top | CropMode::Center => (None, false, decoded, _memory),
        };

        let (sx, sy) = decoded.scale();
        let mut photos = BTreeMap::new();
        let mut crops = BTreeMap::new();
        for profile in profiles {
            if photos.contains_key(profile) {
                continue;
            }
            if upscale(width, height, profile) > SMALL_SOURCE_UPSCALE {
                let r = Review::SmallSource {
                    width,
                    height,
                    profile_width: profile.width,
                    profile_height: profile.height,
                };
                if !review.contains(&r) {
                    review.push(r);
                }
            }
            let aspect = f64::from(profile.width) / f64::from(profile.height);
            let rect = match (applied.and_then(|a| a.crop), face, detected) {
                (Some(c), _, _) => c.rect(width, height, aspect),
                (None, Some(f), true) => face::face_crop(
                    &f,
                    width,
                    height,
                    aspect,
                    f64::from(profile.width.min(profile.height)),
                ),
                _ if self.crop == CropMode::Center => {
                    crop_rect(width, height, profile, CropMode::Center)
                }
                _ => crop_rect(width, height, profile, CropMode::Top),
            };
            let scaled = Rect {
                x: rect.x * sx,
                y: rect.y * sy,
                width: rect.width * sx,
                height: rect.height * sy,
            };
            let pixels = resize(&decoded.image, scaled, profile.width, profile.height)?;
            let bytes = encode_within_budget(&pixels, profile)?;
            crops.insert(*profile, rect);
            photos.insert(
                *profile,
                Photo {
                    bytes: Arc::from(bytes),
                    width: profile.width,
                    height: profile.height,
                    profile: *profile,
                },
            );
        }
        decode::recycle(decoded);
        if applied.is_some_and(|a| a.accepted) {
            // A person looked at this photo and settled it.
            review.clear();
        } else if adjust.is_some() && applied.is_none() {
            review.push(Review::StaleDecision);
        }
        Ok(Processed {
            source_hash,
            width,
            height,
            photos,
            flags: review.iter().map(ToString::to_string).collect(),
            review,
            face,
            crops,
            adjusted: adjust.map(|_| applied.is_some()),
        })
    }
}

/// The whole upright source turned `quarter_turns` clockwise, scaled to fit `longest` pixels
/// on its longer side, as a JPEG: what the review page shows a person to place a crop on.
/// Also gives the turned source's full size, the frame crops are planned in.
pub fn render_source(
    pipeline: &Pipeline,
    path: &Path,
    longest: u32,
    quarter_turns: u8,
) -> Result<(Vec<u8>, u32, u32)> {
    let mut bytes = Vec::new();
    pipeline.read_source(path, &mut bytes)?;
    let info = inspect(&bytes, pipeline.max_pixels)?;
    let min_short = longest.min(info.width.min(info.height));
    let _memory = pipeline
        .budget
        .reserve(decode_memory(&info, min_short, bytes.len()))?;
    let decoded = decode::turn(decode_scaled(&bytes, info, min_short)?, quarter_turns);
    let (width, height) = (decoded.source_width, decoded.source_height);
    let fit = (f64::from(longest) / f64::from(width.max(height))).min(1.0);
    let (w, h) = (
        ((f64::from(width) * fit).round() as u32).max(1),
        ((f64::from(height) * fit).round() as u32).max(1),
    );
    let whole = Rect {
        x: 0.0,
        y: 0.0,
        width: f64::from(decoded.image.width()),
        height: f64::from(decoded.image.height()),
    };
    let pixels = resize(&decoded.image, whole, w, h)?;
    Ok((encode_jpeg(&pixels, 85)?, width, height))
}

/// Identifies the format and size from the header, before any pixel is decoded, and refuses
/// what is not a complete JPEG or PNG or is larger than `max_pixels`.
pub fn inspect(bytes: &[u8], max_pixels: u64) -> Result<SourceInfo> {
    let format = sniff(bytes)?;
    let scans = (format == ImageFormat::Jpeg).then(|| jpeg_scans(bytes));
    if scans.as_ref().is_some_and(Option::is_none) {
        return Err(Error::input(
            "the JPEG is truncated (no end-of-image marker); copy it again from the delivery",
        ));
    }
    let (width, height, bytes_per_pixel) = header_size(bytes, format)?;
    if width == 0 || height == 0 {
        return Err(Error::input("the image has no pixels"));
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Error::input(format!(
            "{width}x{height} is more than the {max_pixels} pixel limit ([photo] max_pixels)"
        )));
    }
    if let Some(Some(scans)) = scans
        && jpeg_data_too_short(scans, width, height)
    {
        return Err(Error::input(format!(
            "the JPEG is damaged: its header says {width}x{height}, but its image data is far \
             too short for that (a decoder would fill the rest with black); export the photo \
             again"
        ))
        .with_context("advice", "copy the photo again from the delivery"));
    }
    Ok(SourceInfo {
        format,
        width,
        height,
        bytes_per_pixel,
    })
}

/// The format a file's first bytes announce, refusing everything but JPEG and PNG with words
/// a person understands.
fn sniff(bytes: &[u8]) -> Result<ImageFormat> {
    if bytes.is_empty() {
        return Err(
            Error::input("the file is empty").with_context("advice", "export the photo again")
        );
    }
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => Ok(f),
        Ok(other) => Err(Error::input(format!(
            "{other:?} images are not supported; convert the photo to JPEG"
        ))),
        Err(_) if is_heif(bytes) => Err(Error::input(
            "HEIC/HEIF photos are not supported; convert to JPEG (e.g. `heif-convert in.heic out.jpg`)",
        )),
        Err(_) => {
            let what = if looks_like_text(bytes) {
                "a text or HTML file"
            } else {
                "not an image picday can read"
            };
            Err(Error::input(format!(
                "{what}, not a photo; replace it with the JPEG from the photographer"
            )))
        }
    }
}

/// The pixel size the header declares. JPEG headers are read by the decoder that will decode
/// the pixels (markers only, up to the first scan: no copy of the file, no pixel work).
fn header_size(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32, u8)> {
    let unreadable =
        |e: &dyn fmt::Display| Error::input(format!("unreadable {format:?} header: {e}"));
    let read = || -> Result<(u32, u32, u8)> {
        if format == ImageFormat::Jpeg {
            let mut decoder = jpeg_decoder::Decoder::new(bytes);
            decoder.read_info().map_err(|e| unreadable(&e))?;
            let info = decoder
                .info()
                .ok_or_else(|| Error::input("the JPEG has no frame header"))?;
            let bytes_per_pixel = match info.pixel_format {
                jpeg_decoder::PixelFormat::L8 => 1,
                jpeg_decoder::PixelFormat::L16 => 2,
                jpeg_decoder::PixelFormat::RGB24 => 3,
                jpeg_decoder::PixelFormat::CMYK32 => 4,
            };
            Ok((
                u32::from(info.width),
                u32::from(info.height),
                bytes_per_pixel,
            ))
        } else {
            let decoder = image::ImageReader::with_format(Cursor::new(bytes), format)
                .into_decoder()
                .map_err(|e| unreadable(&e))?;
            let (width, height) = image::ImageDecoder::dimensions(&decoder);
            let bytes_per_pixel = image::ImageDecoder::color_type(&decoder).bytes_per_pixel();
            Ok((width, height, bytes_per_pixel))
        }
    };
    std::panic::catch_unwind(read).unwrap_or_else(|_| {
        Err(Error::input(
            "the header is corrupt (the decoder gave up); export the photo again",
        ))
    })
}

/// Whether a JPEG's image data cannot hold the frame its header declares. Every 8x8 block of
/// the first component costs at least one bit of entropy-coded data (a baseline block its DC
/// code and its end of block or last coefficient; a progressive one at least its DC code), so
/// data between the first scan and the end of the image (`scans`, see [`jpeg_scans`]) shorter
/// than one bit per luma block means the scan ends before the frame does: the header was
/// altered or the data cut, and a decoder would paint the rest black. A sound lower bound,
/// never a guess about quality.
fn jpeg_data_too_short(scans: std::ops::Range<usize>, width: u32, height: u32) -> bool {
    let data_bits = scans.len() as u64 * 8;
    let blocks = u64::from(width.div_ceil(8)) * u64::from(height.div_ceil(8));
    data_bits < blocks
}

/// Where a complete JPEG's scans are: from its first start-of-scan marker to its end-of-image
/// marker; `None` when there is no end-of-image marker after the first scan (the file is
/// truncated). Inside entropy-coded data a 0xFF byte is always stuffed (FF 00), so FF D9 there
/// can only be the real marker.
fn jpeg_scans(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA])?;
    let eoi = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9])?;
    (eoi > sos).then_some(sos..eoi)
}

fn is_heif(bytes: &[u8]) -> bool {
    bytes.len() > 12
        && &bytes[4..8] == b"ftyp"
        && matches!(
            &bytes[8..12],
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"heim" | b"heis" | b"avif"
        )
}

fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    head.iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace() || b >= 0x80)
}

impl Pipeline {
    /// Face detection for crop = "face", with the decodes it may need ([`face`]): the usual
    /// passes on the decode the outputs asked for; only if they find nothing, the small-face
    /// pass, on the photo decoded again at least [`face::SMALL_FACE_DECODE_SHORT`] on its short
    /// side if it was shrunk below that (small outputs only); and for a face narrower than
    /// [`face::SMALL_FACE_FRACTION`], whose head-and-shoulders crop is a small part of the
    /// photo, the photo decoded again as finely as that crop needs. An ordinary portrait takes
    /// the first step only. Every decode is turned by `turns` quarter turns, as the first one
    /// was. Returns the decode to crop from and the memory it holds.
    fn find_face<'p>(
        &'p self,
        bytes: &[u8],
        info: SourceInfo,
        profiles: &[Profile],
        decoded: Decoded,
        memory: budget::Reservation<'p>,
        turns: u8,
    ) -> Result<(Detection, Decoded, budget::Reservation<'p>)> {
        let (width, height) = (decoded.source_width, decoded.source_height);
        let (mut decoded, mut memory) = (decoded, memory);
        let mut found = face::detect_usual(&decoded.image, width, height);
        if found == Detection::None {
            (decoded, memory) = self.decode_again(
                bytes,
                info,
                decoded,
                memory,
                face::SMALL_FACE_DECODE_SHORT,
                turns,
            )?;
            found = face::detect_small(&decoded.image, width, height);
        }
        if let Detection::Face(f) = found
            && f.width < f64::from(width.min(height)) * face::SMALL_FACE_FRACTION
        {
            let want = crop_decode_short(&f, &decoded, profiles);
            (decoded, memory) = self.decode_again(bytes, info, decoded, memory, want, turns)?;
        }
        Ok((found, decoded, memory))
    }

    /// `decoded` again with a short side of at least `want` pixels, if the source has more
    /// pixels than `decoded` and that decode fits one photo's share of memory (else as large as
    /// fits); otherwise `decoded` itself. The first decode and its memory are given back before
    /// the larger decode's is reserved: a photo never waits for memory while it holds some, so
    /// photos cannot wait for each other, and the budget holds throughout.
    fn decode_again<'p>(
        &'p self,
        bytes: &[u8],
        info: SourceInfo,
        decoded: Decoded,
        memory: budget::Reservation<'p>,
        want: u32,
        turns: u8,
    ) -> Result<(Decoded, budget::Reservation<'p>)> {
        let current = decoded.image.width().min(decoded.image.height());
        let mut want = want.min(decoded.source_width.min(decoded.source_height));
        while want > current && decode_memory(&info, want, bytes.len()) > self.budget.per_photo() {
            want /= 2;
        }
        if want <= current {
            return Ok((decoded, memory));
        }
        decode::recycle(decoded);
        drop(memory);
        let memory = self
            .budget
            .reserve(decode_memory(&info, want, bytes.len()))?;
        Ok((
            decode::turn(decode_scaled(bytes, info, want)?, turns),
            memory,
        ))
    }
}

/// The decoded short side at which no profile's crop around the small face `face` is enlarged
/// from the decode: 0 when `decoded` already enlarges none by more than
/// [`SMALL_SOURCE_UPSCALE`] (the crops are planned as in [`Pipeline::process_bytes`]).
fn crop_decode_short(face: &FaceBox, decoded: &Decoded, profiles: &[Profile]) -> u32 {
    let (width, height) = (decoded.source_width, decoded.source_height);
    let (sx, _) = decoded.scale();
    let mut scale = 0.0f64;
    for profile in profiles {
        let out = f64::from(profile.width);
        let aspect = out / f64::from(profile.height);
        let min_side = f64::from(profile.width.min(profile.height));
        let rect = face::face_crop(face, width, height, aspect, min_side);
        if rect.width * sx * SMALL_SOURCE_UPSCALE < out {
            scale = scale.max(out / rect.width);
        }
    }
    (scale * f64::from(width.min(height))).ceil() as u32
}

/// The largest rectangle of the profile's shape that fits the source, placed by `mode`.
pub fn crop_rect(width: u32, height: u32, profile: &Profile, mode: CropMode) -> Rect {
    let (sw, sh) = (f64::from(width), f64::from(height));
    let aspect = f64::from(profile.width) / f64::from(profile.height);
    let (cw, ch) = if sw / sh > aspect {
        (sh * aspect, sh)
    } else {
        (sw, sw / aspect)
    };
    let x = (sw - cw) / 2.0;
    let spare = sh - ch;
    let y = match mode {
        // A school portrait has its face in the upper half: keep the head, lose the waist.
        CropMode::Top | CropMode::Face => spare * 0.2,
        CropMode::Center => spare / 2.0,
    };
    Rect {
        x,
        y,
        width: cw,
        height: ch,
    }
}

/// High-quality (Lanczos3) resize of `rect` of the source to `width`x`height`.
pub fn resize(source: &RgbImage, rect: Rect, width: u32, height: u32) -> Result<RgbImage> {
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, images};
    let (sw, sh) = source.dimensions();
    let src = images::ImageRef::new(sw, sh, source.as_raw(), PixelType::U8x3)
        .map_err(|e| Error::internal(format!("resize source: {e}")))?;
    let mut dst = images::Image::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(rect.x, rect.y, rect.width, rect.height);
    RESIZER
        .with_borrow_mut(|resizer| resizer.resize(&src, &mut dst, &options))
        .map_err(|e| Error::internal(format!("resize: {e}")))?;
    RgbImage::from_raw(width, height, dst.into_vec())
        .ok_or_else(|| Error::internal("resize produced a buffer of the wrong size"))
}

/// Encodes baseline JPEG at `quality`, with no EXIF, XMP or ICC segment.
#[cfg(feature = "turbojpeg")]
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    turbo::encode(image, quality)
}

/// Encodes baseline JPEG at `quality`, with no EXIF, XMP or ICC segment.
#[cfg(not(feature = "turbojpeg"))]
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let (w, h) = image.dimensions();
    let (w16, h16) = (
        u16::try_from(w).map_err(|_| Error::rejected("output too wide for JPEG"))?,
        u16::try_from(h).map_err(|_| Error::rejected("output too tall for JPEG"))?,
    );
    let mut out = Vec::with_capacity((w * h / 4) as usize);
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder
        .encode(image.as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| Error::internal(format!("JPEG encode: {e}")))?;
    Ok(out)
}

/// Encodes at the profile's quality, lowering it (binary search) until the byte budget is met.
pub fn encode_within_budget(image: &RgbImage, profile: &Profile) -> Result<Vec<u8>> {
    match profile.format {
        Format::Jpeg => {}
    }
    let first = encode_jpeg(image, profile.quality)?;
    let Some(max) = profile.max_bytes else {
        return Ok(first);
    };
    if first.len() <= max {
        return Ok(first);
    }
    let (mut lo, mut hi) = (1u8, profile.quality.saturating_sub(1));
    let mut best = None;
    while lo <= hi {
        let q = lo + (hi - lo) / 2;
        let bytes = encode_jpeg(image, q)?;
        if bytes.len() <= max {
            best = Some(bytes);
            lo = q + 1;
        } else if q == 1 {
            break;
        } else {
            hi = q - 1;
        }
    }
    best.ok_or_else(|| {
        Error::rejected(format!(
            "cannot encode {}x{} within {max} bytes even at the lowest quality",
            profile.width, profile.height
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use image::DynamicImage;

    fn top() -> Pipeline {
        Pipeline {
            crop: CropMode::Top,
            ..Pipeline::default()
        }
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        encode_jpeg(&img, 90).unwrap()
    }

    #[test]
    fn portrait_source_crops_square_towards_the_top() {
        let r = crop_rect(640, 800, &Profile::square(100), CropMode::Top);
        assert_eq!((r.x, r.width, r.height), (0.0, 640.0, 640.0));
        assert!((r.y - 32.0).abs() < 1e-9);
        let r = crop_rect(800, 600, &Profile::square(100), CropMode::Top);
        assert_eq!((r.x, r.y, r.width), (100.0, 0.0, 600.0));
        let r = crop_rect(1000, 1000, &Profile::jpeg(240, 300), CropMode::Center);
        assert_eq!((r.x, r.y, r.width, r.height), (100.0, 0.0, 800.0, 1000.0));
    }

    #[test]
    fn process_renders_every_profile_once() {
        let p = top();
        let out = p
            .process_bytes(
                &jpeg(400, 500),
                &[
                    Profile::square(96),
                    Profile::jpeg(240, 300),
                    Profile::square(96),
                ],
            )
            .unwrap();
        assert_eq!(out.photos.len(), 2);
        let sq = &out.photos[&Profile::square(96)];
        let img = image::load_from_memory(&sq.bytes).unwrap();
        assert_eq!((img.width(), img.height()), (96, 96));
        assert!(out.flags.is_empty());
    }

    #[test]
    fn byte_budget_is_met() {
        let img = RgbImage::from_fn(300, 300, |x, y| {
            image::Rgb([
                ((x * 7 + y * 13) % 256) as u8,
                ((x ^ y) % 256) as u8,
                (y % 256) as u8,
            ])
        });
        let profile = Profile::square(300).with_quality(95).with_max_bytes(12_000);
        let bytes = encode_within_budget(&img, &profile).unwrap();
        assert!(bytes.len() <= 12_000, "{}", bytes.len());
        let profile = Profile::square(300).with_max_bytes(200);
        assert_eq!(
            encode_within_budget(&img, &profile).unwrap_err().kind(),
            crate::ErrorKind::Rejected
        );
    }

    #[test]
    fn broken_inputs_are_input_errors_not_panics() {
        let full = jpeg(64, 64);
        for (bytes, needle) in [
            (Vec::new(), "empty"),
            (b"<html><body>Not found</body></html>".to_vec(), "HTML"),
            (full[..full.len() / 2].to_vec(), "truncated"),
            (b"\0\0\0\x18ftypheic\0\0\0\0".to_vec(), "HEIC"),
        ] {
            let e = Pipeline::default()
                .process_bytes(&bytes, &[Profile::square(32)])
                .unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Input);
            assert!(e.message().contains(needle), "{e}");
        }
    }

    #[test]
    fn pixel_limit_is_checked_before_decoding() {
        let p = Pipeline {
            max_pixels: 1000,
            ..Pipeline::default()
        };
        let e = p
            .process_bytes(&jpeg(64, 64), &[Profile::square(32)])
            .unwrap_err();
        assert!(e.message().contains("pixel limit"), "{e}");
    }

    #[test]
    fn a_photo_needing_more_memory_than_its_share_is_refused_before_decoding() {
        let rgba = image::RgbaImage::from_pixel(2000, 2000, image::Rgba([10, 20, 30, 255]));
        let mut png = Vec::new();
        rgba.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let tight = Pipeline {
            budget: Arc::new(MemoryBudget::new(10 << 20, 10 << 20)),
            ..Pipeline::default()
        };
        let e = tight
            .process_bytes(&png, &[Profile::square(32)])
            .unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Input, "{e}");
        assert!(e.message().contains("max_memory_mb"), "{e}");
        assert_eq!(tight.budget.in_use(), 0);
        // The default share takes it; every reservation is given back.
        let p = Pipeline::default();
        p.process_bytes(&png, &[Profile::square(32)]).unwrap();
        assert_eq!(p.budget.in_use(), 0);
    }

    #[test]
    fn an_oversized_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        // Sparse: 300 MB long, no disk used, and a valid JPEG start that reading would reach.
        let path = dir.path().join("huge.jpg");
        let file = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut &file, &jpeg(16, 16)).unwrap();
        file.set_len(300_000_000).unwrap();
        let e = Pipeline::default()
            .process(&path, &[Profile::square(32)])
            .unwrap_err();
        assert!(e.message().contains("300 MB, more than the 200 MB"), "{e}");

        // A video named .jpg is refused from its first bytes.
        let path = dir.path().join("clip.jpg");
        let mut mp4 = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
        mp4.resize(1 << 20, 0);
        std::fs::write(&path, &mp4).unwrap();
        let e = Pipeline::default()
            .process(&path, &[Profile::square(32)])
            .unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Input, "{e}");
    }

    #[test]
    fn alpha_is_flattened_onto_white() {
        let img = image::RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 0, 0]));
        let out = flatten_on_white(&DynamicImage::ImageRgba8(img));
        assert_eq!(out.get_pixel(0, 0).0, [255, 255, 255]);
    }

    #[test]
    fn small_sources_are_flagged() {
        let out = top()
            .process_bytes(&jpeg(50, 60), &[Profile::square(96)])
            .unwrap();
        assert_eq!(out.flags, ["source 50x60 is smaller than the 96x96 output"]);
        assert_eq!(out.review[0].code(), "small_source");
    }

    /// A standard photographer's delivery (640x800) for Entra's 648x648 is enlarged 1.25%:
    /// invisible, not flagged. Past 15% it is flagged (docs/photos.md).
    #[test]
    fn only_an_enlargement_that_shows_is_flagged() {
        let flags = |w, h, profile| top().process_bytes(&jpeg(w, h), &[profile]).unwrap().flags;
        assert_eq!(flags(640, 800, Profile::square(648)), Vec::<String>::new());
        assert_eq!(
            flags(564, 705, Profile::square(648)),
            Vec::<String>::new(),
            "1.149x"
        );
        assert_eq!(
            flags(560, 700, Profile::square(648)),
            ["source 560x700 is smaller than the 648x648 output"],
            "1.157x"
        );
        // A non-square output: what counts is the side that needs the most enlargement.
        assert_eq!(
            flags(400, 240, Profile::jpeg(240, 300)).len(),
            1,
            "300 from 240 is 1.25x"
        );
        assert!(flags(640, 800, Profile::jpeg(240, 300)).is_empty());
    }
}
