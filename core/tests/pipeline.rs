//! The photo pipeline on real portraits and on every awkward input a school delivery contains:
//! face-aware crops checked against hand-measured face boxes (`truth.json`), EXIF orientations,
//! colour spaces, bit depths, broken files, and a deterministic "fuzz smoke" run.

mod common;

use common::{fixtures, truth};
use image::{ImageEncoder, Rgb, RgbImage};
use picday_core::pipeline::{
    self, CropMode, Pipeline, Processed, Rect, Review, SourceInfo, decode, decode_scaled,
    encode_jpeg, inspect,
};
use picday_core::{ErrorKind, Profile};

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).expect("fixture")
}

/// A fixture's pixels, decoded by `image` (as the photographer's software would see them).
fn pixels(name: &str) -> RgbImage {
    image::load_from_memory(&read(name))
        .expect("fixture decodes")
        .into_rgb8()
}

const PROFILES: [Profile; 5] = [
    Profile::square(640),
    Profile::square(96),
    Profile::jpeg(240, 300),
    Profile::jpeg(300, 400),
    Profile::jpeg(640, 480),
];

fn process(p: &Pipeline, bytes: &[u8]) -> Processed {
    p.process_bytes(bytes, &PROFILES).expect("processes")
}

#[test]
fn face_lands_inside_every_crop_of_every_fixture_portrait() {
    let p = Pipeline::default();
    for (name, face) in truth() {
        let out = process(&p, &read(&name));
        for profile in PROFILES {
            let crop = out.crops[&profile];
            assert!(
                crop.contains(&face, 1.0),
                "{name} {profile}: face {face:?} not inside crop {crop:?} ({:?})",
                out.review
            );
            let img = image::load_from_memory(&out.photos[&profile].bytes).expect("output decodes");
            assert_eq!((img.width(), img.height()), (profile.width, profile.height));
        }
    }
}

#[test]
fn detector_finds_the_face_that_truth_json_marks() {
    let p = Pipeline::default();
    for (name, face) in truth() {
        let out = process(&p, &read(&name));
        let found = out
            .face
            .unwrap_or_else(|| panic!("{name}: no face found ({:?})", out.review));
        assert!(
            !out.review
                .iter()
                .any(|r| matches!(r, Review::NoFace | Review::SeveralFaces { .. })),
            "{name}: {:?}",
            out.review
        );
        let (cx, cy) = (found.x + found.width / 2.0, found.y + found.height / 2.0);
        assert!(
            face.contains(
                &Rect {
                    x: cx,
                    y: cy,
                    width: 0.0,
                    height: 0.0
                },
                0.0
            ),
            "{name}: detected centre ({cx:.0},{cy:.0}) outside the true face {face:?}"
        );
        let ratio = found.width / face.width;
        assert!((0.6..1.6).contains(&ratio), "{name}: size ratio {ratio}");
    }
}

#[test]
fn a_small_face_is_found_by_the_second_pass() {
    // A wide shot: the 0100205 portrait shrunk to 0.45 in the middle of a same-size canvas, so
    // its face is about a tenth of the short side, below what the first pass can see.
    let portrait = pixels("0100205.jpg");
    let (w, h) = portrait.dimensions();
    let small = image::imageops::resize(
        &portrait,
        w * 9 / 20,
        h * 9 / 20,
        image::imageops::FilterType::Triangle,
    );
    let (ox, oy) = (w * 11 / 40, h * 11 / 40);
    let mut canvas = RgbImage::from_pixel(w, h, *portrait.get_pixel(0, 0));
    image::imageops::replace(&mut canvas, &small, i64::from(ox), i64::from(oy));
    let t = truth()["0100205.jpg"];
    let face = Rect {
        x: t.x * 0.45 + f64::from(ox),
        y: t.y * 0.45 + f64::from(oy),
        width: t.width * 0.45,
        height: t.height * 0.45,
    };
    assert!(face.width / f64::from(w.min(h)) < 0.11, "{face:?}");
    // Found (a face this small may be judged too small to be the subject, which is flagged).
    let found = match pipeline::face::detect(&canvas, w, h) {
        pipeline::face::Detection::Face(f) | pipeline::face::Detection::TooSmall(f) => f,
        other => panic!("expected the face, got {other:?}"),
    };
    let centre = Rect {
        x: found.x + found.width / 2.0,
        y: found.y + found.height / 2.0,
        width: 0.0,
        height: 0.0,
    };
    assert!(face.contains(&centre, 0.0), "{found:?} vs {face:?}");
}

