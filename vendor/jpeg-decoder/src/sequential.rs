//! Sequential (baseline) scans, read in one piece and decoded from memory (picday patch).
//!
//! Why a module of its own: nearly every camera JPEG is one baseline scan, and its Huffman
//! decoding is most of the time of a shrink-on-load decode. Upstream decodes straight from the
//! reader, a byte at a time, checking every byte for 0xFF (byte stuffing or a marker). Here the
//! scan's entropy-coded data is first copied out with the stuffing removed ([`ScanData::read`],
//! which finds the 0xFF bytes with `memchr`), each restart interval followed by zero bytes, so
//! the bit reader ([`BitReader`]) refills eight bytes at a time without a branch per byte (and
//! every four codes, without a branch on how many bits are left), and one table lookup
//! ([`HuffmanTable::fast`]) gives a code together with its value, its run of zeros, or the end
//! of the block. At a reduced DCT scale most coefficients are read by no IDCT: past the last
//! one it reads, one lookup ([`HuffmanTable::skip`]) consumes as many whole codes as its 12
//! bits hold, since all that matters there is where the block ends.
//!
//! Behaviour is upstream's (the same pixels and errors on every file tried, intact, truncated
//! or bit-flipped): after a marker the data reads as zero bits; a scan whose data runs to the
//! end of the file without a marker is an I/O error. One difference, on damaged files only: at
//! a restart point, whatever is left before the RST marker is skipped, as libjpeg does, where
//! upstream gave up when that was more than its eight bytes of look-ahead.
//!
//! The copy costs memory: one more buffer of the scan's compressed size (4-5 MB for a 24 MP
//! photo), kept by the decoder for its later scans.

use std::io::BufRead;

use crate::decoder::UNZIGZAG;
use crate::error::{Error, Result};
use crate::huffman::{decode_long_code, extend, read_after_ff, HuffmanTable, LUT_BITS};
use crate::marker::Marker;

/// Zero bytes after each restart interval's data: the bit reader loads eight bytes at a time.
const PADDING: usize = 8;

/// AC codes decoded between two refills of the bit buffer (at most 4, see
/// [`BitReader::decode_block`]).
const GROUP: usize = 4;

/// Bits of a [`SkipEntry`] lookup.
pub(crate) const SKIP_BITS: u8 = 12;
const _: () = assert!(SKIP_BITS >= LUT_BITS);

/// Skip lookups between two refills: a refill leaves at least 56 bits, enough for three of
/// at most [`SKIP_BITS`] bits each and the next block's DC difference.
const SKIP_GROUP: usize = 3;

/// The entropy-coded data of one scan, stuffing removed, split at its RST markers.
#[derive(Default)]
pub(crate) struct ScanData {
    /// Each interval's bytes followed by [`PADDING`] zero bytes.
    pub(crate) data: Vec<u8>,
    /// Start and end (exclusive, before the padding) of each interval in `data`.
    intervals: Vec<(usize, usize)>,
    /// The RST numbers that ended all intervals but the last.
    restarts: Vec<u8>,
    /// The marker that ended the scan.
    pub(crate) marker: Option<Marker>,
}

