//! What an upload is, decided from its first bytes (never from the name or header the client
//! sends, which cost nothing to fake), and the file name it is kept under.

/// Bytes read before deciding the content type: enough for the zip-based office formats,
/// whose telling entry may follow the first local file header.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 255;

/// The content type of a file that starts with `prefix`. `complete` says whether `prefix` is
/// the whole file (a multi-byte character may be cut at the end of a partial prefix).
pub fn content_type(prefix: &[u8], complete: bool) -> &'static str {
    if let Some(kind) = infer::get(prefix) {
        return kind.mime_type();
    }
    if is_text(prefix, complete) { "text/plain" } else { "application/octet-stream" }
}

/// UTF-8 without control characters other than tab, line breaks and form feed.
fn is_text(prefix: &[u8], complete: bool) -> bool {
    let body = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let valid = match std::str::from_utf8(body) {
        Ok(text) => text,
        // Only a character cut by the end of the prefix is forgiven.
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}'))
}

/// The name an upload is kept and offered under: the last component of what the client sent
/// (browsers may send a path), without control or bidirectional-override characters (which
/// can disguise `cv\u{202E}fdp.exe` as `cvexe.pdf`), at most 255 characters, `attachment` when
/// nothing is left.
pub fn file_name(raw: Option<&str>) -> String {
    let last = raw.unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .take(MAX_NAME_CHARS)
        .collect();
    match cleaned.trim() {
        "" | "." | ".." => "attachment".to_owned(),
        name => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes_not_the_name() {
        assert_eq!(content_type(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", true), "application/pdf");
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", true), "image/png");
        assert_eq!(content_type(b"<!DOCTYPE html><html><body>cv.pdf", true), "text/html");
        assert_eq!(content_type(b"  <script>alert(1)</script>", true), "text/html");
        let elf = [b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".as_slice(), &[0; 64]].concat();
        assert_eq!(content_type(&elf, true), "application/x-executable");
        assert_eq!(
            content_type(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff", true),
            "application/vnd.microsoft.portable-executable"
        );
        assert_eq!(content_type(b"\0\x01\x02\x03binary", true), "application/octet-stream");
    }

    #[test]
    fn utf8_text_is_plain_text_even_when_the_prefix_cuts_a_character() {
        assert_eq!(content_type("Dear Rita,\n\tthanks — Zoë 👍\r\n".as_bytes(), true), "text/plain");
        assert_eq!(content_type(b"\xEF\xBB\xBFwith a byte order mark", true), "text/plain");
        let cut = &"é".as_bytes()[..1];
        let prefix = [b"caf".as_slice(), cut].concat();
        assert_eq!(content_type(&prefix, false), "text/plain");
        assert_eq!(content_type(&prefix, true), "application/octet-stream", "a whole file must be valid");
        assert_eq!(content_type(b"latin-1 caf\xe9 au lait", true), "application/octet-stream");
        assert_eq!(content_type(b"bell\x07", true), "application/octet-stream");
    }

    #[test]
    fn file_names_lose_paths_controls_and_direction_overrides() {
        assert_eq!(file_name(Some("C:\\Users\\abe\\cv.pdf")), "cv.pdf");
        assert_eq!(file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(file_name(Some("cv\u{202E}fdp.exe")), "cvfdp.exe");
        assert_eq!(file_name(Some("a\r\nb\0.txt")), "ab.txt");
        assert_eq!(file_name(Some("Lebenslauf Zoë \"final\".pdf")), "Lebenslauf Zoë \"final\".pdf");
        assert_eq!(file_name(None), "attachment");
        assert_eq!(file_name(Some("dir/")), "attachment");
        assert_eq!(file_name(Some("..")), "attachment");
        assert_eq!(file_name(Some(&"x".repeat(300))).len(), 255);
    }
}
