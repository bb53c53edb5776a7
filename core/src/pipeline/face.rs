//! Face-aware cropping: finds the face in a portrait and frames every output around it.
//!
//! Why: photographers frame loosely and inconsistently (a child on a chair, a teacher close up),
//! so a fixed "top third" crop cuts chins on some photos and shows knees on others. The
//! detector is SeetaFace (the pure-Rust `rustface` port) with its frontal model (BSD-2-Clause,
//! committed in `core/models/` with its licence) embedded in the binary: no network, no files
//! to install, deterministic.
//!
//! The detector's window is 40 pixels and it only looks for faces at least that large, so the
//! size of the greyscale copy it runs on decides the smallest face it can find (rustface has a
//! `min_face_size` setting, but it does not act on it). The search runs in two passes:
//! - a greyscale copy with a short side of [`DETECT_SHORT`] pixels, which finds faces from about
//!   a seventh of the photo's short side: every head-and-shoulders portrait, in about 8 ms;
//! - only when that finds nothing, a copy of [`DETECT_SHORT_FINE`] pixels, which finds faces
//!   half that size (a wide shot, a child far from the camera), for about four times the cost.
//!
//! When the detector is not sure (no face, several faces, a face too small to be the subject),
//! the caller falls back to the top-anchored crop and flags the photo for review.

use std::cell::RefCell;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::Rect;

/// The SeetaFace frontal face model (BSD-2-Clause, see `core/models/SEETAFACE-LICENSE`).
static MODEL: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

/// Short side of the greyscale copy of the first pass (faces from 40/200 of the short side).
pub const DETECT_SHORT: u32 = 200;
/// Short side of the copy of the second pass, run only when the first finds no face (faces from
/// 40/400 of the short side).
pub const DETECT_SHORT_FINE: u32 = 400;
/// A face narrower than this fraction of the photo's short side is not taken as the subject.
pub const MIN_FACE_FRACTION: f64 = 0.12;
/// A second face at least this fraction of the largest one's width means a group photo.
pub const SECOND_FACE_FRACTION: f64 = 0.5;
/// Framing: the face box is this fraction of the crop's short side...
pub const FACE_WIDTH_IN_CROP: f64 = 0.42;
/// ...and its top edge sits this fraction of the crop's short side below the crop's top
/// (room for hair and a little headroom).
pub const FACE_TOP_IN_CROP: f64 = 0.22;
/// The crop's short side never goes below this fraction of the photo's short side: keeps the
/// head-and-shoulders look on close-ups and stays within the shrink-on-load headroom.
pub const MIN_CROP_FRACTION: f64 = 0.66;

/// A face found in a photo, in upright source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Detector confidence (SeetaFace score; about 2 is a weak face, 10+ a clear one).
    pub score: f64,
}

/// What the detector concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Detection {
    /// One clear face.
    Face(FaceBox),
    /// No face at all.
    None,
    /// More than one face of similar size: the largest is given for the preview.
    Several { count: usize, largest: FaceBox },
    /// Only a face too small to be the subject of the portrait.
    TooSmall(FaceBox),
}

thread_local! {
    // The detector keeps scratch buffers and is not Send: one per worker thread, built once.
    static DETECTOR: RefCell<Option<Box<dyn rustface::Detector>>> = const { RefCell::new(None) };
}

fn with_detector<T>(f: impl FnOnce(&mut dyn rustface::Detector) -> T) -> Option<T> {
    DETECTOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let model = rustface::read_model(std::io::Cursor::new(MODEL)).ok()?;
            let mut d = rustface::create_detector_with_model(model);
            d.set_score_thresh(2.0);
            // Coarser than SeetaFace's defaults (0.8 and 4): half the time, and every fixture
            // face is still found at the right place (core/tests/pipeline.rs; a step of 8
            // misses the small face of `a_small_face_is_found_by_the_second_pass`).
            d.set_pyramid_scale_factor(0.75);
            d.set_slide_window_step(6, 6);
            *slot = Some(d);
        }
        slot.as_mut().map(|d| f(d.as_mut()))
    })
}

/// Finds the subject's face in upright pixels `image`, which show a source of
/// `source_width`x`source_height` upright pixels (boxes are returned in source pixels).
pub fn detect(image: &RgbImage, source_width: u32, source_height: u32) -> Detection {
    let own_short = image.width().min(image.height());
    let boxes = match faces_at(image, DETECT_SHORT, source_width, source_height) {
        // The second pass only helps when it can look at more pixels than the first did.
        boxes if boxes.is_empty() && own_short > DETECT_SHORT => {
            faces_at(image, DETECT_SHORT_FINE, source_width, source_height)
        }
        boxes => boxes,
    };
    classify(&boxes, source_width.min(source_height))
}

