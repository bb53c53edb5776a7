//! Feeds arbitrary bytes to the pipeline's entry point: every input must end in `Ok` or `Err`,
//! never a panic, an abort or an allocation beyond the pixel limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picday_core::Profile;
use picday_core::pipeline::Pipeline;

fuzz_target!(|data: &[u8]| {
    let pipeline = Pipeline {
        // Keep the fuzzer fast and its memory bounded: 4 MP is plenty to reach every code path.
        max_pixels: 4_000_000,
        ..Pipeline::default()
    };
    let _ = pipeline.process_bytes(data, &[Profile::square(64), Profile::jpeg(48, 64)]);
});