#[test]
fn face_crop_puts_the_face_higher_and_larger_than_a_centre_crop() {
    // The point of face mode: the face is framed head-and-shoulders, not lost in the torso.
    let bytes = read("0100205.jpg");
    let face = truth()["0100205.jpg"];
    let out = process(&Pipeline::default(), &bytes);
    let crop = out.crops[&Profile::square(96)];
    let share = face.width / crop.width;
    assert!(
        (0.3..0.55).contains(&share),
        "face is {share} of the crop width"
    );
    let top_gap = (face.y - crop.y) / crop.height;
    assert!((0.1..0.35).contains(&top_gap), "face top at {top_gap}");
}

#[test]
fn crops_are_deterministic() {
    let bytes = read("0100201.jpg");
    let a = process(&Pipeline::default(), &bytes);
    let b = process(&Pipeline::default(), &bytes);
    assert_eq!(a.crops, b.crops);
    assert_eq!(a.face, b.face);
    for profile in PROFILES {
        assert_eq!(a.photos[&profile].bytes, b.photos[&profile].bytes);
    }
}

#[test]
fn photo_without_a_face_falls_back_to_top_crop_and_is_flagged() {
    // The photographer's "no photo" silhouette has no real face.
    let out = process(&Pipeline::default(), &read("0600001.jpg"));
    assert!(out.review.contains(&Review::NoFace), "{:?}", out.review);
    assert!(out.flags.iter().any(|f| f.contains("no face")));
    let top = pipeline::crop_rect(out.width, out.height, &Profile::square(96), CropMode::Top);
    assert_eq!(out.crops[&Profile::square(96)], top);
}

#[test]
fn two_people_in_one_photo_are_flagged_as_several_faces() {
    // Two copies of a portrait side by side: a group photo, not a portrait.
    let one = pixels("0100200.jpg");
    let (w, h) = one.dimensions();
    let mut two = RgbImage::new(w * 2, h);
    image::imageops::replace(&mut two, &one, 0, 0);
    image::imageops::replace(&mut two, &one, i64::from(w), 0);
    let bytes = encode_jpeg(&two, 92).expect("encode");
    let out = process(&Pipeline::default(), &bytes);
    assert!(
        out.review
            .iter()
            .any(|r| matches!(r, Review::SeveralFaces { count } if *count >= 2)),
        "{:?}",
        out.review
    );
    let top = pipeline::crop_rect(out.width, out.height, &Profile::square(96), CropMode::Top);
    assert_eq!(out.crops[&Profile::square(96)], top);
}

#[test]
fn top_and_center_modes_ignore_faces() {
    let bytes = read("0100200.jpg");
    for mode in [CropMode::Top, CropMode::Center] {
        let p = Pipeline {
            crop: mode,
            ..Pipeline::default()
        };
        let out = process(&p, &bytes);
        assert!(
            out.face.is_none() && out.review.is_empty(),
            "{:?}",
            out.review
        );
        assert_eq!(
            out.crops[&Profile::square(96)],
            pipeline::crop_rect(640, 800, &Profile::square(96), mode)
        );
    }
}

// ---------------------------------------------------------------- orientation

/// An upright test card: four flat quadrants, red / green on top, blue / white below.
fn card(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| match (x < w / 2, y < h / 2) {
        (true, true) => Rgb([220, 30, 30]),
        (false, true) => Rgb([30, 200, 30]),
        (true, false) => Rgb([30, 30, 220]),
        (false, false) => Rgb([250, 250, 250]),
    })
}