/// The faces the detector finds on a greyscale copy of `image` with a short side of `short`
/// pixels (or the image's own, if smaller), largest first, in source pixels.
fn faces_at(image: &RgbImage, short: u32, source_width: u32, source_height: u32) -> Vec<FaceBox> {
    let (w, h) = image.dimensions();
    let own = w.min(h);
    if own < 40 {
        return Vec::new();
    }
    let factor = f64::from(short.min(own)) / f64::from(own);
    let gw = ((f64::from(w) * factor).round() as u32).max(1);
    let gh = ((f64::from(h) * factor).round() as u32).max(1);
    let grey = grey_copy(image, gw, gh);
    if grey.is_empty() {
        return Vec::new();
    }
    let faces =
        with_detector(|d| d.detect(&rustface::ImageData::new(&grey, gw, gh))).unwrap_or_default();
    let to_source = f64::from(source_width) / f64::from(gw);
    let to_source_y = f64::from(source_height) / f64::from(gh);
    let mut boxes: Vec<FaceBox> = faces
        .iter()
        .map(|f| {
            let b = f.bbox();
            FaceBox {
                x: f64::from(b.x()) * to_source,
                y: f64::from(b.y()) * to_source_y,
                width: f64::from(b.width()) * to_source,
                height: f64::from(b.height()) * to_source_y,
                score: f.score(),
            }
        })
        .collect();
    // Largest first; ties broken by position so the result never depends on detector order.
    boxes.sort_by(|a, b| {
        b.width
            .total_cmp(&a.width)
            .then(a.y.total_cmp(&b.y))
            .then(a.x.total_cmp(&b.x))
    });
    boxes
}

fn classify(boxes: &[FaceBox], source_short: u32) -> Detection {
    let Some(&largest) = boxes.first() else {
        return Detection::None;
    };
    let count = boxes
        .iter()
        .filter(|b| b.width >= largest.width * SECOND_FACE_FRACTION)
        .count();
    if count > 1 {
        Detection::Several { count, largest }
    } else if largest.width < f64::from(source_short) * MIN_FACE_FRACTION {
        Detection::TooSmall(largest)
    } else {
        Detection::Face(largest)
    }
}

/// Luma (BT.601) of a `gw`x`gh` copy of `image`, each pixel the mean of the source pixels it
/// covers (a box filter is all the detector needs). One pass over the source, adding whole rows
/// into a row of column sums (which vectorises), with no intermediate image: this runs on every
/// photo.
fn grey_copy(image: &RgbImage, gw: u32, gh: u32) -> Vec<u8> {
    let (w, h) = image.dimensions();
    let (w, h, gw, gh) = (w as usize, h as usize, gw as usize, gh as usize);
    if w == 0 || h == 0 || gw == 0 || gh == 0 || gw > w || gh > h {
        return Vec::new();
    }
    // Output pixel i covers source pixels [bins[i], bins[i + 1]): every bin is non-empty as
    // the copy is no larger than the source.
    let bins = |from: usize, to: usize| -> Vec<usize> { (0..=to).map(|i| i * from / to).collect() };
    let (cols, rows) = (bins(w, gw), bins(h, gh));
    let raw = image.as_raw();
    let stride = w * 3;
    let mut column_sums = vec![0u32; stride];
    let mut grey = Vec::with_capacity(gw * gh);
    for band in rows.windows(2) {
        column_sums.fill(0);
        for row in raw[band[0] * stride..band[1] * stride].chunks_exact(stride) {
            for (sum, &v) in column_sums.iter_mut().zip(row) {
                *sum += u32::from(v);
            }
        }
        let band_height = (band[1] - band[0]) as u64;
        for span in cols.windows(2) {
            let [mut r, mut g, mut b] = [0u64; 3];
            for p in column_sums[span[0] * 3..span[1] * 3].chunks_exact(3) {
                r += u64::from(p[0]);
                g += u64::from(p[1]);
                b += u64::from(p[2]);
            }
            let area = band_height * (span[1] - span[0]) as u64 * 1000;
            grey.push(((299 * r + 587 * g + 114 * b + area / 2) / area) as u8);
        }
    }
    grey
}

