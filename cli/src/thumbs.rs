//! Thumbnails of the photos a run sent, for the HTML report: written by a background thread
//! into the report folder (`photos/<hash>.jpg`, named by the photo's hash as in report.json),
//! so the report stays readable offline and the run is not slowed down.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use picday_core::engine::{Observer, Outcome};
use picday_core::pipeline::Processed;
use picday_core::{Error, Person, Photo};

/// Thumbnail side, in pixels (the longer side).
pub const SIZE: u32 = 96;

/// The file name of a photo's thumbnail inside the report folder.
pub fn file_of(photo_hash: &str) -> String {
    format!("photos/{}.jpg", &photo_hash[..photo_hash.len().min(16)])
}

/// A photo to make a thumbnail of: its hash and its bytes.
type Job = (String, Arc<[u8]>);

/// Makes thumbnails of every rendered photo on a background thread.
#[derive(Debug)]
pub struct Thumbs {
    tx: Mutex<Option<Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Thumbs {
    /// Starts the worker writing into `report_dir/photos`.
    pub fn start(report_dir: &Path) -> Arc<Thumbs> {
        let (tx, rx) = channel::<Job>();
        let dir = report_dir.to_path_buf();
        let worker = std::thread::spawn(move || {
            let mut made = std::collections::HashSet::new();
            for (hash, bytes) in rx {
                if made.insert(hash.clone())
                    && let Err(e) = write_thumb(&dir.join(file_of(&hash)), &bytes)
                {
                    tracing::debug!("thumbnail {hash}: {e}");
                }
            }
        });
        Arc::new(Thumbs {
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queues a thumbnail of one photo.
    pub fn add(&self, hash: String, bytes: Arc<[u8]>) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send((hash, bytes));
        }
    }

    /// Waits for the thumbnails queued so far.
    pub fn finish(&self) {
        drop(self.tx.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(w) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = w.join();
        }
    }
}

fn write_thumb(path: &PathBuf, bytes: &[u8]) -> anyhow::Result<()> {
    let img = image::load_from_memory(bytes)?;
    let thumb = img.thumbnail(SIZE, SIZE).to_rgb8();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&thumb)?;
    std::fs::write(path, out)?;
    Ok(())
}

impl Observer for Thumbs {
    fn photo_done(&self, _person: &Person, result: Result<&Processed, &Error>) {
        let Ok(processed) = result else { return };
        for photo in processed.photos.values() {
            self.add(photo.hash(), photo.bytes.clone());
        }
    }
    fn photo_loaded(&self, photo: &Photo) {
        self.add(photo.hash(), photo.bytes.clone());
    }
}

/// Several observers as one.
pub struct Tee(pub Vec<Arc<dyn Observer>>);

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tee({})", self.0.len())
    }
}

impl Observer for Tee {
    fn photo_done(&self, person: &Person, result: Result<&Processed, &Error>) {
        for o in &self.0 {
            o.photo_done(person, result);
        }
    }
    fn outcome(&self, outcome: &Outcome) {
        for o in &self.0 {
            o.outcome(outcome);
        }
    }
    fn photo_unchanged(&self, person: &Person) {
        for o in &self.0 {
            o.photo_unchanged(person);
        }
    }
    fn photo_loaded(&self, photo: &Photo) {
        for o in &self.0 {
            o.photo_loaded(photo);
        }
    }
}
