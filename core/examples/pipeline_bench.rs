//! Benchmark driver for `bench/pipeline.sh`: generates synthetic 24 MP portraits and runs
//! picday's pipeline on photos, printing per-photo times and peak memory.
//!
//! Why an example and not criterion: the comparison is against `vipsthumbnail` and ImageMagick
//! run as processes on the same files, so picday is measured the same way (a release binary,
//! one photo after another on one core), including its process start when run per photo.
//!
//! ```text
//! pipeline_bench generate SRC.jpg DIR COUNT [444|422|420]  # 4000x6000 Q90 (4:4:4 default)
//! pipeline_bench run [--crop face|top|center] [--out DIR] FILE...
//! pipeline_bench stages FILE...                 # where the time goes, stage by stage
//! pipeline_bench scale FILE...                  # photos per second on 1..=cores threads
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use picday_core::Profile;
use picday_core::pipeline::{CropMode, Pipeline};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") if (4..=5).contains(&args.len()) => {
            let n: u32 = args[3].parse().unwrap_or(20);
            match sampling(args.get(4).map_or("444", String::as_str)) {
                Some(s) => generate(Path::new(&args[1]), Path::new(&args[2]), n, s),
                None => Err("chroma sampling is one of 444, 422, 420".into()),
            }
        }
        Some("run") => run(&args[1..]),
        Some("stages") => stages(&args[1..]),
        Some("scale") => scale(&args[1..]),
        _ => Err(
            "usage: pipeline_bench generate SRC DIR COUNT [444|422|420] | run [--crop MODE] [--out DIR] FILE... \
             | stages FILE... | scale FILE..."
                .into(),
        ),
    };
    if let Err(e) = result {
        eprintln!("pipeline_bench: {e}");
        std::process::exit(2);
    }
}

type Res = Result<(), String>;

/// 24 MP portraits from a real one: the source portrait upscaled to 4000x6000 with sensor-like
/// noise (a different seed per file), so files are photo-sized and the face detector has a real
/// face to find. Quality 90 with the chroma subsampling asked for: cameras write 4:2:2 (most
/// DSLRs) or 4:2:0 (phones), studio exports at top quality 4:4:4, the most work to decode.
fn generate(src: &Path, dir: &Path, count: u32, sampling: jpeg_encoder::SamplingFactor) -> Res {
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images};
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let source = image::open(src).map_err(|e| e.to_string())?.into_rgb8();
    let (w, h) = (4000u32, 6000u32);
    let from = images::ImageRef::new(
        source.width(),
        source.height(),
        source.as_raw(),
        PixelType::U8x3,
    )
    .map_err(|e| e.to_string())?;
    let mut big = images::Image::new(w, h, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .fit_into_destination(None);
    Resizer::new()
        .resize(&from, &mut big, &options)
        .map_err(|e| e.to_string())?;
    for i in 0..count {
        let mut state = 0x2545_F491_4F6C_DD1Du64 ^ (u64::from(i) + 1).wrapping_mul(0x9E37_79B9);
        let pixels: Vec<u8> = big
            .buffer()
            .iter()
            .map(|&v| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state % 13) as i32 - 6;
                (i32::from(v) + noise).clamp(0, 255) as u8
            })
            .collect();
        let path = dir.join(format!("portrait-{i:02}.jpg"));
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        encoder.set_sampling_factor(sampling);
        encoder
            .encode(&pixels, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| e.to_string())?;
        std::fs::write(&path, out).map_err(|e| e.to_string())?;
        println!("{}", path.display());
    }
    Ok(())
}

fn sampling(name: &str) -> Option<jpeg_encoder::SamplingFactor> {
    use jpeg_encoder::SamplingFactor::{R_4_2_0, R_4_2_2, R_4_4_4};
    match name {
        "444" => Some(R_4_4_4),
        "422" => Some(R_4_2_2),
        "420" => Some(R_4_2_0),
        _ => None,
    }
}

