//! Reading the tables schools and photographers hand picday (CSV mappings, rosters, PSPA
//! indexes): one way to decode their text, guess their delimiter, read their header row and
//! count their lines, so that every source is as forgiving as the others and reports the same
//! line numbers an editor shows.

use std::path::Path;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use crate::error::{Error, Result};

/// Decodes a text file: UTF-8 (BOM stripped) or UTF-16 with a BOM; a file that is not valid
/// UTF-8 throughout is decoded line by line, each line as UTF-8 where it is valid and as
/// Windows-1252 where it is not, with a note naming those lines. One stray byte (a name pasted
/// from an old export) so spoils only its own line, never every accented name in the file.
pub(crate) fn decode_text(bytes: &[u8], notes: &mut Vec<String>) -> String {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let rest = &bytes[bom..];
        // UTF-16 is read in whole units: a lone last byte is not a character.
        let rest = if encoding == UTF_8 {
            rest
        } else {
            &rest[..rest.len() & !1]
        };
        return encoding.decode_without_bom_handling(rest).0.into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let mut text = String::with_capacity(bytes.len() + bytes.len() / 8);
    let mut legacy = Vec::new();
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(line) {
            Ok(s) => text.push_str(s),
            Err(_) => {
                legacy.push(i + 1);
                text.push_str(&WINDOWS_1252.decode_without_bom_handling(line).0);
            }
        }
    }
    const SHOWN: usize = 10;
    let mut shown: Vec<String> = legacy.iter().take(SHOWN).map(usize::to_string).collect();
    if legacy.len() > SHOWN {
        shown.push(format!("and {} more", legacy.len() - SHOWN));
    }
    notes.push(format!(
        "line{} {} {} not UTF-8; read as Windows-1252 (check the names there, and save the file \
         as \"CSV UTF-8\" to be sure)",
        if legacy.len() == 1 { "" } else { "s" },
        shown.join(", "),
        if legacy.len() == 1 { "is" } else { "are" },
    ));
    text
}

/// Picks the delimiter that splits the header line into the most fields.
pub(crate) fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t'] {
        let mut in_quotes = false;
        let mut count = 0;
        for c in header.bytes() {
            match c {
                b'"' => in_quotes = !in_quotes,
                c if c == d && !in_quotes => count += 1,
                _ => {}
            }
        }
        if count > best.1 {
            best = (d, count);
        }
    }
    best.0
}

/// A CSV reader over `text` (a file at `path`, for messages) with its delimiter detected, rows
/// of any length and fields trimmed, and the header row's names, trimmed and lower-cased: how
/// picday reads every table a school hands it (mappings and rosters).
pub(crate) fn csv_with_header<'a>(
    path: &Path,
    text: &'a str,
) -> Result<(csv::Reader<&'a [u8]>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(text))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            Error::input(format!(
                "{}: cannot read the header row: {e}",
                path.display()
            ))
        })?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect::<Vec<String>>();
    // Two columns of one name would leave picday to pick one of them silently.
    for (i, name) in headers.iter().enumerate() {
        if let Some(j) = headers[i + 1..]
            .iter()
            .position(|h| h == name)
            .map(|j| i + 1 + j)
            && !name.is_empty()
        {
            return Err(Error::input(format!(
                "{}: the header row names `{name}` twice (columns {} and {}); rename or remove one",
                path.display(),
                i + 1,
                j + 1
            )));
        }
    }
    Ok((reader, headers))
}

/// The records of `reader` (reading `text`) that are not blank, each with its 1-based line. An
/// unreadable record comes with the line csv stopped at (0 when it cannot tell).
pub(crate) fn records<'r>(
    reader: &'r mut csv::Reader<&[u8]>,
    text: &'r str,
) -> impl Iterator<Item = (u64, csv::Result<csv::StringRecord>)> + 'r {
    let mut lines = LineCounter::new(text);
    reader.records().filter_map(move |record| {
        let position = match &record {
            Ok(r) => r.position(),
            Err(e) => e.position(),
        };
        let line = position.map_or(0, |p| lines.line_at(p.byte()));
        match record {
            Ok(r) if r.iter().all(|f| f.trim().is_empty()) => None,
            other => Some((line, other)),
        }
    })
}

