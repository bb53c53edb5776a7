//! Grades compared as schools mean them.
//!
//! A photographer's index writes kindergarten `K` or `KG` and pre-K `PK`; PowerSchool stores
//! the same grades as `0` and `-1` (down to `-4` for the youngest pre-K years), and other SIS
//! exports write `00`, `KN`, `PRE-K` or `TK`. Compared as text, every kindergartner and pre-K
//! child of an elementary school matches no one. So the `grade` match field is compared by
//! its *meaning*: each value is brought to one canonical form, on both sides of the join.
//! Built in: kindergarten (`K`, `KG`, `KN`, `0`, `00`), pre-K (`PK`, `P`, `PRE-K`, `-1`,
//! `-2`...), transitional kindergarten (`TK`), numbers without their leading zeros. Labels
//! such as `SR` for grade 12 are left alone: a district says what its own codes mean with
//! `[source] grade_values`, which adds to and overrides the built-in table.

use std::collections::BTreeMap;

use super::roster::normalize;

/// The built-in equivalences, as `picday check` and the docs show them: canonical form, what
/// it means, and the values that mean it (negative numbers also mean pre-K).
pub const BUILT_IN: [(&str, &str, &[&str]); 3] = [
    (
        "k",
        "kindergarten",
        &["k", "kg", "kn", "kinder", "kindergarten", "0", "00"],
    ),
    (
        "pk",
        "pre-K",
        &[
            "pk",
            "p",
            "pre-k",
            "prek",
            "pre k",
            "pre-kindergarten",
            "-1",
            "-2",
        ],
    ),
    (
        "tk",
        "transitional kindergarten",
        &["tk", "transitional kindergarten"],
    ),
];

/// How grades are compared: the built-in equivalences and the district's own codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grades {
    /// Normalised district code -> canonical grade.
    custom: BTreeMap<String, String>,
}

impl Grades {
    /// `grade_values` from `[source]`: code -> the grade it means (`{ "KF" = "K", "SR" = "12" }`).
    pub fn new(custom: &BTreeMap<String, String>) -> Self {
        Grades {
            custom: custom
                .iter()
                .map(|(code, grade)| (normalize(code), built_in(normalize(grade))))
                .collect(),
        }
    }

    /// The canonical form of a grade value: the district's own code first, then the built-in
    /// equivalences, then the value as [`normalize`] compares it.
    pub fn canonical(&self, value: &str) -> String {
        let n = normalize(value);
        match self.custom.get(&n) {
            Some(grade) => grade.clone(),
            None => built_in(n),
        }
    }

    /// What a canonical grade means, for `picday check` ("kindergarten").
    pub fn meaning(canonical: &str) -> Option<&'static str> {
        BUILT_IN
            .iter()
            .find(|(c, _, _)| *c == canonical)
            .map(|(_, m, _)| *m)
    }
}

/// A normalised value brought to its built-in canonical form.
fn built_in(n: String) -> String {
    if let Some(digits) = n.strip_prefix('-')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().any(|b| b != b'0')
    {
        // PowerSchool: -1 to -4 are the pre-K years.
        return "pk".into();
    }
    BUILT_IN
        .iter()
        .find(|(_, _, values)| values.contains(&n.as_str()))
        .map_or(n, |(canonical, _, _)| canonical.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schools_spellings_of_one_grade_are_one_grade() {
        let g = Grades::default();
        for k in ["K", "kg", "KN", "0", "00", "Kindergarten"] {
            assert_eq!(g.canonical(k), "k", "{k}");
        }
        for pk in ["PK", "P", "Pre-K", "PREK", "-1", "-2", "-4", "-01"] {
            assert_eq!(g.canonical(pk), "pk", "{pk}");
        }
        assert_eq!(g.canonical("TK"), "tk");
        assert_eq!(g.canonical("09"), "9");
        assert_eq!(g.canonical("9"), "9");
        // Labels are not numbers unless the district says so; -0 is no pre-K year.
        assert_eq!(g.canonical("SR"), "sr");
        assert_eq!(g.canonical("12"), "12");
        assert_eq!(g.canonical("-0"), "-0");
        assert_ne!(g.canonical("K"), g.canonical("PK"));
        assert_ne!(g.canonical("TK"), g.canonical("K"));
    }

    #[test]
    fn a_districts_codes_add_to_and_override_the_built_in_ones() {
        let custom = BTreeMap::from([
            ("SR".to_string(), "12".to_string()),
            ("KF".to_string(), "KG".to_string()),
            // This district's 0 is pre-K.
            ("0".to_string(), "PK".to_string()),
        ]);
        let g = Grades::new(&custom);
        assert_eq!(g.canonical("sr"), g.canonical("12"));
        assert_eq!(g.canonical("KF"), "k");
        assert_eq!(g.canonical("0"), "pk");
        assert_eq!(g.canonical("00"), "pk", "00 is 0");
        assert_eq!(g.canonical("K"), "k");
        assert_eq!(Grades::meaning("k"), Some("kindergarten"));
    }
}