/// What a camera stores for upright image `u` when it writes EXIF orientation `o` (TIFF 6.0:
/// the stored 0th row / 0th column are the visual sides the value names).
fn stored_for(u: &RgbImage, o: u16) -> RgbImage {
    let (w, h) = u.dimensions();
    let swap = o >= 5;
    let (sw, sh) = if swap { (h, w) } else { (w, h) };
    RgbImage::from_fn(sw, sh, |x, y| {
        let (ux, uy) = match o {
            1 => (x, y),
            2 => (w - 1 - x, y),
            3 => (w - 1 - x, h - 1 - y),
            4 => (x, h - 1 - y),
            5 => (y, x),
            6 => (w - 1 - y, x),
            7 => (w - 1 - y, h - 1 - x),
            _ => (y, h - 1 - x),
        };
        *u.get_pixel(ux, uy)
    })
}

fn exif_orientation(o: u16) -> Vec<u8> {
    let mut e = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
    e.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0]);
    e.extend_from_slice(&o.to_le_bytes());
    e.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    e
}

fn jpeg_with(
    img: &RgbImage,
    setup: impl FnOnce(&mut jpeg_encoder::Encoder<&mut Vec<u8>>),
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 95);
    setup(&mut enc);
    enc.encode(
        img.as_raw(),
        img.width() as u16,
        img.height() as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .expect("encode");
    out
}

fn info(bytes: &[u8]) -> SourceInfo {
    inspect(bytes, 100_000_000).expect("inspect")
}

fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, y)| (i32::from(x) - i32::from(y)).abs() <= tol)
}

#[test]
fn all_eight_exif_orientations_come_out_upright() {
    let upright = card(96, 64);
    for o in 1..=8u16 {
        let stored = stored_for(&upright, o);
        let bytes = jpeg_with(&stored, |e| {
            e.add_app_segment(1, exif_orientation(o)).expect("app1")
        });
        let d = decode(&bytes, info(&bytes)).expect("decode");
        assert_eq!(
            (d.source_width, d.source_height, d.image.dimensions()),
            (96, 64, (96, 64)),
            "orientation {o}"
        );
        for (x, y) in [(20, 15), (76, 15), (20, 50), (76, 50)] {
            let got = d.image.get_pixel(x, y).0;
            let want = upright.get_pixel(x, y).0;
            assert!(
                close(got, want, 24),
                "orientation {o} at ({x},{y}): {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn rotated_fixture_is_cropped_in_upright_coordinates() {
    // 0300100-rot6.jpg is stored 2000x1600 with orientation 6; truth.json is upright.
    let out = process(&Pipeline::default(), &read("0300100-rot6.jpg"));
    assert_eq!((out.width, out.height), (1600, 2000));
    let face = truth()["0300100-rot6.jpg"];
    assert!(out.crops[&Profile::square(96)].contains(&face, 1.0));
}

// ---------------------------------------------------------------- colour and formats

fn mean_abs_luma_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let luma =
        |p: &Rgb<u8>| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]);
    let total: f64 = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| (luma(p) - luma(q)).abs())
        .sum();
    total / f64::from(a.width() * a.height())
}

#[test]
fn cmyk_fixture_matches_its_greyscale_twin() {
    // Same photo as 0300102-gray.jpg, delivered as a (print shop) CMYK JPEG. A wrong inversion
    // or channel order gives a negative or a colour cast, far from the greyscale twin.
    let cmyk = read("0300101-cmyk.jpg");
    let grey = read("0300102-gray.jpg");
    let a = decode(&cmyk, info(&cmyk)).expect("cmyk decodes").image;
    let b = decode(&grey, info(&grey)).expect("grey decodes").image;
    assert_eq!(a.dimensions(), b.dimensions());
    let diff = mean_abs_luma_diff(&a, &b);
    assert!(diff < 20.0, "mean luma difference {diff}");
}

