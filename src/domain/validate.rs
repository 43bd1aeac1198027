//! Field rules shared by several commands.

use super::{Invalid, Limits};

/// Message content: trimmed, then 1 to `max_content_chars` characters.
pub fn content(raw: &str, limits: &Limits) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new("content", "must not be empty"));
    }
    let chars = trimmed.chars().count();
    if chars > limits.max_content_chars {
        return Err(Invalid::new(
            "content",
            format!("must be at most {} characters, is {chars}", limits.max_content_chars),
        ));
    }
    if trimmed.chars().any(|c| c == '\0') {
        return Err(Invalid::new("content", "must not contain NUL characters"));
    }
    Ok(trimmed.to_owned())
}

/// An optional short text such as a title or display name: trimmed, empty means none.
pub fn short_text(field: &str, raw: Option<&str>, max_chars: usize) -> Result<Option<String>, Invalid> {
    let Some(raw) = raw else { return Ok(None) };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().count() > max_chars {
        return Err(Invalid::new(field, format!("must be at most {max_chars} characters")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(Some(trimmed.to_owned()))
}

/// A reaction: one emoji grapheme, or a short `:name:` code.
pub fn emoji(raw: &str) -> Result<String, Invalid> {
    let invalid =
        || Invalid::new("emoji", "must be a single emoji or a :name: of 1 to 32 letters, digits, _ + -");
    if let Some(name) = raw.strip_prefix(':').and_then(|rest| rest.strip_suffix(':')) {
        let ok = (1..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'));
        return if ok { Ok(raw.to_owned()) } else { Err(invalid()) };
    }
    if is_single_emoji(raw) { Ok(raw.to_owned()) } else { Err(invalid()) }
}

/// One extended grapheme cluster made of emoji code points and their joiners and modifiers.
/// Deliberately conservative: a reaction that is not an emoji is refused rather than stored.
fn is_single_emoji(text: &str) -> bool {
    if text.is_empty() || text.len() > 64 {
        return false;
    }
    let mut has_pictograph = false;
    let mut previous_was_joiner = true;
    let mut base_count = 0;
    let mut regional_indicators = 0;
    for c in text.chars() {
        let cp = c as u32;
        match cp {
            0x200D => {
                // Zero width joiner glues two pictographs into one grapheme.
                if previous_was_joiner {
                    return false;
                }
                previous_was_joiner = true;
                continue;
            }
            0xFE0E | 0xFE0F | 0x1F3FB..=0x1F3FF | 0x20E3 | 0xE0020..=0xE007F => {
                // Variation selectors, skin tones, keycap, tag characters modify the base.
                if base_count == 0 {
                    return false;
                }
                continue;
            }
            0x1F1E6..=0x1F1FF => {
                regional_indicators += 1;
                has_pictograph = true;
                if regional_indicators > 2 {
                    return false;
                }
                continue;
            }
            _ => {}
        }
        let pictograph = matches!(cp,
            0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x2194..=0x21AA
            | 0x231A..=0x23FF | 0x24C2 | 0x25AA..=0x27BF | 0x2934 | 0x2935 | 0x2B05..=0x2B55
            | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x1F000..=0x1FAFF);
        let keycap_base = matches!(c, '0'..='9' | '#' | '*');
        if !(pictograph || keycap_base) {
            return false;
        }
        if !previous_was_joiner {
            return false;
        }
        has_pictograph |= pictograph;
        previous_was_joiner = false;
        base_count += 1;
    }
    if regional_indicators > 0 {
        // A flag is exactly two regional indicators and nothing else.
        return regional_indicators == 2 && base_count == 0;
    }
    let keycap = text.contains('\u{20E3}');
    (has_pictograph || keycap) && !previous_was_joiner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded_in_characters_not_bytes() {
        let limits = Limits { max_content_chars: 3, ..Limits::default() };
        assert_eq!(content("  hé!  ", &limits).unwrap(), "hé!");
        assert!(content("   ", &limits).is_err());
        assert!(content("four", &limits).is_err());
        assert_eq!(content("ééé", &limits).unwrap(), "ééé");
    }

    #[test]
    fn reactions_accept_single_emoji_and_short_names() {
        for good in ["👍", "❤️", "👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣", ":thumbs_up:", ":+1:"]
        {
            assert!(emoji(good).is_ok(), "{good} should be accepted");
        }
        for bad in [
            "",
            "a",
            "👍👍",
            "👍 ",
            "::",
            ":has space:",
            ":way_too_long_name_for_a_reaction_code:",
            "\u{200D}",
        ] {
            assert!(emoji(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn short_texts_treat_blank_as_absent() {
        assert_eq!(short_text("title", Some("  "), 10).unwrap(), None);
        assert_eq!(short_text("title", Some(" Hi "), 10).unwrap(), Some("Hi".into()));
        assert!(short_text("title", Some("x".repeat(11).as_str()), 10).is_err());
    }
}
