//! Properties of the value objects, checked through the public API only:
//! parsing never panics, whatever parses is in its stored (normal) form and
//! parses again to itself, and every value the HTTP contract rejects is
//! rejected.
//!
//! The limits are written out here (254, 128, 100, 2,000) rather than taken
//! from the crate, so that a change of a constant shows up as a failing
//! contract test.

use auth_domain::common::{DIRECTION_CONTROLS, INVISIBLE};
use auth_domain::project::{
    ProjectDescription, ProjectDescriptionError, ProjectName, ProjectNameError,
};
use auth_domain::user::{
    DisplayName, DisplayNameError, Email, EmailError, Password, PasswordError, PasswordPolicy,
};
use proptest::prelude::*;
use proptest::sample::select;
use secrecy::{ExposeSecret as _, SecretString};

const MAX_EMAIL_CHARS: usize = 254;
const MAX_PASSWORD_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 2_000;

static COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// Characters that have broken text handling elsewhere: case mappings that
/// change length or depend on context, white space `trim` knows and ASCII
/// does not, control and format characters, surrogate neighbours, the
/// largest scalar value.
const TRICKY: &[char] = &[
    '\0',
    '\t',
    '\n',
    '\r',
    '\u{b}',
    '\u{c}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{a0}',
    '\u{ad}',
    '\u{130}',
    '\u{131}',
    '\u{df}',
    '\u{1c5}',
    '\u{345}',
    '\u{3a3}',
    '\u{3c2}',
    '\u{1e9e}',
    '\u{2028}',
    '\u{2029}',
    '\u{200b}',
    '\u{200d}',
    '\u{202e}',
    '\u{3000}',
    '\u{feff}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{fffd}',
    '\u{10ffff}',
    '@',
    '.',
    '-',
    '"',
    ' ',
];

/// Any scalar value, with the tricky ones and plain ASCII over-represented.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        2 => select(TRICKY),
        2 => proptest::char::range(' ', '~'),
    ]
}

/// Arbitrary text of up to `max` characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any_char(), 0..=max).prop_map(String::from_iter)
}

/// Short strings most of the time, now and then a long one (up to 20,000
/// characters, a random piece repeated so that it stays cheap to make).
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![8 => text(64), 2 => text(300), 1 => repeated(text(64), 300..=20_000)]
}

/// `unit` repeated up to `len` characters (an empty unit gives "").
fn repeated(
    unit: impl Strategy<Value = String>,
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = String> {
    (unit, len).prop_map(|(unit, len)| unit.chars().cycle().take(len).collect())
}

/// White space as `str::trim` sees it (Unicode `White_Space`).
fn white_space(max: usize) -> impl Strategy<Value = String> {
    let spaces: Vec<char> = (0..=0x3000_u32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace())
        .collect();
    proptest::collection::vec(select(spaces), 0..=max).prop_map(String::from_iter)
}

/// A character that is not white space and not a control character: what a
/// name may start and end with.
fn visible_char() -> impl Strategy<Value = char> {
    any_char().prop_filter("visible", |c| {
        !c.is_whitespace() && !c.is_control() && !in_ranges(*c, &INVISIBLE)
    })
}

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// `len` visible characters, with anything but control characters between
/// the first and the last.
fn name_core(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    len.prop_flat_map(|len| {
        let inner = proptest::collection::vec(
            any_char().prop_filter("neither control nor direction override", |c| {
                !c.is_control() && !in_ranges(*c, &DIRECTION_CONTROLS)
            }),
            len.saturating_sub(2),
        );
        (visible_char(), inner, visible_char()).prop_map(move |(first, inner, last)| {
            let mut name = String::new();
            name.push(first);
            name.extend(inner);
            if len > 1 {
                name.push(last);
            }
            name
        })
    })
}

/// Letters, digits and the characters RFC 5322 allows in an atom.
fn atom(max: usize) -> impl Strategy<Value = String> {
    let atext = prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => proptest::char::range('A', 'Z'),
        2 => proptest::char::range('0', '9'),
        1 => select("!#$%&'*+/=?^_`{|}~-".chars().collect::<Vec<_>>()),
        1 => select(vec!['é', 'Ü', 'ß', 'ж', 'Ω', 'ς', '中', '٣']),
    ];
    proptest::collection::vec(atext, 1..=max).prop_map(String::from_iter)
}