#[test]
fn cmyk_and_ycck_jpegs_decode_to_the_right_colours() {
    // Ink amounts: no ink = white, full K = black, cyan+yellow = green.
    let (w, h) = (32u32, 16u32);
    let mut cmyk = Vec::new();
    for _y in 0..h {
        for x in 0..w {
            cmyk.extend_from_slice(match x / 8 {
                0 => &[0u8, 0, 0, 0],
                1 => &[0, 0, 0, 255],
                2 => &[255, 0, 255, 0],
                _ => &[0, 255, 255, 0],
            });
        }
    }
    let want = [[255u8, 255, 255], [0, 0, 0], [0, 255, 0], [255, 0, 0]];
    for color in [
        jpeg_encoder::ColorType::Cmyk,
        jpeg_encoder::ColorType::CmykAsYcck,
    ] {
        let mut bytes = Vec::new();
        jpeg_encoder::Encoder::new(&mut bytes, 100)
            .encode(&cmyk, w as u16, h as u16, color)
            .expect("encode");
        let d = decode(&bytes, info(&bytes)).expect("decode").image;
        for (i, want) in want.iter().enumerate() {
            let got = d.get_pixel(i as u32 * 8 + 4, 8).0;
            assert!(
                close(got, *want, 40),
                "{color:?} patch {i}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn greyscale_jpeg_becomes_neutral_rgb() {
    let out = process(&Pipeline::default(), &read("0300102-gray.jpg"));
    let img = image::load_from_memory(&out.photos[&Profile::square(96)].bytes)
        .expect("decodes")
        .into_rgb8();
    let max_spread = img
        .pixels()
        .map(|p| p.0.iter().max().unwrap_or(&0) - p.0.iter().min().unwrap_or(&0))
        .max()
        .unwrap_or(0);
    assert!(
        max_spread <= 6,
        "colour appeared in a grey photo: {max_spread}"
    );
}

#[test]
fn embedded_display_p3_profile_is_converted_to_srgb() {
    // A P3 red is more saturated than any sRGB red: converted, R goes up and G/B go down.
    let icc = moxcms::ColorProfile::new_display_p3()
        .encode()
        .expect("icc");
    let img = RgbImage::from_pixel(32, 32, Rgb([200, 80, 80]));
    let tagged = jpeg_with(&img, |e| e.add_icc_profile(&icc).expect("icc"));
    let plain = jpeg_with(&img, |_| {});
    let t = decode(&tagged, info(&tagged)).expect("decode").image;
    let p = decode(&plain, info(&plain)).expect("decode").image;
    let (t, p) = (t.get_pixel(16, 16).0, p.get_pixel(16, 16).0);
    assert!(
        t[0] > p[0] + 5 && t[1] + 5 < p[1] && t[2] < p[2],
        "{t:?} vs {p:?}"
    );
}

#[test]
fn progressive_jpeg_decodes_like_baseline() {
    let img = card(120, 160);
    let base = jpeg_with(&img, |_| {});
    let prog = jpeg_with(&img, |e| e.set_progressive(true));
    assert_ne!(base, prog);
    let a = decode(&base, info(&base)).expect("baseline").image;
    let b = decode(&prog, info(&prog)).expect("progressive").image;
    assert!(mean_abs_luma_diff(&a, &b) < 2.0);
    let d = decode_scaled(&prog, info(&prog), 40).expect("scaled progressive");
    // The smallest scale keeping 40 on the short side: 1/2 with jpeg-decoder (1/8, 1/4, 1/2),
    // 3/8 with libjpeg-turbo (any n/8).
    let expected = if cfg!(feature = "turbojpeg") {
        (45, 60)
    } else {
        (60, 80)
    };
    assert_eq!(d.image.dimensions(), expected);
}

/// A photo-like image: smooth gradients under sensor-like noise, so blocks carry many non-zero
/// coefficients, long Huffman codes and large values (the decoder's slow paths), at a size that
/// leaves partial MCUs on both edges.
fn noisy_photo(w: u32, h: u32) -> RgbImage {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 61) as i64 - 30;
        let at = |v: i64| (v + noise).clamp(0, 255) as u8;
        let (x, y) = (i64::from(x), i64::from(y));
        Rgb([at(x * 255 / 257), at(y * 255 / 385), at((x * y) % 256)])
    })
}