impl ScanData {
    /// Reads entropy-coded data up to and including the first marker that is not an RST marker,
    /// reusing this value's buffers.
    pub(crate) fn read<R: BufRead>(&mut self, reader: &mut R) -> Result<()> {
        self.data.clear();
        self.intervals.clear();
        self.restarts.clear();
        self.marker = None;
        let mut start = 0;
        loop {
            let (used, ff) = {
                let buf = reader.fill_buf()?;
                if buf.is_empty() {
                    // What upstream's byte-by-byte `read_exact` says there.
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "failed to fill whole buffer",
                    )));
                }
                match memchr::memchr(0xFF, buf) {
                    Some(i) => {
                        self.data.extend_from_slice(&buf[..i]);
                        (i + 1, true)
                    }
                    None => {
                        self.data.extend_from_slice(buf);
                        (buf.len(), false)
                    }
                }
            };
            reader.consume(used);
            if !ff {
                continue;
            }
            match read_after_ff(reader)? {
                None => self.data.push(0xFF),
                Some(marker) => {
                    self.intervals.push((start, self.data.len()));
                    self.data.resize(self.data.len() + PADDING, 0);
                    start = self.data.len();
                    match marker {
                        Marker::RST(n) => self.restarts.push(n),
                        marker => {
                            self.marker = Some(marker);
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// How many restart intervals the scan's data holds.
    #[cfg(fuzzing)]
    pub(crate) fn interval_count(&self) -> usize {
        self.intervals.len()
    }

    /// The RST number that ended interval `index`, `None` for the last interval (ended by
    /// [`ScanData::marker`]).
    pub(crate) fn restart_after(&self, index: usize) -> Option<u8> {
        self.restarts.get(index).copied()
    }

    /// A bit reader at the start of interval `index`; past the last one (or before any data
    /// was read), a reader of zeros.
    pub(crate) fn reader(&self, index: usize) -> BitReader<'_> {
        const ZEROS: [u8; PADDING] = [0; PADDING];
        let (data, end) = match self.intervals.get(index) {
            Some(&(start, end)) => (&self.data[start..end + PADDING], end - start),
            None => (&ZEROS[..], 0),
        };
        let mut reader = BitReader {
            data,
            end,
            pos: 0,
            bits: 0,
            count: 0,
            next: load(data, 0),
            #[cfg(fuzzing)]
            consumed: 0,
        };
        reader.refill();
        reader
    }
}

/// The eight bytes of `data` at `pos`, most significant first.
#[inline(always)]
fn load(data: &[u8], pos: usize) -> u64 {
    u64::from_be_bytes(data[pos..pos + 8].try_into().unwrap())
}

/// Reads the bits of one restart interval, most significant first. Past the end of the data
/// it reads zeros, as upstream does after a marker.
#[derive(Clone, Copy)]
pub(crate) struct BitReader<'a> {
    /// The interval's bytes and the zero padding after them.
    data: &'a [u8],
    /// Length of the interval's bytes.
    end: usize,
    /// Next byte to load.
    pos: usize,
    /// Buffered bits, left-aligned; the bits below the `count` valid ones are the next bits of
    /// the data or zero.
    bits: u64,
    count: u32,
    /// The eight bytes at `pos`, loaded one refill ahead (see [`BitReader::refill`]).
    next: u64,
    /// Bits taken so far (fuzzing builds only: `crate::departures`).
    #[cfg(fuzzing)]
    consumed: usize,
}

impl BitReader<'_> {
    /// Whether more bytes of the interval are left unread than upstream's reader has read
    /// ahead when it looks for the RST marker (it holds 57 to 64 bits then): upstream fails
    /// there ("no marker found where RSTn was expected"), this copy skips them.
    #[cfg(fuzzing)]
    pub(crate) fn bytes_left_past_lookahead(&self) -> bool {
        self.end.saturating_sub(self.consumed / 8) > 6
    }

    /// Tops the buffer up to at least 56 bits, without a branch. The eight bytes it adds from
    /// were loaded by the refill before, whose position is known as soon as that refill is
    /// done: so the load is off the chain from one code to the next, and only a shift and an
    /// or are on it.
    #[inline(always)]
    fn refill(&mut self) {
        self.bits |= self.next >> self.count;
        // Whole bytes that fitted; past the end, stay on the padding (zeros).
        self.pos = (self.pos + ((63 - self.count) >> 3) as usize).min(self.end);
        self.count |= 56;
        self.next = load(self.data, self.pos);
    }

    /// Makes sure of at least 32 bits, enough for any code and its value (16 + 15 bits), for
    /// the slow paths.
    #[inline(always)]
    fn top_up(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    #[inline(always)]
    fn peek(&self, count: u8) -> usize {
        debug_assert!(self.count >= u32::from(count), "a lookup past the buffered bits");
        (self.bits >> (64 - u32::from(count))) as usize
    }

    #[inline(always)]
    fn consume(&mut self, count: u32) {
        #[cfg(fuzzing)]
        {
            self.consumed += count as usize;
        }
        self.bits <<= count;
        self.count -= count;
    }

    /// The next 32 bits, for the slow paths (which never need more).
    #[inline(always)]
    fn peek32(&self) -> u32 {
        (self.bits >> 32) as u32
    }

    /// A code not in the fast table, decoded by `decode` from the next 32 bits, with the
    /// end-of-band run it starts: tops up before, consumes the code and its value, and refills
    /// after, so that the fast path's count of codes between refills still holds. The entry
    /// comes back with `bits` 0 (already consumed).
    #[inline(always)]
    fn slow(
        &mut self,
        decode: impl FnOnce(u32) -> Result<(FastEntry, u16)>,
    ) -> Result<(FastEntry, u16)> {
        self.top_up();
        let (entry, eob_run) = decode(self.peek32())?;
        self.consume(u32::from(entry.bits));
        self.refill();
        Ok((FastEntry { bits: 0, ..entry }, eob_run))
    }

    /// The next AC code with its value, consumed: a coefficient, a run of 16 zeros (value 0)
    /// or the end of the block (a run past the last coefficient). Needs [`LUT_BITS`] buffered
    /// bits; the slow ways top up and refill themselves.
    #[inline(always)]
    fn ac_code(&mut self, table: &HuffmanTable, eob_run: &mut u16) -> Result<FastEntry> {
        let mut entry = table.fast[self.peek(LUT_BITS)];
        if entry.bits == 0 {
            let (symbol, size) = table.lut[self.peek(LUT_BITS)];
            if size > 0 && symbol & 0x0f > 0 {
                // The code is in the table, its value does not fit (a large coefficient,
                // common in detailed photos): read it here, as `ac_slow` would, without the
                // call.
                self.top_up();
                entry = coefficient(self.peek32(), symbol, size);
                self.consume(u32::from(entry.bits));
                self.refill();
                entry.bits = 0;
            } else {
                let (slow, run) = self.slow(|bits| ac_slow(bits, table))?;
                entry = slow;
                *eob_run = run;
            }
        }
        self.consume(u32::from(entry.bits));
        Ok(entry)
    }

    /// Decodes one block of a sequential scan (Section F.2.2.1, Figure F.12; Section
    /// F.1.2.2.1). The coefficient `k` in zigzag order is stored at `order[k]`
    /// ([`UNZIGZAG`], or a [`store_order`]); those of `coefficients` it may store must be zero,
    /// but for [`SPARE`] in a store order. Coefficients after the `last` (in zigzag order,
    /// [`last_needed`]) are not stored: they are only decoded to find the end of the block,
    /// several codes a lookup ([`SkipEntry`]; at 1/4 scale, 59 of the 63 AC coefficients).
    ///
    /// The reader is worked on in a local copy, kept in registers (the slow paths take the
    /// buffered bits by value). A code in the fast table takes at most [`LUT_BITS`] bits with
    /// its value, so the buffer is refilled, without a branch, every [`GROUP`] AC codes: a
    /// refill leaves at least 56 bits, enough for them and the next block's DC difference
    /// (`GROUP` + 1 codes of at most 10 bits, and 10 to look up the next). A slow code (at
    /// most 16 + 15 bits) tops up before and refills after ([`BitReader::slow`]). No branch
    /// decides when to refill: how many bits are left is data, which a branch predictor
    /// cannot guess. Skipping, the buffer is refilled every [`SKIP_GROUP`] lookups.
    #[inline(always)]
    pub(crate) fn decode_block(
        &mut self,
        coefficients: &mut [i16; 64],
        dc_table: &HuffmanTable,
        ac_table: &HuffmanTable,
        eob_run: &mut u16,
        dc_predictor: &mut i16,
        order: &[u8; 64],
        last: usize,
    ) -> Result<()> {
        let mut r = *self;
        let mut entry = dc_table.fast[r.peek(LUT_BITS)];
        if entry.bits == 0 {
            entry = r.slow(|bits| Ok((dc_slow(bits, dc_table)?, 0)))?.0;
        }
        r.consume(u32::from(entry.bits));
        // Malicious JPEG files can cause this add to overflow, therefore we use wrapping_add.
        *dc_predictor = dc_predictor.wrapping_add(entry.value);
        coefficients[0] = *dc_predictor;

        // A malformed sequential scan may code an end-of-band run (progressive only): it skips
        // the AC coefficients of the next blocks, as upstream's `decode_block` does.
        if *eob_run > 0 {
            *eob_run -= 1;
            r.refill();
            *self = r;
            return Ok(());
        }

        // The coefficients the IDCT reads, stored; at full scale (`last` 63) all of them.
        let mut index = 1usize;
        'needed: while index <= last {
            r.refill();
            for _ in 0..GROUP {
                let entry = r.ac_code(ac_table, eob_run)?;
                index += usize::from(entry.run);
                if index >= 64 {
                    #[cfg(fuzzing)]
                    if entry.value != 0 {
                        crate::departures::run_past_block();
                    }
                    break 'needed;
                }
                coefficients[usize::from(order[index])] = entry.value;
                index += 1;
                if index > last {
                    break 'needed;
                }
            }
        }
        // The others, which a reduced-scale IDCT does not read: only where the block ends
        // matters, so several codes are consumed in one lookup ([`SkipEntry`]).
        while index < 64 {
            r.refill();
            for _ in 0..SKIP_GROUP {
                let skip = ac_table.skip[r.peek(SKIP_BITS)];
                let next = index + usize::from(skip.advance);
                if skip.bits != 0 && next < 64 {
                    r.consume(u32::from(skip.bits));
                    index = next | usize::from(skip.end);
                } else {
                    // A code the table does not combine, or codes that would run past the
                    // end of the block (where one code at a time says how far it goes).
                    let entry = r.ac_code(ac_table, eob_run)?;
                    #[cfg(fuzzing)]
                    if entry.value != 0 && index + usize::from(entry.run) >= 64 {
                        crate::departures::run_past_block();
                    }
                    index += usize::from(entry.run) + 1;
                }
                if index >= 64 {
                    break;
                }
            }
        }
        *self = r;
        Ok(())
    }
}

