//! Reading the tables schools and photographers hand picday (CSV mappings, rosters, PSPA
//! indexes): one way to decode their text, guess their delimiter, read their header row and
//! count their lines, so that every source is as forgiving as the others and reports the same
//! line numbers an editor shows.

use std::path::Path;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use crate::error::{Error, Result};

/// Decodes a text file: UTF-8 (BOM stripped), UTF-16 with a BOM, else Windows-1252 (with a
/// note saying so).
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
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            notes.push(
                "the file is not UTF-8; read it as Windows-1252 (save it as \"CSV UTF-8\" to be sure)"
                    .to_string(),
            );
            WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
                .into_owned()
        }
    }
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
        .collect();
    Ok((reader, headers))
}

/// The records of `reader` (reading `text`) that are not blank, each with its 1-based line. An
/// unreadable record comes with the line csv stopped at (0 when it cannot tell).
pub(crate) fn records<'r>(
    reader: &'r mut csv::Reader<&[u8]>,
    text: &'r str,
) -> impl Iterator<Item = (u64, csv::Result<csv::StringRecord>)> + 'r {
    reader.records().filter_map(move |record| {
        let position = match &record {
            Ok(r) => r.position(),
            Err(e) => e.position(),
        };
        // csv's own line count is off by one on CRLF files; count from the byte offset.
        let line = position.map_or(0, |p| line_at(text, p.byte()));
        match record {
            Ok(r) if r.iter().all(|f| f.trim().is_empty()) => None,
            other => Some((line, other)),
        }
    })
}

/// The line of a record that starts at `byte`. On CRLF files csv reports the position of the
/// `\n` that ends the previous line, hence the `+ 1` that counts it.
fn line_at(text: &str, byte: u64) -> u64 {
    let end = usize::try_from(byte)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
        .min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
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
}
