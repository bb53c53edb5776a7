//! Small and off-centre faces on generated photos: a real fixture portrait, shrunk so that its
//! face is 5%, 7% or 10% of the photo's short side, pasted into a larger plain or noisy
//! background, centred, at the left, at the right or near a corner, in portrait and landscape
//! frames. Why generated: the fixture portraits are all head-and-shoulders, and these are the
//! photos the first two detection passes miss (docs/photos.md, "Crop modes"); pasting a real
//! face keeps the detector honest, and the known paste position gives the true face box.

mod common;

use std::sync::Arc;

use common::{fixtures, truth};

use image::{Rgb, RgbImage};
use picday_core::Profile;
use picday_core::pipeline::{MemoryBudget, Pipeline, Processed, Rect, Review, encode_jpeg};

const PROFILES: [Profile; 5] = [
    Profile::square(640),
    Profile::square(96),
    Profile::jpeg(240, 300),
    Profile::jpeg(300, 400),
    Profile::jpeg(640, 480),
];

/// The head-and-shoulders portraits of the fixtures (real faces).
const PORTRAITS: [&str; 8] = [
    "0100200.jpg",
    "0100201.jpg",
    "0100202.jpg",
    "0100203.jpg",
    "0100204.jpg",
    "0100205.jpg",
    "0100206.jpg",
    "0100207.jpg",
];

/// Deterministic xorshift for the noisy backgrounds.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A `width`x`height` background: flat grey-blue, or coloured noise (seeded).
fn background(width: u32, height: u32, noisy: bool, seed: u64) -> RgbImage {
    if !noisy {
        return RgbImage::from_pixel(width, height, Rgb([128, 140, 150]));
    }
    let mut rng = Rng(seed | 1);
    RgbImage::from_fn(width, height, |_, _| {
        let v = (rng.next() % 120) as u8 + 60;
        Rgb([v, v + (rng.next() % 20) as u8, v / 2 + 40])
    })
}

/// Pastes fixture portrait `name` into `canvas`, shrunk so its face is `fraction` of the
/// canvas's short side, with the face's centre at (`fx`, `fy`) (fractions of the canvas).
/// Returns where the face is now.
fn paste(canvas: &mut RgbImage, name: &str, fraction: f64, fx: f64, fy: f64) -> Rect {
    let portrait = image::open(fixtures().join(name))
        .expect("fixture decodes")
        .into_rgb8();
    let t = truth()[name];
    let (w, h) = canvas.dimensions();
    let k = fraction * f64::from(w.min(h)) / t.width;
    let small = image::imageops::resize(
        &portrait,
        (f64::from(portrait.width()) * k).round() as u32,
        (f64::from(portrait.height()) * k).round() as u32,
        image::imageops::FilterType::Triangle,
    );
    let ox = (fx * f64::from(w) - (t.x + t.width / 2.0) * k).round();
    let oy = (fy * f64::from(h) - (t.y + t.height / 2.0) * k).round();
    image::imageops::replace(canvas, &small, ox as i64, oy as i64);
    Rect {
        x: ox + t.x * k,
        y: oy + t.y * k,
        width: t.width * k,
        height: t.height * k,
    }
}

fn process(canvas: &RgbImage, profiles: &[Profile]) -> Processed {
    let bytes = encode_jpeg(canvas, 90).expect("encode");
    Pipeline::default()
        .process_bytes(&bytes, profiles)
        .expect("processes")
}

fn centre_inside(found: &Rect, face: &Rect) -> bool {
    let centre = Rect {
        x: found.x + found.width / 2.0,
        y: found.y + found.height / 2.0,
        width: 0.0,
        height: 0.0,
    };
    face.contains(&centre, 0.0)
}