/// jpeg-decoder's pixels at the smallest of its scales keeping the short side >= `min_short`
/// (what `decode_scaled` does in the default build; with `turbojpeg`, progressive JPEGs go to
/// libjpeg-turbo there, so this calls the decoder itself).
fn jpeg_decoder_pixels(bytes: &[u8], min_short: u16) -> (u16, u16, Vec<u8>) {
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.set_single_threaded(true);
    d.scale(min_short, u16::MAX).expect("scale");
    let pixels = d.decode().expect("decode");
    let info = d.info().expect("info");
    (info.width, info.height, pixels)
}

/// `base` and `prog`, two encodings of one image, decode to the same pixels at 1/8, 1/4, 1/2
/// and full scale of a 257-pixel short side.
fn assert_same_pixels(base: &[u8], prog: &[u8], what: &str) {
    assert_ne!(base, prog);
    for min_short in [20, 60, 120, 257] {
        let a = jpeg_decoder_pixels(base, min_short);
        let b = jpeg_decoder_pixels(prog, min_short);
        assert_eq!((a.0, a.1), (b.0, b.1), "{what}, short side {min_short}");
        assert!(a.2 == b.2, "{what}, short side {min_short}: pixels differ");
    }
}

/// Baseline scans go through jpeg-decoder's fast sequential path, progressive ones through its
/// general path; the same quantized coefficients must give the same pixels at every DCT scale,
/// for each chroma subsampling and greyscale, with and without restart markers. (At a reduced
/// scale the sequential path skips the coefficients its IDCT does not read several codes at a
/// time; the progressive path decodes every one.)
#[test]
fn baseline_and_progressive_encodings_decode_to_identical_pixels_at_every_scale() {
    use jpeg_encoder::SamplingFactor;
    let img = noisy_photo(257, 385);
    let grey: Vec<u8> = img.pixels().map(|p| p[0] / 2 + p[2] / 2).collect();
    for restart in [0, 5] {
        let encode = |progressive: bool| {
            let mut out = Vec::new();
            let mut enc = jpeg_encoder::Encoder::new(&mut out, 95);
            enc.set_restart_interval(restart);
            enc.set_progressive(progressive);
            enc.encode(&grey, 257, 385, jpeg_encoder::ColorType::Luma)
                .expect("encode");
            out
        };
        assert_same_pixels(
            &encode(false),
            &encode(true),
            &format!("greyscale, restart interval {restart}"),
        );
    }
    for sampling in [
        SamplingFactor::R_4_4_4,
        SamplingFactor::R_4_2_2,
        SamplingFactor::R_4_2_0,
    ] {
        for restart in [0, 5] {
            let encode = |progressive: bool| {
                jpeg_with(&img, |e| {
                    e.set_sampling_factor(sampling);
                    e.set_restart_interval(restart);
                    e.set_progressive(progressive);
                })
            };
            let what = format!("{sampling:?}, restart interval {restart}");
            assert_same_pixels(&encode(false), &encode(true), &what);
        }
    }
}

/// Stray bytes between a restart interval's data and its RST marker (a damaged or oddly written
/// file) are skipped, as libjpeg skips them: the photo decodes as the intact one. (TurboJPEG
/// stops on libjpeg's warning about them, but baseline JPEGs never go through it.)
#[test]
fn stray_bytes_before_a_restart_marker_are_skipped() {
    let img = noisy_photo(257, 385);
    let intact = jpeg_with(&img, |e| e.set_restart_interval(3));
    let sos = intact
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    let is_rst = |w: &[u8]| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]);
    let rsts: Vec<usize> = (sos..intact.len() - 1)
        .filter(|&i| is_rst(&intact[i..i + 2]))
        .collect();
    assert!(rsts.len() > 10, "restart markers: {}", rsts.len());
    let mut damaged = Vec::new();
    let mut from = 0;
    for (n, &at) in rsts.iter().enumerate().step_by(4) {
        damaged.extend_from_slice(&intact[from..at]);
        // More bytes than a decoder's look-ahead, none of them 0xFF.
        damaged.extend((0..9 + n % 7).map(|i| (i * 37 % 255) as u8));
        from = at;
    }
    damaged.extend_from_slice(&intact[from..]);
    for min_short in [20, 60, 257] {
        let a = decode_scaled(&intact, info(&intact), min_short).expect("intact");
        let b = decode_scaled(&damaged, info(&damaged), min_short).expect("damaged");
        assert!(a.image == b.image, "short side {min_short}: pixels differ");
    }
}