/// Places a crop of the profile's shape (`aspect` = width / height) so that the face sits at
/// the standard head-and-shoulders position, inside a `width`x`height` source. `min_side` is the
/// smallest crop short side wanted (usually the output size, to avoid upscaling).
pub fn face_crop(face: &FaceBox, width: u32, height: u32, aspect: f64, min_side: f64) -> Rect {
    let (sw, sh) = (f64::from(width), f64::from(height));
    let floor = (sw.min(sh) * MIN_CROP_FRACTION).max(min_side);
    let side = (face.width / FACE_WIDTH_IN_CROP).max(floor);
    let (mut cw, mut ch) = if aspect >= 1.0 {
        (side * aspect, side)
    } else {
        (side, side / aspect)
    };
    // Shrink (keeping the shape) until it fits the photo.
    let fit = (sw / cw).min(sh / ch).min(1.0);
    cw *= fit;
    ch *= fit;
    let short = cw.min(ch);
    let cx = face.x + face.width / 2.0;
    // min/max rather than clamp: after the fit, sw - cw may be a rounding error below zero.
    let x = (cx - cw / 2.0).min(sw - cw).max(0.0);
    let y = (face.y - short * FACE_TOP_IN_CROP).min(sh - ch).max(0.0);
    Rect {
        x,
        y,
        width: cw,
        height: ch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f64, y: f64, w: f64) -> FaceBox {
        FaceBox {
            x,
            y,
            width: w,
            height: w,
            score: 10.0,
        }
    }

    #[test]
    fn face_sits_at_the_standard_position_in_square_and_portrait_crops() {
        // A face large enough that the crop is not held at its minimum size.
        let f = face(3500.0, 2500.0, 3000.0);
        for aspect in [1.0, 0.75, 0.8] {
            let r = face_crop(&f, 10000, 12000, aspect, 640.0);
            assert!((r.width / r.height - aspect).abs() < 1e-9);
            let short = r.width.min(r.height);
            assert!((f.width / short - FACE_WIDTH_IN_CROP).abs() < 1e-9, "{r:?}");
            assert!((f.y - r.y - short * FACE_TOP_IN_CROP).abs() < 1e-9, "{r:?}");
            assert!((f.x + f.width / 2.0 - (r.x + r.width / 2.0)).abs() < 1e-9);
        }
    }

    #[test]
    fn crop_stays_inside_the_photo_when_the_face_is_near_an_edge() {
        let f = face(10.0, 5.0, 200.0);
        let r = face_crop(&f, 640, 800, 1.0, 96.0);
        assert!(r.x >= 0.0 && r.y >= 0.0);
        assert!(r.x + r.width <= 640.0 + 1e-9 && r.y + r.height <= 800.0 + 1e-9);
        // Close-up: the crop would be wider than the photo, so it is shrunk to fit.
        let r = face_crop(&face(100.0, 100.0, 500.0), 640, 800, 0.75, 96.0);
        assert!(r.width <= 640.0 + 1e-9 && r.height <= 800.0 + 1e-9, "{r:?}");
    }

    #[test]
    fn grey_copy_averages_the_pixels_each_output_pixel_covers() {
        // Flat colour: BT.601 luma of (200, 100, 50) is 124.2.
        let flat = RgbImage::from_pixel(7, 5, image::Rgb([200, 100, 50]));
        assert_eq!(grey_copy(&flat, 3, 2), vec![124; 6]);
        // A 4x2 image, left half black, right half white, to 2x1: one of each.
        let halves = RgbImage::from_fn(4, 2, |x, _| image::Rgb([if x < 2 { 0 } else { 255 }; 3]));
        assert_eq!(grey_copy(&halves, 2, 1), vec![0, 255]);
        // 3 columns to 2: bins [0, 1) and [1, 3); a white middle column lands in the second.
        let stripe = RgbImage::from_fn(3, 1, |x, _| image::Rgb([if x == 1 { 255 } else { 0 }; 3]));
        assert_eq!(grey_copy(&stripe, 2, 1), vec![0, 128]);
        // Same size: plain luma; nothing asked for or nothing to read: nothing.
        assert_eq!(grey_copy(&flat, 7, 5).len(), 35);
        assert!(grey_copy(&flat, 0, 5).is_empty());
        assert!(grey_copy(&flat, 8, 5).is_empty());
    }

    #[test]
    fn several_similar_faces_or_a_tiny_face_are_not_trusted() {
        let big = face(0.0, 0.0, 300.0);
        assert_eq!(
            classify(&[big, face(500.0, 0.0, 200.0)], 1000),
            Detection::Several {
                count: 2,
                largest: big
            }
        );
        // A small background false positive next to a clear face is ignored.
        assert_eq!(
            classify(&[big, face(500.0, 0.0, 60.0)], 1000),
            Detection::Face(big)
        );
        let tiny = face(0.0, 0.0, 100.0);
        assert_eq!(classify(&[tiny], 1000), Detection::TooSmall(tiny));
        assert_eq!(classify(&[], 1000), Detection::None);
    }
}