/// Line numbers of byte offsets in one text, asked in increasing order (as a reader meets its
/// records): each call counts only the newlines since the previous one, so numbering a whole
/// file costs one pass over it, not one pass per record.
struct LineCounter<'t> {
    text: &'t [u8],
    /// Bytes before this offset have been counted...
    counted_to: usize,
    /// ...and held this many newlines.
    newlines: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text: text.as_bytes(),
            counted_to: 0,
            newlines: 0,
        }
    }

    /// The line of a record that starts at `byte`. On CRLF files csv reports the position of
    /// the `\n` that ends the previous line, hence the `+ 1` that counts it. An offset before
    /// the last one asked (never seen from csv) is counted from the start again.
    fn line_at(&mut self, byte: u64) -> u64 {
        let end = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(self.text.len());
        if end < self.counted_to {
            self.counted_to = 0;
            self.newlines = 0;
        }
        self.newlines += self.text[self.counted_to..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.counted_to = end;
        self.newlines + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_windows_1252_byte_decodes_as_before() {
        // The C1 bytes Windows-1252 leaves undefined stay C1 controls; the rest of 0x80-0x9F
        // are its punctuation and letters; everything else is Latin-1.
        const HIGH: [char; 32] = [
            '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
            '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ',
            '\u{9D}', 'ž', 'Ÿ',
        ];
        let bytes: Vec<u8> = (0..=255).collect();
        let mut notes = Vec::new();
        let text = decode_text(&bytes, &mut notes);
        let expected: String = bytes
            .iter()
            .map(|&b| match b {
                0x80..=0x9F => HIGH[usize::from(b - 0x80)],
                _ => char::from(b),
            })
            .collect();
        assert_eq!(text, expected);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn one_windows_1252_byte_spoils_only_its_own_line() {
        let bytes = "path,name\nz\u{e9}lie.jpg,Z\u{e9}lie\nb.jpg,Bj\u{f6}rn\n"
            .replace("Bj\u{f6}rn", "BJORN")
            .into_bytes();
        // The third line written by an old export: `ö` as the single byte 0xF6.
        let mut bytes = bytes;
        let at = bytes
            .windows(5)
            .position(|w| w == b"BJORN")
            .expect("placeholder");
        bytes.splice(at..at + 5, b"Bj\xF6rn".iter().copied());
        let mut notes = Vec::new();
        let text = decode_text(&bytes, &mut notes);
        assert_eq!(
            text,
            "path,name\nz\u{e9}lie.jpg,Z\u{e9}lie\nb.jpg,Bj\u{f6}rn\n"
        );
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("line 3 is not UTF-8"), "{}", notes[0]);
    }

    #[test]
    fn utf16_with_a_lone_last_byte_drops_it() {
        let mut bytes = b"\xFE\xFF".to_vec();
        bytes.extend("ab".encode_utf16().flat_map(u16::to_be_bytes));
        bytes.push(0);
        assert_eq!(decode_text(&bytes, &mut Vec::new()), "ab");
        let mut bytes = b"\xFF\xFE".to_vec();
        bytes.extend("ab".encode_utf16().flat_map(u16::to_le_bytes));
        bytes.push(b'c');
        assert_eq!(decode_text(&bytes, &mut Vec::new()), "ab");
    }

    #[test]
    fn a_header_that_names_a_column_twice_is_refused_naming_both() {
        let text = "path,mail,Mail\na.jpg,x@y,z@y\n";
        let error = csv_with_header(Path::new("photos.csv"), text).expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains("`mail` twice (columns 2 and 3)"),
            "{message}"
        );
        // Blank header cells (trailing commas from Excel) are not names.
        assert!(csv_with_header(Path::new("photos.csv"), "path,mail,,\n").is_ok());
    }

    #[test]
    fn line_numbers_are_the_editors_in_any_order_asked() {
        let text = "a\nb\r\nc\n\nd";
        let mut lines = LineCounter::new(text);
        assert_eq!(lines.line_at(0), 1);
        assert_eq!(lines.line_at(2), 2);
        assert_eq!(lines.line_at(5), 3);
        assert_eq!(lines.line_at(8), 5);
        // Asked again from an earlier offset: still right.
        assert_eq!(lines.line_at(2), 2);
        assert_eq!(lines.line_at(u64::MAX), 5);
    }
}
