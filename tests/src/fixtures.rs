//! Test material: the public-domain portraits shipped in `tests/fixtures/`, and photos made on
//! the fly for any profile.

use std::path::PathBuf;
use std::sync::Arc;

use image::{Rgb, RgbImage};
use picday_core::pipeline::Pipeline;
use picday_core::{Person, Photo, Profile};

/// `tests/fixtures` in the repository.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `tests/fixtures/portraits`.
pub fn portraits() -> PathBuf {
    dir().join("portraits")
}

/// A synthetic portrait-shaped JPEG (a head-like disc on a gradient), distinct per `seed`.
pub fn source_jpeg(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        let (cx, cy, r) = (width / 2, height * 2 / 5, width / 4);
        let dx = i64::from(x) - i64::from(cx);
        let dy = i64::from(y) - i64::from(cy);
        if dx * dx + dy * dy < i64::from(r * r) {
            Rgb([220, 180u8.wrapping_add(seed), 150])
        } else {
            Rgb([
                (x * 255 / width.max(1)) as u8 ^ seed,
                (y * 255 / height.max(1)) as u8,
                seed.wrapping_mul(37),
            ])
        }
    });
    picday_core::pipeline::encode_jpeg(&img, 90).expect("encode a test JPEG")
}

/// A real photo for `profile`, rendered by the pipeline; `seed` makes photos differ.
pub fn photo(profile: Profile, seed: u8) -> Photo {
    let source = source_jpeg(
        profile.width.max(64) * 2,
        profile.height.max(64) * 5 / 2,
        seed,
    );
    let out = Pipeline::default()
        .process_bytes(&source, &[profile])
        .expect("render a test photo");
    out.photos[&profile].clone()
}

/// A person with a mail and a student id, numbered `n`.
pub fn person(n: usize) -> Person {
    let mut p = Person::new(
        format!("{n}.jpg"),
        [
            ("mail".to_string(), format!("student{n}@school.example")),
            ("student_id".to_string(), format!("{:07}", n)),
            ("first_name".to_string(), format!("Student{n}")),
            ("last_name".to_string(), "Example".to_string()),
        ],
    );
    p.origin.line = n as u64 + 2;
    p
}

/// An `Arc` of [`person`].
pub fn arc_person(n: usize) -> Arc<Person> {
    Arc::new(person(n))
}