/// Where a block decoded for an IDCT at `dct_scale`/8 stores each coefficient, by zigzag
/// index: in natural order (as [`UNZIGZAG`]) those the IDCT reads, the top-left
/// `dct_scale`x`dct_scale`, and all the others in [`SPARE`], which it does not read. So after
/// the IDCT only what it read needs zeroing for the next block. At full scale, [`UNZIGZAG`].
pub(crate) fn store_order(dct_scale: usize) -> [u8; 64] {
    UNZIGZAG.map(|natural| {
        let (row, column) = (usize::from(natural / 8), usize::from(natural % 8));
        if row < dct_scale && column < dct_scale {
            natural
        } else {
            SPARE
        }
    })
}

/// The last coefficient, in zigzag order, that an IDCT at `dct_scale`/8 reads: those after it
/// are decoded only to find the end of the block. 63 at full scale.
pub(crate) fn last_needed(dct_scale: usize) -> usize {
    (0..64)
        .filter(|&k| {
            let natural = usize::from(UNZIGZAG[k]);
            natural / 8 < dct_scale && natural % 8 < dct_scale
        })
        .max()
        .unwrap_or(0)
}

/// Row 0, column 7 of a block: read by no IDCT but the full-scale one, which gets no spare.
pub(crate) const SPARE: u8 = 7;