#[test]
fn sixteen_bit_png_with_and_without_alpha() {
    let rgb16: image::ImageBuffer<Rgb<u16>, Vec<u16>> =
        image::ImageBuffer::from_pixel(40, 50, Rgb([0xFFFF, 0x8000, 0x0000]));
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            bytemuck_u16(rgb16.as_raw()).as_slice(),
            40,
            50,
            image::ExtendedColorType::Rgb16,
        )
        .expect("png");
    let d = decode(&bytes, info(&bytes)).expect("16-bit png").image;
    assert!(close(d.get_pixel(10, 10).0, [255, 128, 0], 1));

    let rgba16 = [0u16, 0, 0, 0].repeat(40 * 50); // transparent black
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            bytemuck_u16(&rgba16).as_slice(),
            40,
            50,
            image::ExtendedColorType::Rgba16,
        )
        .expect("png");
    let d = decode(&bytes, info(&bytes)).expect("16-bit rgba png").image;
    assert_eq!(d.get_pixel(10, 10).0, [255, 255, 255]);
}

/// PNG 16-bit samples in the encoder's expected (native-endian) byte layout.
fn bytemuck_u16(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|s| s.to_ne_bytes()).collect()
}

#[test]
fn transparent_png_fixture_is_flattened_onto_white() {
    let bytes = read("0400001-alpha.png");
    let d = decode(&bytes, info(&bytes)).expect("png").image;
    assert_eq!(d.get_pixel(0, 0).0, [255, 255, 255]);
    let (w, h) = d.dimensions();
    assert_eq!(d.get_pixel(w - 1, h - 1).0, [255, 255, 255]);
}

#[test]
fn shrink_on_load_keeps_the_requested_headroom_on_the_short_side() {
    // 4000x6000: 1/4 scale gives a 1000 short side, enough for 1.5 x 640 = 960.
    let bytes = read("0500000-big.jpg");
    let quarter = decode_scaled(&bytes, info(&bytes), 960).expect("decode");
    assert_eq!(quarter.image.dimensions(), (1000, 1500));
    assert_eq!((quarter.source_width, quarter.source_height), (4000, 6000));
    // One more pixel: the next scale up, 1/2 (a baseline JPEG goes through jpeg-decoder, with
    // its scales 1/8, 1/4, 1/2, in every build).
    let d = decode_scaled(&bytes, info(&bytes), 1001).expect("decode");
    assert_eq!(d.image.dimensions(), (2000, 3000));
    // A progressive JPEG: libjpeg-turbo's 3/8 with the turbojpeg feature, else 1/2.
    let prog = jpeg_with(&quarter.image, |e| e.set_progressive(true));
    let p = decode_scaled(&prog, info(&prog), 251).expect("progressive");
    let expected = if cfg!(feature = "turbojpeg") {
        (375, 563)
    } else {
        (500, 750)
    };
    assert_eq!(p.image.dimensions(), expected);
}

#[test]
fn output_carries_no_metadata() {
    // GPS and camera data live in APP1 (EXIF/XMP), colour profiles in APP2: none may leave.
    let icc = moxcms::ColorProfile::new_display_p3()
        .encode()
        .expect("icc");
    let src = jpeg_with(&card(200, 250), |e| {
        e.add_app_segment(1, exif_orientation(1)).expect("exif");
        e.add_icc_profile(&icc).expect("icc");
    });
    let out = process(&Pipeline::default(), &src);
    for photo in out.photos.values() {
        let b = &photo.bytes;
        let mut i = 2;
        while i + 4 <= b.len() && b[i] == 0xFF && b[i + 1] != 0xDA {
            let marker = b[i + 1];
            assert!(
                !(0xE1..=0xEF).contains(&marker) && marker != 0xFE,
                "output has an APP{}/COM segment",
                marker - 0xE0
            );
            i += 2 + usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        }
    }
}

