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
//! `min_face_size` setting, but it does not act on it). The search runs in up to three passes,
//! each only when the ones before it found nothing, so an ordinary portrait pays for the first
//! alone:
//! - a greyscale copy with a short side of [`DETECT_SHORT`] pixels, which finds faces from about
//!   a seventh of the photo's short side: every head-and-shoulders portrait, in about 5-6 ms;
//! - a copy of [`DETECT_SHORT_FINE`] pixels, which finds faces half that size (a wide shot), for
//!   about four times the cost;
//! - a copy of [`DETECT_SHORT_SMALL`] pixels, which finds faces from 4% of the short side (a
//!   child far from the camera, a face off to the side of a landscape shot), for about ten
//!   times the first pass's cost. That copy is enlarged from the decoded photo when the decode
//!   is smaller (the detector still finds such faces on a copy enlarged two to three times);
//!   the caller decodes a photo shrunk below [`SMALL_FACE_DECODE_SHORT`] again first.
//!
//! Several faces of similar size make a group photo, which is flagged; the face reported as its
//! subject is the largest near the upper centre ([`SUBJECT_AT`]): in a portrait with a parent or a
//! sibling in the frame, the pupil is where the photographer put them. A face narrower than
//! [`MIN_FACE_FRACTION`] of the short side is a speck (a face on a poster, a passer-by far
//! behind), not a subject.
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
/// Short side of the copy of the third pass, run only when the first two find no face (faces
/// from 40/1000 of the short side: a face 5% of the short side is 50 pixels there). On 240
/// photos generated like those of `core/tests/faces.rs` (each fixture face at 5, 7 and 10%,
/// five places, both frame shapes), a copy of 800 pixels missed 6 of the 80 faces of 5%; one
/// of 1000 missed none, and 1200 found no more for a third more time.
pub const DETECT_SHORT_SMALL: u32 = 1000;
/// The third pass enlarges the decoded photo at most this many times for its copy: below a
/// short side of 250 pixels a 5% face is a dozen pixels, too few to be told from a pattern.
pub const SMALL_FACE_MAX_ENLARGE: u32 = 4;
/// The third pass's copy holds at most this many pixels (1000x2000: every shape up to 2:1 gets
/// the full [`DETECT_SHORT_SMALL`]; a panorama a smaller copy), which bounds the detector's
/// memory for it (its feature maps take about 12 bytes a pixel) whatever the photo's shape.
pub const SMALL_FACE_MAX_PIXELS: u64 = 2_000_000;
/// The decoded short side the third pass wants: a photo shrunk on load below it (small outputs
/// only) is decoded again at least this large when its source has the pixels (a 5% face is then
/// 25 pixels, enlarged twice for the copy).
pub const SMALL_FACE_DECODE_SHORT: u32 = 500;
/// A face narrower than this fraction of the photo's short side is not taken as the subject:
/// the third pass finds faces from 4%, so a 5% face is a subject and a 4% one a speck. (The
/// boxes found for the 80 faces of 5% above were 4.6-5.7% wide, with outputs of 640 or 96.)
pub const MIN_FACE_FRACTION: f64 = 0.045;
/// Faces narrower than this fraction of the short side (before the third pass, all flagged as
/// too small) are framed head-and-shoulders without the [`MIN_CROP_FRACTION`] floor: that floor
/// would make such a face a dot in a full-length shot. The caller decodes the photo finer for
/// them so the tighter crop is not enlarged from the shrunk decode.
pub const SMALL_FACE_FRACTION: f64 = 0.12;
/// A second face at least this fraction of the largest one's width means a group photo.
pub const SECOND_FACE_FRACTION: f64 = 0.5;
/// Framing: the face box is this fraction of the crop's short side...
pub const FACE_WIDTH_IN_CROP: f64 = 0.42;
/// ...and its top edge sits this fraction of the crop's short side below the crop's top
/// (room for hair and a little headroom).
pub const FACE_TOP_IN_CROP: f64 = 0.22;
/// The crop's short side never goes below this fraction of the photo's short side (for faces of
/// at least [`SMALL_FACE_FRACTION`]): keeps the head-and-shoulders look on close-ups and stays
/// within the shrink-on-load headroom.
pub const MIN_CROP_FRACTION: f64 = 0.66;
/// Where the subject's face is expected, as fractions of the photo's width and height: centred,
/// a third of the way down (where a school portrait has it).
pub const SUBJECT_AT: (f64, f64) = (0.5, 1.0 / 3.0);
/// How much a face's distance from [`SUBJECT_AT`] lowers its claim to be the subject: at the
/// farthest corner of the photo a face counts as half its width.
pub const SUBJECT_DISTANCE_WEIGHT: f64 = 0.5;

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
    /// More than one face of similar size: the subject among them (the largest near the upper
    /// centre, see [`SUBJECT_AT`]) is given for the preview.
    Several { count: usize, subject: FaceBox },
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
/// `source_width`x`source_height` upright pixels (boxes are returned in source pixels): the
/// usual passes, then the small-face pass if they find nothing.
pub fn detect(image: &RgbImage, source_width: u32, source_height: u32) -> Detection {
    match detect_usual(image, source_width, source_height) {
        Detection::None => detect_small(image, source_width, source_height),
        found => found,
    }
}