/// A host label: letters and digits with inner hyphens.
fn label(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(
        "[a-zA-Z0-9äöü]([a-zA-Z0-9äöü-]{{0,{}}}[a-zA-Z0-9äöü])?",
        max - 2
    ))
    .expect("valid regex")
}

/// A valid address as a user might type it: any case, padded with white
/// space.
fn valid_email() -> impl Strategy<Value = String> {
    let local = proptest::collection::vec(atom(12), 1..=3).prop_map(|atoms| atoms.join("."));
    let domain = (
        proptest::collection::vec(label(20), 1..=3),
        proptest::string::string_regex("[a-zA-Z]{2,8}").expect("valid regex"),
    )
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")));
    (white_space(3), local, domain, white_space(3))
        .prop_map(|(before, local, domain, after)| format!("{before}{local}@{domain}{after}"))
}

/// One entry of the bundled common-password list, in a random mix of upper
/// and lower case.
fn common_password() -> impl Strategy<Value = String> {
    let entries: Vec<&'static str> = COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    (
        select(entries),
        proptest::collection::vec(any::<bool>(), 128),
    )
        .prop_map(|(entry, upper)| {
            entry
                .chars()
                .zip(upper.into_iter().cycle())
                .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                .collect()
        })
}

/// Text without NUL of a length in `len`.
fn description(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    let unit = text(64).prop_map(|unit| {
        let unit = unit.replace('\0', "");
        if unit.is_empty() {
            "x".to_owned()
        } else {
            unit
        }
    });
    repeated(unit, len)
}

fn policy() -> impl Strategy<Value = PasswordPolicy> {
    (1..=MAX_PASSWORD_CHARS).prop_map(|min_length| PasswordPolicy { min_length })
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn parse_password(
    raw: &str,
    policy: &PasswordPolicy,
    email: Option<&Email>,
) -> Result<Password, PasswordError> {
    Password::parse(SecretString::from(raw), policy, email)
}

// ---------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn email_parse_never_panics(raw in any_text()) {
        let _ = Email::parse(&raw);
    }

    #[test]
    fn a_parsed_email_is_in_stored_form_and_parses_to_itself(raw in prop_oneof![any_text(), valid_email()]) {
        if let Ok(email) = Email::parse(&raw) {
            let stored = email.as_str();
            prop_assert_eq!(stored, stored.trim());
            prop_assert_eq!(stored, stored.to_lowercase());
            prop_assert!(chars(stored) <= MAX_EMAIL_CHARS, "{} chars", chars(stored));
            prop_assert!(stored.contains('@'));
            prop_assert_eq!(Email::parse(stored), Ok(email.clone()));
        }
    }

    #[test]
    fn a_valid_email_is_accepted_trimmed_and_lower_cased(raw in valid_email()) {
        let email = Email::parse(&raw);
        prop_assert_eq!(email.map(|e| e.as_str().to_owned()), Ok(raw.trim().to_lowercase()));
    }

    #[test]
    fn case_and_padding_do_not_make_another_address(raw in valid_email(), pad in white_space(4)) {
        // ASCII only: Unicode upper-casing is not reversible ("ß" → "SS").
        let upper = format!("{pad}{}{pad}", raw.to_ascii_uppercase());
        prop_assert_eq!(Email::parse(&upper), Email::parse(&raw.to_lowercase()));
    }

    #[test]
    fn an_email_over_254_characters_is_refused(
        local in atom(64),
        mut labels in proptest::collection::vec(label(63), 1..=4),
        extra in 0_usize..400,
    ) {
        // Valid in every part, only too long as a whole.
        let address = |labels: &[String]| format!("{local}@{}.com", labels.join("."));
        while chars(&address(&labels)) <= MAX_EMAIL_CHARS + extra {
            labels.push("x".repeat(40));
        }
        prop_assert_eq!(Email::parse(&address(&labels)), Err(EmailError::TooLong));
    }

    #[test]
    fn an_email_without_at_sign_is_refused(raw in any_text()) {
        let raw = raw.replace('@', "");
        prop_assert!(Email::parse(&raw).is_err());
    }

    #[test]
    fn an_email_with_a_bad_domain_is_refused(
        local in atom(20),
        bad in prop_oneof![
            // One label only.
            label(20),
            // An empty label.
            label(20).prop_map(|l| format!("{l}..com")),
            label(20).prop_map(|l| format!(".{l}.com")),
            label(20).prop_map(|l| format!("{l}.com.")),
            // A label that starts or ends with a hyphen.
            label(20).prop_map(|l| format!("-{l}.com")),
            label(20).prop_map(|l| format!("{l}-.com")),
            // An all-digit top-level label.
            (label(20), 0_u32..100_000).prop_map(|(l, n)| format!("{l}.{n}")),
            // A label over 63 characters.
            (64_usize..100).prop_map(|n| format!("{}.com", "a".repeat(n))),
            // A character no host name has.
            (label(20), select(vec![' ', '_', '@', '!', '"', '\0', '\u{200b}', '/', ':']))
                .prop_map(|(l, c)| format!("{l}{c}x.com")),
            // Nothing at all.
            Just(String::new()),
        ],
    ) {
        let raw = format!("{local}@{bad}");
        prop_assert!(Email::parse(&raw).is_err(), "{raw:?} was accepted");
    }
}

