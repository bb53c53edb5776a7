//! What the pipeline's test files share: the fixture portraits and their hand-measured face
//! boxes.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::path::PathBuf;

use picday_core::pipeline::Rect;

pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/portraits"
    ))
}

/// Face boxes (x, y, w, h) in the upright frame, measured by hand.
pub fn truth() -> BTreeMap<String, Rect> {
    let text = std::fs::read_to_string(fixtures().join("truth.json")).expect("truth.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("truth.json parses");
    v["faces"]
        .as_object()
        .expect("faces")
        .iter()
        .map(|(k, b)| {
            let n = |i: usize| b[i].as_f64().expect("number");
            (
                k.clone(),
                Rect {
                    x: n(0),
                    y: n(1),
                    width: n(2),
                    height: n(3),
                },
            )
        })
        .collect()
}