#[test]
fn ad_thumbnail_fits_ten_kilobytes() {
    let profile = Profile::square(96).with_quality(90).with_max_bytes(10_000);
    for name in ["0100201.jpg", "0500000-big.jpg"] {
        let out = Pipeline::default()
            .process_bytes(&read(name), &[profile])
            .expect("process");
        let len = out.photos[&profile].len();
        assert!(len <= 10_000 && len > 1_000, "{name}: {len} bytes");
    }
}

// ---------------------------------------------------------------- broken input

#[test]
fn broken_fixtures_are_input_errors_with_a_reason() {
    for (name, needle) in [
        ("0700001-truncated.jpg", "truncated"),
        ("0700002-empty.jpg", "empty"),
        ("0700003-notimage.jpg", "not a photo"),
    ] {
        let e = Pipeline::default()
            .process(&fixtures().join(name), &PROFILES)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Input, "{name}");
        assert!(e.message().contains(needle), "{name}: {e}");
    }
}

#[test]
fn heic_is_refused_with_conversion_advice() {
    let e = Pipeline::default()
        .process_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", &PROFILES)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.message().contains("heif-convert"), "{e}");
}

#[test]
fn decompression_bomb_header_is_refused_before_decoding() {
    // A 60000x60000 JPEG header with almost no data: refused on the header alone.
    let mut bytes = jpeg_with(&card(16, 16), |_| {});
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let e = Pipeline::default()
        .process_bytes(&bytes, &PROFILES)
        .unwrap_err();
    assert!(e.message().contains("pixel limit"), "{e}");
}

/// Deterministic xorshift, so a failure reproduces from the iteration number.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Found by the fuzzer (its input is kept in `fuzz/corpus/decode/`): a DC Huffman table whose
/// symbol is a whole byte above 15 overflowed the fast-table arithmetic of the sequential
/// decoder while building the table. Now the decode fails with a reason.
#[test]
fn a_dc_table_with_a_symbol_above_fifteen_is_an_input_error() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/decode/dht-dc-symbol-above-15.jpg"
    );
    let bytes = std::fs::read(path).expect("fuzz input");
    let e = Pipeline::default()
        .process_bytes(&bytes, &PROFILES)
        .expect_err("a corrupt table");
    assert_eq!(e.kind(), ErrorKind::Input, "{e}");
    assert!(!e.message().contains("gave up"), "{e}");
}

#[test]
fn fuzz_smoke_mutated_inputs_never_panic() {
    // A stable stand-in for `cargo fuzz run decode` (fuzz/): a few hundred corrupted files
    // through the real entry point. Every outcome must be Ok or Err; a panic fails the test.
    let mut seeds = vec![
        jpeg_with(&card(64, 80), |_| {}),
        jpeg_with(&card(64, 80), |e| e.set_progressive(true)),
        jpeg_with(&stored_for(&card(64, 80), 6), |e| {
            e.add_app_segment(1, exif_orientation(6)).expect("exif")
        }),
        read("0600001.jpg"),
    ];
    let mut cmyk = Vec::new();
    jpeg_encoder::Encoder::new(&mut cmyk, 90)
        .encode(
            &[40u8; 48 * 48 * 4],
            48,
            48,
            jpeg_encoder::ColorType::CmykAsYcck,
        )
        .expect("cmyk");
    seeds.push(cmyk);
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(
            &[90u8; 40 * 40 * 4],
            40,
            40,
            image::ExtendedColorType::Rgba8,
        )
        .expect("png");
    seeds.push(png);

    let p = Pipeline {
        max_pixels: 4_000_000,
        ..Pipeline::default()
    };
    let profiles = [Profile::square(48), Profile::jpeg(30, 40)];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0, 0);
    for i in 0..400 {
        let seed = &seeds[i % seeds.len()];
        let mut b = seed.clone();
        match rng.below(4) {
            0 => b.truncate(rng.below(b.len())),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
            }
            2 => {
                // Corrupt the headers, where the sizes and tables are.
                let at = rng.below(b.len().min(200));
                b[at] = rng.next() as u8;
            }
            _ => {
                let at = rng.below(b.len());
                let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
        }
        let result = std::panic::catch_unwind(|| p.process_bytes(&b, &profiles));
        match result {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                assert!(
                    matches!(e.kind(), ErrorKind::Input | ErrorKind::Rejected),
                    "iteration {i}: {e}"
                );
                err += 1;
            }
            Err(_) => panic!("iteration {i}: the pipeline panicked"),
        }
    }
    // Both outcomes must occur, or the mutations are not exercising anything.
    assert!(ok > 10 && err > 10, "ok {ok}, err {err}");
}

