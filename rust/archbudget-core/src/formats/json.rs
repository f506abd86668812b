//! JSON text as Python's `json` reads it, since Keras and transformers write and read
//! their files with it: UTF-8 with or without a byte-order mark, UTF-16 and UTF-32 (found
//! as `json.detect_encoding` finds them), and the non-standard `NaN`, `Infinity` and
//! `-Infinity` that `json.dumps` writes for non-finite floats. Those become the strings
//! "NaN", "Infinity" and "-Infinity": a key whose value must be a number then reports
//! it as a value of the wrong type, naming the key.
use std::borrow::Cow;

use serde_json::Value;

use crate::error::{Error, Result};

pub fn parse(bytes: &[u8], location: &str) -> Result<Value> {
    let text = decode(bytes).map_err(|m| Error::parse(location, format!("malformed JSON: {m}")))?;
    serde_json::from_slice(&text).or_else(|strict| {
        let quoted = quote_non_finite(&text)
            .ok_or_else(|| Error::parse(location, format!("malformed JSON: {strict}")))?;
        serde_json::from_slice(&quoted)
            .map_err(|e| Error::parse(location, format!("malformed JSON: {e}")))
    })
}

#[derive(Clone, Copy)]
enum Encoding {
    Utf8,
    Utf16 { big_endian: bool },
    Utf32 { big_endian: bool },
}

/// Python's `json.detect_encoding`: a byte-order mark, else the pattern of zero bytes
/// that ASCII text leaves in its first four bytes. Returns the encoding and the length
/// of the mark.
fn detect(b: &[u8]) -> (Encoding, usize) {
    use Encoding::*;
    if b.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return (Utf32 { big_endian: true }, 4);
    }
    if b.starts_with(&[0xFF, 0xFE, 0, 0]) {
        return (Utf32 { big_endian: false }, 4);
    }
    if b.starts_with(&[0xFE, 0xFF]) {
        return (Utf16 { big_endian: true }, 2);
    }
    if b.starts_with(&[0xFF, 0xFE]) {
        return (Utf16 { big_endian: false }, 2);
    }
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return (Utf8, 3);
    }
    let encoding = match b {
        [0, 0, _, _, ..] => Utf32 { big_endian: true },
        [0, _, _, _, ..] => Utf16 { big_endian: true },
        [_, 0, 0, 0, ..] => Utf32 { big_endian: false },
        [_, 0, _, _, ..] => Utf16 { big_endian: false },
        [0, _] => Utf16 { big_endian: true },
        [_, 0] => Utf16 { big_endian: false },
        _ => Utf8,
    };
    (encoding, 0)
}

/// The text as UTF-8 bytes.
fn decode(bytes: &[u8]) -> std::result::Result<Cow<'_, [u8]>, String> {
    let (encoding, mark) = detect(bytes);
    let body = &bytes[mark..];
    let units = |width: usize, big_endian: bool| {
        if body.len() % width != 0 {
            return Err(format!(
                "{} bytes of UTF-{} text is not a whole number of characters",
                body.len(),
                width * 8
            ));
        }
        Ok(body.chunks_exact(width).map(move |c| {
            let mut v = 0u32;
            for i in 0..width {
                let byte = if big_endian { c[i] } else { c[width - 1 - i] };
                v = (v << 8) | u32::from(byte);
            }
            v
        }))
    };
    let text: String = match encoding {
        Encoding::Utf8 => return Ok(Cow::Borrowed(body)),
        Encoding::Utf16 { big_endian } => {
            char::decode_utf16(units(2, big_endian)?.map(|u| u as u16))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| "not valid UTF-16 text".to_string())?
        }
        Encoding::Utf32 { big_endian } => units(4, big_endian)?
            .map(char::from_u32)
            .collect::<Option<_>>()
            .ok_or("not valid UTF-32 text")?,
    };
    Ok(Cow::Owned(text.into_bytes()))
}

/// `NaN`, `Infinity` and `-Infinity` outside strings turned into strings; None when the
/// text has none (the strict error then stands).
fn quote_non_finite(text: &[u8]) -> Option<Vec<u8>> {
    const WORDS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];
    let mut out = Vec::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped, mut found) = (false, false, false);
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if let Some(word) = WORDS.iter().find(|w| text[i..].starts_with(w)) {
            out.push(b'"');
            out.extend_from_slice(word);
            out.push(b'"');
            i += word.len();
            found = true;
            continue;
        }
        out.push(c);
        i += 1;
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_python_reads() {
        let doc = r#"{"model_type": "gpt2", "n": 2}"#;
        let utf16le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let utf32le: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        let bom8 = [&[0xEF, 0xBB, 0xBF][..], doc.as_bytes()].concat();
        let bom16 = [&[0xFF, 0xFE][..], &utf16le].concat();
        for bytes in [bom8, bom16, utf16le, utf16be, utf32le] {
            assert_eq!(parse(&bytes, "c.json").unwrap()["n"], 2);
        }
    }

    #[test]
    fn non_finite_numbers_become_strings_outside_strings_only() {
        let v = parse(
            br#"{"a": NaN, "b": [-Infinity, Infinity], "c": "NaN \" Infinity"}"#,
            "c.json",
        )
        .unwrap();
        assert_eq!(v["a"], "NaN");
        assert_eq!(v["b"][0], "-Infinity");
        assert_eq!(v["c"], "NaN \" Infinity");
        let e = parse(b"{\"a\": nan}", "c.json").unwrap_err().to_string();
        assert!(e.contains("c.json: malformed JSON"), "{e}");
    }
}