// ---------------------------------------------------------------------------
// Password
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn password_parse_never_panics(raw in any_text(), policy in policy(), email in prop_oneof![any_text(), valid_email()]) {
        let email = Email::parse(&email).ok();
        let _ = parse_password(&raw, &policy, email.as_ref());
    }

    #[test]
    fn an_accepted_password_is_kept_exactly(raw in any_text(), policy in policy()) {
        if let Ok(password) = parse_password(&raw, &policy, None) {
            // Never trimmed, normalised or truncated.
            prop_assert_eq!(password.secret().expose_secret(), raw.as_str());
            let length = chars(&raw);
            prop_assert!((policy.min_length..=MAX_PASSWORD_CHARS).contains(&length), "{length}");
        }
    }

    #[test]
    fn a_password_shorter_than_the_minimum_is_refused(policy in policy(), raw in text(MAX_PASSWORD_CHARS)) {
        let raw: String = raw.chars().take(policy.min_length - 1).collect();
        prop_assert_eq!(
            parse_password(&raw, &policy, None).err(),
            Some(PasswordError::TooShort { min: policy.min_length })
        );
    }

    #[test]
    fn a_password_over_128_characters_is_refused_not_truncated(
        policy in policy(),
        head in text(MAX_PASSWORD_CHARS).prop_filter("128 characters", |s| chars(s) >= 1),
        tail in repeated(text(64), 0..=2_000),
        filler in any_char(),
    ) {
        // At least 129 scalar values, however many bytes they take.
        let mut raw: String = head.chars().cycle().take(MAX_PASSWORD_CHARS).collect();
        raw.push(filler);
        raw.push_str(&tail);
        prop_assert_eq!(parse_password(&raw, &policy, None).err(), Some(PasswordError::TooLong));
    }

    #[test]
    fn a_password_of_allowed_length_is_refused_only_when_common_or_the_email(
        raw in text(MAX_PASSWORD_CHARS),
        email in valid_email(),
    ) {
        let policy = PasswordPolicy::default();
        let email = Email::parse(&email).expect("a valid address");
        let result = parse_password(&raw, &policy, Some(&email));
        let length = chars(&raw);
        if length >= policy.min_length {
            match result {
                Ok(_) => {}
                Err(PasswordError::Common) => {
                    prop_assert!(COMMON_PASSWORDS.lines().any(|line| line == raw.to_lowercase()));
                }
                Err(PasswordError::SameAsEmail) => {
                    let lowered = raw.to_lowercase();
                    prop_assert_eq!(lowered.trim(), email.as_str());
                }
                Err(other) => prop_assert!(false, "{raw:?} refused: {other:?}"),
            }
        }
    }

    #[test]
    fn a_common_password_is_refused_in_any_case(raw in common_password(), policy in policy()) {
        let result = parse_password(&raw, &policy, None);
        if (policy.min_length..=MAX_PASSWORD_CHARS).contains(&chars(&raw)) {
            prop_assert_eq!(result.err(), Some(PasswordError::Common), "{:?}", raw);
        } else {
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn the_email_address_is_refused_as_password(raw in valid_email(), upper in any::<bool>()) {
        let email = Email::parse(&raw).expect("a valid address");
        let candidate = if upper { raw.to_ascii_uppercase() } else { raw.clone() };
        let result = parse_password(&candidate, &PasswordPolicy { min_length: 1 }, Some(&email));
        prop_assert!(result.is_err(), "{candidate:?} accepted for {email}");
    }
}

// ---------------------------------------------------------------------------
// Display names and project names share their rules
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn name_parse_never_panics(raw in any_text()) {
        let _ = DisplayName::parse(&raw);
        let _ = ProjectName::parse(&raw);
    }

    #[test]
    fn a_parsed_name_is_trimmed_and_parses_to_itself(raw in prop_oneof![any_text(), name_core(1..=MAX_NAME_CHARS)]) {
        if let Ok(name) = DisplayName::parse(&raw) {
            let stored = name.as_str();
            prop_assert_eq!(stored, raw.trim());
            prop_assert!((1..=MAX_NAME_CHARS).contains(&chars(stored)));
            prop_assert!(!stored.chars().any(char::is_control));
            prop_assert_eq!(DisplayName::parse(stored), Ok(name.clone()));
        }
        if let Ok(name) = ProjectName::parse(&raw) {
            let stored = name.as_str();
            prop_assert_eq!(stored, raw.trim());
            prop_assert!((1..=MAX_NAME_CHARS).contains(&chars(stored)));
            prop_assert!(!stored.chars().any(char::is_control));
            prop_assert_eq!(ProjectName::parse(stored), Ok(name.clone()));
            prop_assert_eq!(name.key(), stored.to_lowercase());
        }
    }

    #[test]
    fn a_name_of_1_to_100_characters_is_accepted_whatever_its_padding(
        core in name_core(1..=MAX_NAME_CHARS),
        before in white_space(200),
        after in white_space(200),
    ) {
        let raw = format!("{before}{core}{after}");
        prop_assert_eq!(DisplayName::parse(&raw).map(|n| n.as_str().to_owned()), Ok(core.clone()));
        prop_assert_eq!(ProjectName::parse(&raw).map(|n| n.as_str().to_owned()), Ok(core));
    }

    #[test]
    fn a_name_blank_after_trimming_is_refused(raw in white_space(300)) {
        prop_assert_eq!(DisplayName::parse(&raw), Err(DisplayNameError::Blank));
        prop_assert_eq!(ProjectName::parse(&raw), Err(ProjectNameError::Blank));
    }

    #[test]
    fn a_name_over_100_characters_is_refused(
        core in name_core(MAX_NAME_CHARS + 1..=300),
        before in white_space(5),
        after in white_space(5),
    ) {
        let raw = format!("{before}{core}{after}");
        prop_assert_eq!(DisplayName::parse(&raw), Err(DisplayNameError::TooLong));
        prop_assert_eq!(ProjectName::parse(&raw), Err(ProjectNameError::TooLong));
    }

    #[test]
    fn a_name_with_a_control_character_is_refused(
        core in name_core(2..=MAX_NAME_CHARS - 1),
        control in select((0_u8..0x20).chain(0x7f..0xa0).map(char::from).collect::<Vec<_>>()),
        at in any::<prop::sample::Index>(),
    ) {
        let mut raw: Vec<char> = core.chars().collect();
        let at = 1 + at.index(raw.len() - 1);
        raw.insert(at, control);
        let raw = String::from_iter(raw);
        prop_assert_eq!(DisplayName::parse(&raw), Err(DisplayNameError::ControlCharacter));
        prop_assert_eq!(ProjectName::parse(&raw), Err(ProjectNameError::ControlCharacter));
    }

    #[test]
    fn a_name_with_a_direction_override_anywhere_is_refused(
        core in name_core(2..=MAX_NAME_CHARS - 1),
        control in select(DIRECTION_CONTROLS.iter().flat_map(|&(low, high)| low..=high).collect::<Vec<_>>()),
        at in any::<prop::sample::Index>(),
    ) {
        let mut raw: Vec<char> = core.chars().collect();
        let at = at.index(raw.len() + 1);
        raw.insert(at, control);
        let raw = String::from_iter(raw);
        prop_assert_eq!(DisplayName::parse(&raw), Err(DisplayNameError::DirectionControl));
        prop_assert_eq!(ProjectName::parse(&raw), Err(ProjectNameError::DirectionControl));
    }

    #[test]
    fn a_name_beginning_or_ending_with_an_invisible_character_is_refused(
        core in name_core(1..=MAX_NAME_CHARS - 1),
        invisible in select(
            INVISIBLE.iter()
                .flat_map(|&(low, high)| low..=high)
                .filter(|c| !in_ranges(*c, &DIRECTION_CONTROLS))
                .collect::<Vec<_>>(),
        ),
        at_the_end in any::<bool>(),
    ) {
        let raw = if at_the_end { format!("{core}{invisible}") } else { format!("{invisible}{core}") };
        prop_assert_eq!(DisplayName::parse(&raw), Err(DisplayNameError::Invisible));
        prop_assert_eq!(ProjectName::parse(&raw), Err(ProjectNameError::Invisible));
    }

    #[test]
    fn project_names_differing_only_in_case_share_a_key(core in name_core(1..=MAX_NAME_CHARS)) {
        if let (Ok(lower), Ok(upper)) = (
            ProjectName::parse(&core.to_ascii_lowercase()),
            ProjectName::parse(&core.to_ascii_uppercase()),
        ) {
            prop_assert_eq!(lower.key(), upper.key());
        }
    }
}

// ---------------------------------------------------------------------------
// Project description
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn description_parse_never_panics(raw in any_text()) {
        let _ = ProjectDescription::parse(&raw);
    }

    #[test]
    fn a_description_up_to_2000_characters_is_kept_as_given(
        raw in description(0..=MAX_DESCRIPTION_CHARS),
    ) {
        let description = ProjectDescription::parse(&raw);
        prop_assert_eq!(description.map(|d| d.as_str().to_owned()), Ok(raw));
    }

    #[test]
    fn a_description_over_2000_characters_is_refused(
        raw in description(MAX_DESCRIPTION_CHARS + 1..=2 * MAX_DESCRIPTION_CHARS),
    ) {
        prop_assert_eq!(ProjectDescription::parse(&raw), Err(ProjectDescriptionError::TooLong));
    }

    #[test]
    fn a_description_with_a_nul_is_refused(
        raw in description(0..=MAX_DESCRIPTION_CHARS - 1),
        at in any::<prop::sample::Index>(),
    ) {
        let mut raw: Vec<char> = raw.chars().collect();
        let at = at.index(raw.len() + 1);
        raw.insert(at, '\0');
        prop_assert!(ProjectDescription::parse(&String::from_iter(raw)).is_err());
    }
}