/// A Huffman code at the top of `bits` (Section F.2.2.3): its symbol and length.
#[inline(always)]
fn code(bits: u32, table: &HuffmanTable) -> Result<(u8, u8)> {
    match table.lut[(bits >> (32 - u32::from(LUT_BITS))) as usize] {
        (symbol, size) if size > 0 => Ok((symbol, size)),
        _ => decode_long_code((bits >> 16) as u16, table),
    }
}

/// `count` (1 to 15) bits of `bits` after its first `skip`.
#[inline(always)]
fn raw(bits: u32, skip: u8, count: u8) -> u16 {
    ((bits << skip) >> (32 - u32::from(count))) as u16
}

/// The same bits as a coefficient or difference (Section F.2.2.1).
#[inline(always)]
fn value(bits: u32, skip: u8, count: u8) -> i16 {
    extend(raw(bits, skip, count), count)
}

/// A DC difference whose code and value are not both in the lookup table, from the next 32
/// bits of the scan.
#[cold]
#[inline(never)]
fn dc_slow(bits: u32, table: &HuffmanTable) -> Result<FastEntry> {
    match code(bits, table)? {
        (0, size) => Ok(FastEntry { value: 0, run: 0, bits: size }),
        // Section F.1.2.1.1, Table F.1
        (magnitude @ 1..=11, size) => Ok(FastEntry {
            value: value(bits, size, magnitude),
            run: 0,
            bits: size + magnitude,
        }),
        _ => Err(Error::Format(
            "invalid DC difference magnitude category".to_owned(),
        )),
    }
}

/// An AC code that is not in the lookup table with its value (a long code, a large value, an
/// end-of-band run), from the next 32 bits of the scan, as a table entry and the end-of-band
/// run it starts (0 but for a run of several blocks).
#[cold]
#[inline(never)]
fn ac_slow(bits: u32, table: &HuffmanTable) -> Result<(FastEntry, u16)> {
    let (symbol, size) = code(bits, table)?;
    let r = symbol >> 4;
    let s = symbol & 0x0f;
    Ok(match (r, s) {
        // Run length of 16 zero coefficients.
        (15, 0) => (FastEntry { value: 0, run: 15, bits: size }, 0),
        (0, 0) => (FastEntry { value: 0, run: 64, bits: size }, 0),
        // End of band: this block and the next `eob_run` ones end here.
        (r, 0) => {
            let eob_run = (1 << r) - 1 + raw(bits, size, r);
            (FastEntry { value: 0, run: 64, bits: size + r }, eob_run)
        }
        // The value's bits are read even when a (corrupt) run goes past the end of the block,
        // as libjpeg does.
        _ => (coefficient(bits, symbol, size), 0),
    })
}

