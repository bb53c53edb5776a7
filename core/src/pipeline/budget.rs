//! How much memory decoding may take: per photo, and for all the photos a run decodes at once.
//!
//! Why: the pixel limit alone does not bound memory. A 389 KB PNG of 10000x10000 is under it
//! and took 1.07 GB to decode and flatten (16-bit: 1.45 GB), and every worker decoding one at
//! the same time multiplied that. Each photo's need is estimated from its header before a
//! pixel is decoded ([`decode_memory`]); a photo that alone needs more than one photo may use
//! is refused as an input error, and the others wait until the photos being decoded leave room.
//! The estimate counts the buffers the decoder and the first stages allocate (decoded pixels,
//! their RGB copy, the upright and colour-converted copies) and the file itself; the small
//! outputs are not counted.

use std::sync::{Condvar, Mutex};

use super::SourceInfo;
use crate::error::{Error, Result};

/// One mebibyte, the unit of the settings.
pub const MIB: u64 = 1 << 20;

/// What one photo may take by default: every 24 MP JPEG or PNG a camera writes fits many
/// times over; a 10000x10000 RGBA PNG does not.
pub const DEFAULT_PHOTO_MIB: u64 = 512;

/// What all the photos decoded at once may take by default.
pub const DEFAULT_RUN_MIB: u64 = 1024;

/// The memory the photos being decoded hold, and what each one and all of them may take.
#[derive(Debug)]
pub struct MemoryBudget {
    per_photo: u64,
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::new(DEFAULT_PHOTO_MIB * MIB, DEFAULT_RUN_MIB * MIB)
    }
}

impl MemoryBudget {
    /// A budget of `per_photo` bytes for one photo and `total` for all (at least one photo's).
    pub fn new(per_photo: u64, total: u64) -> Self {
        MemoryBudget {
            per_photo,
            total: total.max(per_photo),
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Bytes one photo may take.
    pub fn per_photo(&self) -> u64 {
        self.per_photo
    }

    /// Reserves `bytes` for one photo, waiting (on this worker thread) while the photos being
    /// decoded leave no room; an input error if one photo alone would need more than its share.
    /// A wait always ends: every reservation is released when its photo is done, and one photo
    /// always fits in the total.
    pub fn reserve(&self, bytes: u64) -> Result<Reservation<'_>> {
        if bytes > self.per_photo {
            return Err(Error::input(format!(
                "decoding this photo would take about {} MB of memory, more than the {} MB one \
                 photo may use ([photo] max_memory_mb)",
                bytes.div_ceil(MIB),
                self.per_photo / MIB
            ))
            .with_context(
                "advice",
                "ask for a JPEG export of normal size (a portrait needs no more than 24 \
                 megapixels), or raise [photo] max_memory_mb if the machine has the memory",
            ));
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + bytes > self.total {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Ok(Reservation {
            budget: self,
            bytes,
        })
    }

    /// Bytes reserved right now.
    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Memory held for one photo until it is dropped.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.bytes);
        self.budget.freed.notify_all();
    }
}

/// The memory decoding a photo takes, estimated from its header: the file, the decoded pixels
/// at the size the decoder produces (JPEGs shrink on load to the smallest DCT scale whose short
/// side is still at least `min_short`), and three 8-bit RGB copies (conversion to RGB, colour
/// management, turning upright).
pub fn decode_memory(info: &SourceInfo, min_short: u32, file_len: usize) -> u64 {
    let (w, h) = (u64::from(info.width), u64::from(info.height));
    let mut scale = 1;
    if info.format == image::ImageFormat::Jpeg {
        let short = w.min(h);
        while scale < 8 && short / (scale * 2) >= u64::from(min_short) {
            scale *= 2;
        }
    }
    let pixels = w.div_ceil(scale) * h.div_ceil(scale);
    file_len as u64 + pixels * (u64::from(info.bytes_per_pixel) + 3 * 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn info(format: image::ImageFormat, width: u32, height: u32, bpp: u8) -> SourceInfo {
        SourceInfo {
            format,
            width,
            height,
            bytes_per_pixel: bpp,
        }
    }

    #[test]
    fn a_bomb_png_is_over_one_photos_share_and_a_camera_jpeg_far_under() {
        use image::ImageFormat::{Jpeg, Png};
        let budget = MemoryBudget::default();
        let bomb = decode_memory(&info(Png, 10_000, 10_000, 4), 972, 389_000);
        let e = budget.reserve(bomb).expect_err("refused");
        assert!(e.to_string().contains("max_memory_mb"), "{e}");
        // A 24 MP camera JPEG for a 648 square decodes at 1/4 scale: tens of MB.
        let camera = decode_memory(&info(Jpeg, 6000, 4000, 3), 972, 8_000_000);
        assert!(camera < 40 * MIB, "{}", camera / MIB);
        // The same photo as a 16-bit PNG still fits one photo's share.
        let png = decode_memory(&info(Png, 6000, 4000, 6), 972, 60_000_000);
        assert!(png < DEFAULT_PHOTO_MIB * MIB, "{}", png / MIB);
    }

    #[test]
    fn photos_wait_for_room_and_one_always_fits() {
        let budget = Arc::new(MemoryBudget::new(60, 100));
        let first = budget.reserve(60).expect("fits");
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                let _second = budget.reserve(50).expect("fits once the first is done");
                budget.in_use()
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            budget.in_use(),
            60,
            "the second waits while the first holds 60 of 100"
        );
        drop(first);
        assert_eq!(waiter.join().expect("joined"), 50);
        assert_eq!(budget.in_use(), 0);
    }
}
