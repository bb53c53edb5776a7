//! The pipeline with a person's review decision (`review.toml`): the crop is where the person
//! put it for every shape, a quarter turn turns the source, an accepted photo loses its flags,
//! and a decision made on another photo is not applied but flagged.

use std::path::PathBuf;

use image::{Rgb, RgbImage};
use picday_core::Profile;
use picday_core::pipeline::{CropMode, Pipeline, Review, encode_jpeg};
use picday_core::review::{Adjustment, CropBox};

fn read(name: &str) -> Vec<u8> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/portraits"
    ))
    .join(name);
    std::fs::read(path).expect("fixture")
}

fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

const SHAPES: [Profile; 3] = [
    Profile::square(200),
    Profile::jpeg(160, 200),
    Profile::jpeg(300, 200),
];

#[test]
fn every_shape_is_cut_from_the_one_square_the_person_placed() {
    let bytes = read("0100201.jpg");
    let crop = CropBox {
        x: 0.3,
        y: 0.25,
        size: 0.35,
    };
    let adjust = Adjustment {
        source: hash(&bytes),
        quarter_turns: 0,
        crop: Some(crop),
        accepted: true,
    };
    let p = Pipeline::default()
        .process_bytes_with(&bytes, &SHAPES, Some(&adjust))
        .expect("processes");
    assert_eq!(p.adjusted, Some(true));
    for shape in SHAPES {
        let aspect = f64::from(shape.width) / f64::from(shape.height);
        assert_eq!(
            p.crops[&shape],
            crop.rect(p.width, p.height, aspect),
            "{shape:?}"
        );
    }
    let plain = Pipeline::default()
        .process_bytes(&bytes, &SHAPES)
        .expect("processes");
    assert_ne!(
        plain.photos[&SHAPES[0]].bytes, p.photos[&SHAPES[0]].bytes,
        "the placed crop is not the pipeline's own"
    );
}

#[test]
fn a_quarter_turn_turns_the_source_before_anything_is_placed() {
    // A landscape frame, left half dark: turned clockwise, the dark half is on top.
    let mut img = RgbImage::from_pixel(400, 300, Rgb([230, 230, 230]));
    for y in 0..300 {
        for x in 0..200 {
            img.put_pixel(x, y, Rgb([20, 20, 20]));
        }
    }
    let bytes = encode_jpeg(&img, 90).expect("encodes");
    let adjust = Adjustment {
        source: hash(&bytes),
        quarter_turns: 1,
        crop: Some(CropBox {
            x: 0.5,
            y: 0.5,
            size: 1.0,
        }),
        accepted: true,
    };
    let pipeline = Pipeline {
        crop: CropMode::Center,
        ..Pipeline::default()
    };
    let p = pipeline
        .process_bytes_with(&bytes, &[Profile::square(100)], Some(&adjust))
        .expect("processes");
    assert_eq!((p.width, p.height), (300, 400));
    let out = image::load_from_memory(&p.photos[&Profile::square(100)].bytes)
        .expect("decodes")
        .into_luma8();
    assert!(out.get_pixel(50, 10)[0] < 80, "top is the dark half");
    assert!(out.get_pixel(50, 90)[0] > 170, "bottom is the light half");
}

#[test]
fn an_accepted_photo_loses_its_flags_and_a_stale_decision_is_flagged_not_applied() {
    // No face at all: flagged no_face.
    let img = RgbImage::from_pixel(300, 400, Rgb([120, 140, 160]));
    let bytes = encode_jpeg(&img, 90).expect("encodes");
    let shapes = [Profile::square(100)];
    let plain = Pipeline::default()
        .process_bytes(&bytes, &shapes)
        .expect("processes");
    assert_eq!(plain.review, vec![Review::NoFace]);
    assert_eq!(plain.adjusted, None);

    let accepted = Adjustment {
        source: hash(&bytes),
        quarter_turns: 0,
        crop: None,
        accepted: true,
    };
    let p = Pipeline::default()
        .process_bytes_with(&bytes, &shapes, Some(&accepted))
        .expect("processes");
    assert!(p.flags.is_empty(), "{:?}", p.flags);
    assert_eq!(p.adjusted, Some(true));

    // The same decision, made on another photo: ignored, and said so.
    let stale = Adjustment {
        source: hash(b"another photo"),
        quarter_turns: 1,
        crop: Some(CropBox {
            x: 0.1,
            y: 0.1,
            size: 0.2,
        }),
        accepted: true,
    };
    let p = Pipeline::default()
        .process_bytes_with(&bytes, &shapes, Some(&stale))
        .expect("processes");
    assert_eq!(p.adjusted, Some(false));
    assert_eq!((p.width, p.height), (300, 400), "not turned");
    assert_eq!(p.review, vec![Review::NoFace, Review::StaleDecision]);
    assert_eq!(p.crops[&shapes[0]], plain.crops[&shapes[0]]);
    assert!(p.flags[1].contains("picday review"), "{:?}", p.flags);
}