/// The AC coefficient coded by `symbol` (a run of zeros and a magnitude of 1 to 15), whose code
/// of `size` bits starts `bits`, with the bits of its code and value.
#[inline(always)]
fn coefficient(bits: u32, symbol: u8, size: u8) -> FastEntry {
    let magnitude = symbol & 0x0f;
    FastEntry { value: value(bits, size, magnitude), run: symbol >> 4, bits: size + magnitude }
}

/// One entry of [`HuffmanTable::fast`]: what the next `LUT_BITS` bits of a scan decode to,
/// when the code and its value's bits all fit in them.
#[derive(Clone, Copy, Default)]
pub(crate) struct FastEntry {
    /// The coefficient (AC) or the DC difference.
    pub(crate) value: i16,
    /// AC: zeros before the coefficient (15 with value 0 for a run of 16 zeros, 64 for the end
    /// of the block).
    pub(crate) run: u8,
    /// Bits of the code and the value; 0 when they do not fit (decoded the slow way).
    pub(crate) bits: u8,
}

impl FastEntry {
    /// The entry for table index `i`, whose code is `symbol` of `size` bits (`size` 0: the
    /// code is longer than the table).
    pub(crate) fn new(i: usize, symbol: u8, size: u8, ac: bool) -> FastEntry {
        let (run, magnitude) = if ac { (symbol >> 4, symbol & 0x0f) } else { (0, symbol) };
        // A DC symbol is the whole byte: above 11 it is invalid (the slow path says so), and
        // it must not reach the sum below.
        if size == 0 || magnitude > 15 || size + magnitude > LUT_BITS {
            return FastEntry::default();
        }
        match (ac, run, magnitude) {
            // End of block.
            (true, 0, 0) => FastEntry { value: 0, run: 64, bits: size },
            // Sixteen zeros.
            (true, 15, 0) => FastEntry { value: 0, run: 15, bits: size },
            // End-of-band runs of several blocks: the slow way.
            (true, _, 0) => FastEntry::default(),
            (_, _, 0) => FastEntry { value: 0, run: 0, bits: size },
            _ => {
                let lut_mask = (1usize << LUT_BITS) - 1;
                let raw = (((i << size) & lut_mask) >> (LUT_BITS - magnitude)) as u16;
                FastEntry {
                    value: extend(raw, magnitude),
                    run,
                    bits: size + magnitude,
                }
            }
        }
    }
}

/// One entry of [`HuffmanTable::skip`]: the AC codes (with their values) that the next
/// [`SKIP_BITS`] bits of a scan hold whole, for coefficients that are decoded only to find
/// where the block ends.
#[derive(Clone, Copy, Default)]
pub(crate) struct SkipEntry {
    /// Bits of the codes and their values; 0 when not even the first fits, or it is not a
    /// coefficient, a run of 16 zeros or an end of block (decoded one at a time).
    pub(crate) bits: u8,
    /// How far the codes move through the block (a coefficient after a run of `r` zeros
    /// `r + 1`, a run of 16 zeros 16), not counting an end of block.
    pub(crate) advance: u8,
    /// 64 when the last code is the end of the block, else 0.
    pub(crate) end: u8,
}

impl SkipEntry {
    /// The skip table of an AC table, from its lookup table of codes (`HuffmanTable::lut`).
    pub(crate) fn table(lut: &[(u8, u8); 1 << LUT_BITS]) -> Box<[SkipEntry; 1 << SKIP_BITS]> {
        let mask = (1usize << SKIP_BITS) - 1;
        (0..1usize << SKIP_BITS)
            .map(|i| {
                let mut entry = SkipEntry::default();
                // Stop once past any block's end: such an entry is never taken.
                while entry.advance < 64 {
                    let left = SKIP_BITS - entry.bits;
                    // The bits after those taken, left-aligned; past the index they read as
                    // zeros, which is fine for a code that fits in what is left.
                    let rest = (i << entry.bits) & mask;
                    let (symbol, size) = lut[rest >> (SKIP_BITS - LUT_BITS)];
                    if size == 0 || size > left {
                        break;
                    }
                    match (symbol >> 4, symbol & 0x0f) {
                        (0, 0) => {
                            entry.bits += size;
                            entry.end = 64;
                            break;
                        }
                        (15, 0) => {
                            entry.bits += size;
                            entry.advance += 16;
                        }
                        // An end-of-band run of several blocks.
                        (_, 0) => break,
                        (run, magnitude) => {
                            if size + magnitude > left {
                                break;
                            }
                            entry.bits += size + magnitude;
                            entry.advance += run + 1;
                        }
                    }
                }
                entry
            })
            .collect::<Box<[SkipEntry]>>()
            .try_into()
            .unwrap_or_else(|_| unreachable!("one entry per index"))
    }
}