/// Asserts that `out` found the pasted `face` as the one subject and that every crop holds
/// it: a head-and-shoulders crop where the output size allows (the 96x96 one).
fn assert_found(out: &Processed, face: &Rect, case: &str) {
    assert!(
        !out.review.iter().any(|r| matches!(
            r,
            Review::NoFace | Review::FaceTooSmall | Review::SeveralFaces { .. }
        )),
        "{case}: {:?}",
        out.review
    );
    let found = Rect::from(out.face.unwrap_or_else(|| panic!("{case}: no face")));
    assert!(
        centre_inside(&found, face),
        "{case}: found {found:?}, pasted {face:?}"
    );
    let ratio = found.width / face.width;
    assert!((0.7..1.4).contains(&ratio), "{case}: size ratio {ratio}");
    for (profile, crop) in &out.crops {
        assert!(
            crop.contains(face, 1.0),
            "{case} {profile}: face {face:?} not inside crop {crop:?}"
        );
        let (w, h) = (f64::from(out.width), f64::from(out.height));
        assert!(
            crop.x >= -1e-6
                && crop.y >= -1e-6
                && crop.x + crop.width <= w + 1e-6
                && crop.y + crop.height <= h + 1e-6,
            "{case} {profile}: crop {crop:?} leaves the {w}x{h} photo"
        );
    }
    // Head and shoulders: the found face is 42% of the small square's width (the crop is not
    // held at 66% of the photo as around a larger face, which would make this face a dot).
    let square = out.crops[&Profile::square(96)];
    let share = found.width / square.width;
    assert!(
        (share - 0.42).abs() < 0.01,
        "{case}: face is {share:.3} of the crop"
    );
}

/// Every size and place in one orientation; each case takes the next fixture portrait and
/// alternates plain and noisy backgrounds, so all eight faces appear on both.
fn small_faces_are_found(width: u32, height: u32) {
    let places = [
        ("centre", 0.5, 0.4),
        ("left", 0.12, 0.45),
        ("right", 0.88, 0.4),
        ("corner", 0.92, 0.92),
    ];
    let mut case = 0;
    for fraction in [0.05, 0.07, 0.10] {
        for (place, fx, fy) in places {
            let name = PORTRAITS[(case + usize::from(width > height) * 4) % PORTRAITS.len()];
            let noisy = case % 2 == 1;
            let mut canvas = background(width, height, noisy, case as u64 + 7);
            let face = paste(&mut canvas, name, fraction, fx, fy);
            let out = process(&canvas, &PROFILES);
            let label =
                format!("{name} at {fraction} {place} of {width}x{height} (noisy: {noisy})");
            assert_found(&out, &face, &label);
            case += 1;
        }
    }
}

#[test]
fn faces_from_five_percent_of_the_short_side_are_found_anywhere_in_a_portrait_frame() {
    small_faces_are_found(2000, 3000);
}

#[test]
fn faces_from_five_percent_of_the_short_side_are_found_anywhere_in_a_landscape_frame() {
    small_faces_are_found(3000, 2000);
}

#[test]
fn a_small_face_is_found_when_the_outputs_are_small_and_the_photo_was_decoded_small() {
    // Only a 96x96 output: the 2000x3000 photo is decoded at 250x375, where a 5% face is 12
    // pixels; the small-face pass decodes it again, at 500x750, first.
    let mut canvas = background(2000, 3000, true, 3);
    let face = paste(&mut canvas, "0100203.jpg", 0.05, 0.8, 0.3);
    let out = process(&canvas, &[Profile::square(96)]);
    assert!(out.review.is_empty(), "{:?}", out.review);
    let found = Rect::from(out.face.expect("a face"));
    assert!(centre_inside(&found, &face), "{found:?} vs {face:?}");
    assert!(out.crops[&Profile::square(96)].contains(&face, 1.0));
}

#[test]
fn a_small_face_is_found_in_a_small_photo_on_an_enlarged_copy() {
    // 640x960: a 5% face is 32 pixels, under the detector's 40-pixel window; the small-face
    // pass looks at a copy enlarged to 1000 pixels on the short side.
    let mut canvas = background(640, 960, false, 0);
    let face = paste(&mut canvas, "0100206.jpg", 0.05, 0.3, 0.35);
    let out = process(&canvas, &[Profile::square(96)]);
    assert!(out.review.is_empty(), "{:?}", out.review);
    let found = Rect::from(out.face.expect("a face"));
    assert!(centre_inside(&found, &face), "{found:?} vs {face:?}");
}

/// Mean absolute difference of the green channel of two images of the same size.
fn difference(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| u64::from(p[1].abs_diff(q[1])))
        .sum();
    sum as f64 / f64::from(a.width() * a.height())
}