/// The first two passes: the faces of ordinary portraits and wide shots.
pub fn detect_usual(image: &RgbImage, source_width: u32, source_height: u32) -> Detection {
    let own_short = image.width().min(image.height());
    let mut boxes = faces_at(
        image,
        DETECT_SHORT.min(own_short),
        source_width,
        source_height,
    );
    // The second pass only helps when it can look at more pixels than the first did.
    if boxes.is_empty() && own_short > DETECT_SHORT {
        boxes = faces_at(
            image,
            DETECT_SHORT_FINE.min(own_short),
            source_width,
            source_height,
        );
    }
    classify(&boxes, source_width, source_height)
}

/// The third pass, for faces down to 4% of the short side, on a copy of [`DETECT_SHORT_SMALL`]
/// pixels on the short side (enlarged from `image` if need be; not run on an image that would
/// need more than [`SMALL_FACE_MAX_ENLARGE`] times; smaller for a photo longer than 2:1, see
/// [`SMALL_FACE_MAX_PIXELS`]). Costs about ten times the first pass: run it only when
/// [`detect_usual`] finds nothing.
pub fn detect_small(image: &RgbImage, source_width: u32, source_height: u32) -> Detection {
    let own_short = image.width().min(image.height());
    if own_short.saturating_mul(SMALL_FACE_MAX_ENLARGE) < DETECT_SHORT_SMALL {
        return Detection::None;
    }
    // At most SMALL_FACE_MAX_PIXELS: short * short * (long / short) <= the limit.
    let long = image.width().max(image.height());
    let fits = (SMALL_FACE_MAX_PIXELS as f64 * f64::from(own_short) / f64::from(long)).sqrt();
    let short = DETECT_SHORT_SMALL.min(fits as u32);
    // A panorama so long that the copy would be no finer than the second pass's.
    if short <= DETECT_SHORT_FINE.min(own_short) {
        return Detection::None;
    }
    let boxes = faces_at(image, short, source_width, source_height);
    // The detector's feature maps keep the size of the largest copy it has looked at (about
    // 17 MB for this one's) and a worker keeps its detector between photos: dropped here, so a
    // worker stays at its usual size. The next photo builds it again (1-2 ms).
    DETECTOR.with(|cell| cell.borrow_mut().take());
    classify(&boxes, source_width, source_height)
}