fn run(args: &[String]) -> Res {
    let mut crop = CropMode::Face;
    let mut out: Option<PathBuf> = None;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--crop" => {
                crop = match it.next().map(String::as_str) {
                    Some("top") => CropMode::Top,
                    Some("center") => CropMode::Center,
                    _ => CropMode::Face,
                }
            }
            "--out" => out = it.next().map(PathBuf::from),
            f => files.push(PathBuf::from(f)),
        }
    }
    let pipeline = Pipeline {
        crop,
        ..Pipeline::default()
    };
    let profiles = [Profile::square(640)];
    let mut times = Vec::new();
    for f in &files {
        let start = Instant::now();
        let processed = pipeline
            .process(f, &profiles)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        if let Some(dir) = &out {
            let name = f.file_name().map(PathBuf::from).unwrap_or_default();
            for photo in processed.photos.values() {
                std::fs::write(dir.join(&name), &photo.bytes).map_err(|e| e.to_string())?;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "photos={} median_ms={median:.1} mean_ms={mean:.1} peak_rss_kb={}",
        times.len(),
        peak_rss_kb()
    );
    Ok(())
}

/// Throughput with 1, 2, ... up to the number of cores threads, each taking the next photo
/// (as the engine's CPU pool does): shows whether photos per second grow with cores.
fn scale(files: &[String]) -> Res {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let pipeline = Pipeline::default();
    let profiles = [Profile::square(640)];
    let work = files.len().max(1) * 2;
    let mut base = 0.0;
    for threads in 1..=cores {
        let next = AtomicUsize::new(0);
        let start = Instant::now();
        let failed = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= work {
                                return Ok(());
                            }
                            let f = &files[i % files.len()];
                            pipeline
                                .process(Path::new(f), &profiles)
                                .map_err(|e| format!("{f}: {e}"))?;
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
                .find(Result::is_err)
        });
        if let Some(Err(e)) = failed {
            return Err(e);
        }
        let per_second = work as f64 / start.elapsed().as_secs_f64();
        if threads == 1 {
            base = per_second;
        }
        println!(
            "threads={threads} photos={work} photos_per_s={per_second:.1} speedup={:.2}x",
            per_second / base
        );
    }
    Ok(())
}

/// The pipeline's stages one by one on each file (the same calls `Pipeline::process` makes),
/// printing the mean milliseconds of each: shows where a change should aim.
fn stages(files: &[String]) -> Res {
    use picday_core::pipeline::{self, DECODE_HEADROOM, face};
    let profile = Profile::square(640);
    let mut total = [0.0f64; 7];
    let names = [
        "read", "inspect", "decode", "detect", "resize", "encode", "hash",
    ];
    // The detector's model is parsed on first use in each worker thread: timed apart.
    let warm = image::RgbImage::new(64, 96);
    let t = Instant::now();
    face::detect(&warm, 64, 96);
    let model_ms = t.elapsed().as_secs_f64() * 1000.0;
    for f in files {
        let mut lap = Instant::now();
        let mut mark = |i: usize, total: &mut [f64; 7]| {
            total[i] += lap.elapsed().as_secs_f64() * 1000.0;
            lap = Instant::now();
        };
        let bytes = std::fs::read(f).map_err(|e| format!("{f}: {e}"))?;
        mark(0, &mut total);
        let info = pipeline::inspect(&bytes, 100_000_000).map_err(|e| e.to_string())?;
        mark(1, &mut total);
        let min_short = (640.0 * DECODE_HEADROOM).ceil() as u32;
        let decoded =
            pipeline::decode_scaled(&bytes, info, min_short).map_err(|e| e.to_string())?;
        mark(2, &mut total);
        let (w, h) = (decoded.source_width, decoded.source_height);
        let rect = match face::detect(&decoded.image, w, h) {
            face::Detection::Face(b) => face::face_crop(&b, w, h, 1.0, 640.0),
            _ => pipeline::crop_rect(w, h, &profile, CropMode::Top),
        };
        mark(3, &mut total);
        let (sx, sy) = decoded.scale();
        let scaled = pipeline::Rect {
            x: rect.x * sx,
            y: rect.y * sy,
            width: rect.width * sx,
            height: rect.height * sy,
        };
        let pixels =
            pipeline::resize(&decoded.image, scaled, 640, 640).map_err(|e| e.to_string())?;
        mark(4, &mut total);
        let out = pipeline::encode_within_budget(&pixels, &profile).map_err(|e| e.to_string())?;
        mark(5, &mut total);
        std::hint::black_box(blake3::hash(&bytes));
        mark(6, &mut total);
        std::hint::black_box(out);
    }
    let n = files.len().max(1) as f64;
    print!("photos={} model_load_ms={model_ms:.1}", files.len());
    for (name, t) in names.iter().zip(total) {
        print!(" {name}_ms={:.1}", t / n);
    }
    println!(" total_ms={:.1}", total.iter().sum::<f64>() / n);
    Ok(())
}

/// VmHWM from /proc (Linux); 0 elsewhere.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