#[test]
fn a_small_face_s_crop_is_rendered_from_a_finer_decode() {
    // A 7% face in a 2000x3000 photo for a 640x640 output: the crop is 640 source pixels, 320
    // in the 1000x1500 decode the output size asks for. The photo is decoded again at full
    // size for that crop, so the output is the source's own pixels (the noisy background shows
    // it: enlarged from half size, its grain would be averaged away).
    let mut canvas = background(2000, 3000, true, 21);
    paste(&mut canvas, "0100201.jpg", 0.07, 0.5, 0.4);
    let bytes = encode_jpeg(&canvas, 95).expect("encode");
    let profile = Profile::square(640);
    let out = Pipeline::default()
        .process_bytes(&bytes, &[profile])
        .expect("processes");
    assert!(out.review.is_empty(), "{:?}", out.review);
    let crop = out.crops[&profile];
    assert!((crop.width - 640.0).abs() < 1e-6, "{crop:?}");
    let got = image::load_from_memory(&out.photos[&profile].bytes)
        .expect("decodes")
        .into_rgb8();
    // The same crop cut straight from the source pixels, and the same enlarged from half size.
    let (x, y) = (crop.x.round() as u32, crop.y.round() as u32);
    let full = image::imageops::crop_imm(&canvas, x, y, 640, 640).to_image();
    let half = image::imageops::resize(&full, 320, 320, image::imageops::FilterType::Triangle);
    let enlarged = image::imageops::resize(&half, 640, 640, image::imageops::FilterType::Lanczos3);
    let (to_full, to_enlarged) = (difference(&got, &full), difference(&got, &enlarged));
    assert!(
        to_full * 1.5 < to_enlarged,
        "output differs from the source's pixels by {to_full:.1}, from an enlarged half-size \
         decode by {to_enlarged:.1}"
    );

    // When one photo's share of memory cannot hold the full-size decode (72 MB of pixels and
    // their copies), the crop comes from the decode that fits: the photo is not refused.
    let tight = Pipeline {
        budget: Arc::new(MemoryBudget::new(40 << 20, 40 << 20)),
        ..Pipeline::default()
    };
    let out = tight.process_bytes(&bytes, &[profile]).expect("processes");
    assert!(out.review.is_empty(), "{:?}", out.review);
    assert_eq!(out.crops[&profile], crop);
    assert_eq!(tight.budget.in_use(), 0);
}

#[test]
fn of_two_similar_faces_the_one_near_the_upper_centre_is_the_subject_and_the_photo_flagged() {
    // Two children of about the same size: one near the upper centre, one (a little larger)
    // in a lower corner, in both frame shapes.
    for (width, height) in [(2000, 3000), (3000, 2000)] {
        let mut canvas = background(width, height, true, 11);
        let subject = paste(&mut canvas, "0100204.jpg", 0.07, 0.5, 0.33);
        let other = paste(&mut canvas, "0100206.jpg", 0.075, 0.88, 0.88);
        let out = process(&canvas, &PROFILES);
        assert!(
            out.review
                .iter()
                .any(|r| matches!(r, Review::SeveralFaces { count } if *count == 2)),
            "{width}x{height}: {:?}",
            out.review
        );
        let found = Rect::from(out.face.expect("the subject is reported"));
        assert!(
            centre_inside(&found, &subject),
            "{width}x{height}: subject {found:?}, upper centre {subject:?}, corner {other:?}"
        );
    }
}

#[test]
fn backgrounds_without_a_face_are_still_no_face() {
    // The small-face pass runs on every photo the first two passes find nothing in: it must
    // not make faces out of flat colour, noise or a portrait's clothes.
    let clothes = {
        let p = image::open(fixtures().join("0100205.jpg"))
            .expect("fixture decodes")
            .into_rgb8();
        let (w, h) = p.dimensions();
        // Below the chin (truth.json puts the face at y 774-1248).
        image::imageops::crop_imm(&p, 0, 1300, w, h - 1300).to_image()
    };
    let mut cases = vec![
        ("plain", background(2000, 3000, false, 0)),
        ("noise", background(3000, 2000, true, 5)),
    ];
    let mut dressed = background(2000, 3000, true, 9);
    let big = image::imageops::resize(
        &clothes,
        clothes.width() * 3 / 2,
        clothes.height() * 3 / 2,
        image::imageops::FilterType::Triangle,
    );
    image::imageops::replace(&mut dressed, &big, 0, 1200);
    cases.push(("clothes", dressed));
    for (what, canvas) in cases {
        let out = process(&canvas, &PROFILES);
        assert_eq!(out.review, [Review::NoFace], "{what}: {:?}", out.face);
    }
}