/// The faces the detector finds on a greyscale copy of `image` with a short side of `short`
/// pixels (smaller or larger than the image's own), largest first, in source pixels.
fn faces_at(image: &RgbImage, short: u32, source_width: u32, source_height: u32) -> Vec<FaceBox> {
    let (w, h) = image.dimensions();
    let own = w.min(h);
    if own < 40 || short < 40 {
        return Vec::new();
    }
    let factor = f64::from(short) / f64::from(own);
    let gw = ((f64::from(w) * factor).round() as u32).max(1);
    let gh = ((f64::from(h) * factor).round() as u32).max(1);
    let grey = if short > own {
        enlarged_grey(image, gw, gh)
    } else {
        grey_copy(image, gw, gh)
    };
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

fn classify(boxes: &[FaceBox], source_width: u32, source_height: u32) -> Detection {
    let Some(&largest) = boxes.first() else {
        return Detection::None;
    };
    let similar: Vec<FaceBox> = boxes
        .iter()
        .copied()
        .filter(|b| b.width >= largest.width * SECOND_FACE_FRACTION)
        .collect();
    if similar.len() > 1 {
        Detection::Several {
            count: similar.len(),
            subject: subject(&similar, source_width, source_height).unwrap_or(largest),
        }
    } else if largest.width < f64::from(source_width.min(source_height)) * MIN_FACE_FRACTION {
        Detection::TooSmall(largest)
    } else {
        Detection::Face(largest)
    }
}

/// Which of several faces is the subject: the one with the largest width, each width counted
/// less the farther the face is from where a portrait's subject is ([`SUBJECT_AT`]), down to
/// half at the farthest corner. Of two faces of similar size, the one near the upper centre
/// wins; a face twice as large wins from anywhere. Ties go to the first face (`faces` is sorted
/// largest first), so the choice is deterministic; `None` only for no faces.
fn subject(faces: &[FaceBox], source_width: u32, source_height: u32) -> Option<FaceBox> {
    let (sw, sh) = (f64::from(source_width), f64::from(source_height));
    let (tx, ty) = (sw * SUBJECT_AT.0, sh * SUBJECT_AT.1);
    // The farthest a face centre can be from that point: one of the corners.
    let far = tx.max(sw - tx).hypot(ty.max(sh - ty)).max(1.0);
    let claim = |b: &FaceBox| {
        let (cx, cy) = (b.x + b.width / 2.0, b.y + b.height / 2.0);
        let distance = ((cx - tx).hypot(cy - ty) / far).min(1.0);
        b.width * (1.0 - SUBJECT_DISTANCE_WEIGHT * distance)
    };
    faces.iter().copied().reduce(|best, face| {
        if claim(&face) > claim(&best) {
            face
        } else {
            best
        }
    })
}

/// Luma of a `gw`x`gh` copy of `image`, larger than it (the third pass on a small decode): the
/// luma at the image's own size, enlarged with a bilinear filter (smooth enough for the
/// detector, which looks at gradients; a nearest-neighbour copy would give it block edges).
fn enlarged_grey(image: &RgbImage, gw: u32, gh: u32) -> Vec<u8> {
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images};
    let (w, h) = image.dimensions();
    let own = grey_copy(image, w, h);
    let Ok(src) = images::ImageRef::new(w, h, &own, PixelType::U8) else {
        return Vec::new();
    };
    let mut dst = images::Image::new(gw, gh, PixelType::U8);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    match Resizer::new().resize(&src, &mut dst, &options) {
        Ok(()) => dst.into_vec(),
        Err(_) => Vec::new(),
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
/// smallest crop short side wanted (usually the output size, to avoid upscaling). A face of at
/// least [`SMALL_FACE_FRACTION`] of the short side keeps the crop at [`MIN_CROP_FRACTION`] of
/// it or more; a smaller face is framed head-and-shoulders down to `min_side`.
pub fn face_crop(face: &FaceBox, width: u32, height: u32, aspect: f64, min_side: f64) -> Rect {
    let (sw, sh) = (f64::from(width), f64::from(height));
    let short_side = sw.min(sh);
    let floor = if face.width < short_side * SMALL_FACE_FRACTION {
        min_side
    } else {
        (short_side * MIN_CROP_FRACTION).max(min_side)
    };
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
            classify(&[big, face(500.0, 0.0, 200.0)], 1000, 1000),
            Detection::Several {
                count: 2,
                subject: big
            }
        );
        // A small background false positive next to a clear face is ignored.
        assert_eq!(
            classify(&[big, face(500.0, 0.0, 60.0)], 1000, 1000),
            Detection::Face(big)
        );
        // 5% of the short side is a subject, 4% a speck.
        let small = face(0.0, 0.0, 50.0);
        assert_eq!(classify(&[small], 1000, 1500), Detection::Face(small));
        let speck = face(0.0, 0.0, 40.0);
        assert_eq!(classify(&[speck], 1000, 1500), Detection::TooSmall(speck));
        assert_eq!(classify(&[], 1000, 1000), Detection::None);
    }

    #[test]
    fn of_similar_faces_the_subject_is_the_largest_near_the_upper_centre() {
        // A 1500x1000 landscape: the upper centre is (750, 333).
        let centre = face(700.0, 280.0, 100.0);
        let corner = face(1350.0, 850.0, 110.0);
        let beside = face(1000.0, 300.0, 100.0);
        // Slightly larger but in a lower corner: the one near the upper centre is the subject.
        assert_eq!(subject(&[corner, centre], 1500, 1000), Some(centre));
        // Same size: the nearer one, whatever the order.
        assert_eq!(subject(&[beside, centre], 1500, 1000), Some(centre));
        assert_eq!(subject(&[centre, beside], 1500, 1000), Some(centre));
        // Twice as large wins from anywhere.
        let big_corner = face(1300.0, 800.0, 200.0);
        assert_eq!(subject(&[big_corner, centre], 1500, 1000), Some(big_corner));
        assert_eq!(subject(&[], 1500, 1000), None);
        // Classified as several faces, with that subject.
        assert_eq!(
            classify(&[corner, centre], 1500, 1000),
            Detection::Several {
                count: 2,
                subject: centre
            }
        );
    }

    #[test]
    fn a_small_face_is_framed_head_and_shoulders_and_a_portrait_face_as_before() {
        // A face 5% of a 4000x6000 photo's short side: the standard framing, down to the
        // output size.
        let small = face(2900.0, 600.0, 200.0);
        let r = face_crop(&small, 4000, 6000, 1.0, 96.0);
        assert!(
            (small.width / r.width - FACE_WIDTH_IN_CROP).abs() < 1e-9,
            "{r:?}"
        );
        assert!(
            (small.y - r.y - r.width * FACE_TOP_IN_CROP).abs() < 1e-9,
            "{r:?}"
        );
        // An output larger than that crop: the crop is the output's size, the face centred.
        let r = face_crop(&small, 4000, 6000, 1.0, 640.0);
        assert!((r.width - 640.0).abs() < 1e-9, "{r:?}");
        assert!((small.x + small.width / 2.0 - (r.x + r.width / 2.0)).abs() < 1e-9);
        // In a corner: moved inside the photo, the face still inside the crop.
        let corner = face(3850.0, 5870.0, 120.0);
        let r = face_crop(&corner, 4000, 6000, 0.8, 96.0);
        assert!(r.x >= 0.0 && r.y >= 0.0, "{r:?}");
        assert!(r.x + r.width <= 4000.0 + 1e-9 && r.y + r.height <= 6000.0 + 1e-9);
        assert!(r.contains(&Rect::from(corner), 1e-9), "{r:?}");
        // A face of 12% or more keeps the floor of 66% of the short side, as before.
        let portrait = face(1500.0, 1000.0, 480.0);
        let r = face_crop(&portrait, 4000, 6000, 1.0, 640.0);
        assert!((r.width - 4000.0 * MIN_CROP_FRACTION).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn an_enlarged_grey_copy_keeps_the_picture_in_place() {
        // Left half dark, right half light, enlarged 4x: the halves stay where they were.
        let halves = RgbImage::from_fn(10, 6, |x, _| image::Rgb([if x < 5 { 20 } else { 230 }; 3]));
        let big = enlarged_grey(&halves, 40, 24);
        assert_eq!(big.len(), 40 * 24);
        for row in big.chunks_exact(40) {
            assert!(row[..18].iter().all(|&v| v == 20), "{row:?}");
            assert!(row[22..].iter().all(|&v| v == 230), "{row:?}");
        }
    }
}