#[test]
fn a_worker_reading_photo_after_photo_never_mixes_up_their_bytes() {
    // `process` reuses the worker's read buffer: a small photo after a big one, a missing file
    // and a corrupt one in between must each give what a fresh read gives.
    let p = Pipeline::default();
    let profiles = [Profile::jpeg(96, 96)];
    let sequence = [
        "0500000-big.jpg",
        "0100200.jpg",
        "0700004-missing.jpg",
        "0700001-truncated.jpg",
        "0100201.jpg",
        "0100200.jpg",
    ];
    for name in sequence {
        let path = fixtures().join(name);
        let got = p.process(&path, &profiles);
        match std::fs::read(&path) {
            Err(_) => assert!(got.is_err(), "{name}: a missing file processed"),
            Ok(bytes) => match (got, p.process_bytes(&bytes, &profiles)) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.source_hash, b.source_hash, "{name}");
                    assert_eq!(a.photos[&profiles[0]].bytes, b.photos[&profiles[0]].bytes);
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name}"),
                (a, b) => panic!("{name}: {:?} vs {:?}", a.err(), b.err()),
            },
        }
    }
}

/// A JPEG whose frame header was altered to announce 9999x10000 (just under the pixel limit)
/// while its scan holds 560x700 pixels: decoders read the missing data as zeros, and picday
/// sent a black square that would have replaced a real photo. The scan ending before the frame
/// does is an input error, found from the header and the data's length before any decoding.
#[test]
fn a_scan_far_shorter_than_its_frame_is_refused_not_painted_black() {
    let img = RgbImage::from_fn(560, 700, |x, y| Rgb([(x % 251) as u8, (y % 241) as u8, 90]));
    let mut bytes = encode_jpeg(&img, 90).expect("encode");
    assert!(inspect(&bytes, 100_000_000).is_ok());
    let sof = bytes
        .windows(2)
        .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0..=0xC2))
        .expect("a frame header");
    // SOFn: FF Cn, length (2), precision (1), height (2), width (2).
    bytes[sof + 5..sof + 7].copy_from_slice(&10_000u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&9_999u16.to_be_bytes());
    let e = inspect(&bytes, 100_000_000).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Input, "{e}");
    assert!(e.message().contains("9999x10000"), "{e}");
    assert!(e.message().contains("damaged"), "{e}");
    let e = Pipeline::default()
        .process_bytes(&bytes, &PROFILES)
        .expect_err("no photo is made from it");
    assert_eq!(e.kind(), ErrorKind::Input, "{e}");

    // Every genuine fixture portrait passes the same check.
    for entry in std::fs::read_dir(fixtures()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".jpg") && !name.starts_with("07") {
            let bytes = std::fs::read(entry.path()).unwrap();
            if let Err(e) = inspect(&bytes, 100_000_000) {
                assert!(!e.message().contains("damaged"), "{name}: {e}");
            }
        }
    }
}

/// A PNG whose palette chunk is 191 bytes (not whole RGB entries), its checksums correct: the
/// `png` crate indexed past the palette's end and panicked (found by the fuzz target in CI; the
/// file is now a fuzz seed). It is refused as damaged, saying why, before the decoder sees it.
#[test]
fn a_png_whose_palette_is_not_whole_entries_is_refused_as_damaged() {
    let bytes = include_bytes!("../../fuzz/corpus/decode/png-palette-not-whole-entries.png");
    let e = Pipeline::default()
        .process_bytes(bytes, &PROFILES)
        .expect_err("a damaged palette");
    assert_eq!(e.kind(), picday_core::ErrorKind::Input, "{e}");
    assert!(e.message().contains("palette chunk (191 bytes)"), "{e}");
}
