//! The rule display names and project names share.

/// The longest name accepted, in characters, once trimmed.
pub const MAX_NAME_LENGTH: usize = 100;

/// The name rule as an ECMA-262 regular expression, for API schemas: any
/// white space (Unicode `White_Space`, as `str::trim` strips it) around 1
/// to 100 characters that are not control characters (`Cc`, as
/// `char::is_control`) nor direction overrides or isolates
/// ([`DIRECTION_CONTROLS`]), and whose first and last are visible: neither
/// white space nor one of the [`INVISIBLE`] characters. It carries the
/// length limit because only the trimmed name is counted.
pub const NAME_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0\u202a-\u202e\u2066-\u2069](?:[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0\u202a-\u202e\u2066-\u2069])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// The explicit direction embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069): inside a name they reorder the text shown after it (an
/// administrator's list, a mail's greeting), the "Trojan Source" trick. The
/// implicit marks (U+200E, U+200F, U+061C) are left to right-to-left text,
/// but not at a name's ends.
pub const DIRECTION_CONTROLS: [(char, char); 2] =
    [('\u{202a}', '\u{202e}'), ('\u{2066}', '\u{2069}')];

/// Characters that show nothing on their own: format characters
/// (soft hyphen, zero-width space and joiners, direction marks, word
/// joiner, invisible operators, byte order mark) and the fillers that
/// render blank. Inside a name they have uses (a zero-width joiner builds
/// emoji and joins Indic and Persian letters); a name may not begin or end
/// with one, so that no name is blank to the eye.
pub const INVISIBLE: [(char, char); 14] = [
    ('\u{00ad}', '\u{00ad}'),
    ('\u{034f}', '\u{034f}'),
    ('\u{061c}', '\u{061c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{206a}', '\u{206f}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    // The direction controls are invisible too, and refused anywhere.
    ('\u{202a}', '\u{202e}'),
    ('\u{2066}', '\u{2069}'),
];

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("must not be blank")]
    Blank,
    /// More than [`MAX_NAME_LENGTH`] characters.
    #[error("must be at most {MAX_NAME_LENGTH} characters")]
    TooLong,
    /// Contains a control character (newline, NUL, …).
    #[error("must not contain control characters")]
    ControlCharacter,
    /// Contains a direction override or isolate ([`DIRECTION_CONTROLS`]).
    #[error("must not contain direction overrides (U+202A to U+202E, U+2066 to U+2069)")]
    DirectionControl,
    /// Begins or ends with a character that shows nothing ([`INVISIBLE`]).
    #[error("must begin and end with a visible character")]
    Invisible,
}

/// Trims `raw` and checks it against the name rule.
///
/// # Errors
/// [`NameError`] when it is blank, too long, holds control characters or
/// direction overrides, or begins or ends with an invisible character.
pub(crate) fn parse_name(raw: &str) -> Result<String, NameError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(NameError::Blank);
    }
    if trimmed.chars().count() > MAX_NAME_LENGTH {
        return Err(NameError::TooLong);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if trimmed.chars().any(|c| in_ranges(c, &DIRECTION_CONTROLS)) {
        return Err(NameError::DirectionControl);
    }
    let visible = |c: Option<char>| c.is_some_and(|c| !in_ranges(c, &INVISIBLE));
    if !visible(trimmed.chars().next()) || !visible(trimmed.chars().next_back()) {
        return Err(NameError::Invisible);
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// [`NAME_PATTERN`] in the `regex` crate's dialect (ECMA-262's `\uXXXX`
    /// is its `\x{XXXX}`).
    fn pattern() -> regex::Regex {
        let translated = regex::Regex::new(r"\\u([0-9a-f]{4})")
            .expect("a regex")
            .replace_all(NAME_PATTERN, r"\x{$1}");
        regex::Regex::new(&translated).expect("the pattern compiles")
    }

    #[test]
    fn invisible_ends_and_direction_overrides_are_refused() {
        for (raw, expected) in [
            ("\u{200b}", Err(NameError::Invisible)),
            ("Ada\u{200b}", Err(NameError::Invisible)),
            ("\u{feff}Ada", Err(NameError::Invisible)),
            ("\u{3164}", Err(NameError::Invisible)),
            ("\u{200f}Ada", Err(NameError::Invisible)),
            (" \u{00ad} ", Err(NameError::Invisible)),
            ("Ada\u{202e}ecilA", Err(NameError::DirectionControl)),
            ("\u{2066}Ada\u{2069}", Err(NameError::DirectionControl)),
            (" \u{00a0} ", Err(NameError::Blank)),
            // Joiners and marks inside a name are part of the writing.
            ("👩\u{200d}💻", Ok("👩\u{200d}💻")),
            ("می\u{200c}خواهم", Ok("می\u{200c}خواهم")),
            ("Ada\u{200e} Lovelace", Ok("Ada\u{200e} Lovelace")),
            ("  Ada  ", Ok("Ada")),
        ] {
            assert_eq!(
                parse_name(raw).as_deref(),
                expected.as_ref().map(|s| *s),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_pattern_agrees_with_the_rule_on_chosen_names() {
        let pattern = pattern();
        let long = "é".repeat(MAX_NAME_LENGTH);
        let too_long = "é".repeat(MAX_NAME_LENGTH + 1);
        for raw in [
            "",
            " ",
            "A",
            " Ada ",
            "Ada\nLovelace",
            "\u{200b}",
            "Ada\u{200b}",
            "A\u{200d}B",
            "Ada\u{202e}x",
            "\u{3000}Ada\u{3000}",
            "\u{85}Ada",
            "Ada\u{a0}",
            long.as_str(),
            too_long.as_str(),
            "\u{ffa0}A",
            "A\u{ffa0}",
            "\u{a0}\u{a0}",
        ] {
            assert_eq!(pattern.is_match(raw), parse_name(raw).is_ok(), "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn the_pattern_agrees_with_the_rule(raw in proptest::collection::vec(
            prop::sample::select(vec![
                'a', 'é', '界', ' ', '\t', '\n', '\u{85}', '\u{a0}', '\u{3000}', '\u{ad}',
                '\u{200b}', '\u{200d}', '\u{200f}', '\u{202e}', '\u{2066}', '\u{feff}',
                '\u{3164}', '\u{7f}',
            ]),
            0..8,
        ).prop_map(|chars| chars.into_iter().collect::<String>())) {
            prop_assert_eq!(pattern().is_match(&raw), parse_name(&raw).is_ok(), "{:?}", raw);
        }
    }
}
