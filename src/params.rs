//! Workload parameters: each workload declares the parameters it accepts as a table of
//! [`ParamSpec`]s, and `--set NAME=VALUE` is checked against that table generically, so every
//! workload gets the same validation, the same error messages and the same `--help` listing.
//!
//! # Invariants
//! 1. A [`Params`] holds exactly one value for every parameter its workload declares: the
//!    value set on the command line if any, otherwise the declared default.
//! 2. Every value in a [`Params`] passed its declared [`ParamKind`] check; workloads read
//!    values without re-validating them.
//! 3. Parameter names within one workload are unique, and every declared default passes its
//!    own check (tested over the whole workload table).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::failure::Failure;

/// One parameter a workload accepts.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The name used in `--set NAME=VALUE` and in the report's `params` map.
    pub name: &'static str,
    /// The value used when the parameter is not set, written as on the command line.
    pub default: &'static str,
    /// What values are accepted.
    pub kind: ParamKind,
    /// One line for `--help`: what the parameter controls, with its unit.
    pub description: &'static str,
}

/// The values a parameter accepts.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// A decimal integer within `min..=max`.
    Integer {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value; it keeps a typo from asking for a terabyte heap.
        max: u64,
    },
    /// One of a fixed list of words.
    OneOf(&'static [&'static str]),
}

impl ParamKind {
    /// Checks `text` against this kind and returns the parsed value, or a description of
    /// what is accepted.
    fn parse(self, text: &str) -> Result<ParamValue, String> {
        match self {
            ParamKind::Integer { min, max } => text
                .parse::<u64>()
                .ok()
                .filter(|value| (min..=max).contains(value))
                .map(ParamValue::Integer)
                .ok_or_else(|| self.to_string()),
            ParamKind::OneOf(words) => words
                .iter()
                .find(|word| **word == text)
                .map(|word| ParamValue::Word(word))
                .ok_or_else(|| self.to_string()),
        }
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParamKind::Integer { min: 1, max } => write!(f, "a positive integer up to {max}"),
            ParamKind::Integer { min, max } => write!(f, "an integer from {min} to {max}"),
            ParamKind::OneOf(words) => write!(f, "one of {}", words.join(", ")),
        }
    }
}

/// A checked parameter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// An integer parameter.
    Integer(u64),
    /// A word parameter, one of its declared words.
    Word(&'static str),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Integer(value) => write!(f, "{value}"),
            ParamValue::Word(word) => f.write_str(word),
        }
    }
}

/// The checked parameters of one run: one value per declared parameter (Invariant 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<&'static str, ParamValue>,
}

impl Params {
    /// Checks `assignments` (each `NAME=VALUE`, as given to `--set`) against the parameters
    /// `specs` of workload `workload` and fills in defaults.
    ///
    /// # Errors
    /// A [`Failure::Usage`] naming the bad assignment and what is accepted: a malformed
    /// assignment, an unknown name, a name set twice, or a value its kind rejects.
    pub fn from_assignments<S: AsRef<str>>(
        workload: &str,
        specs: &'static [ParamSpec],
        assignments: &[S],
    ) -> Result<Params, Failure> {
        let mut values = BTreeMap::new();
        for assignment in assignments {
            let assignment = assignment.as_ref();
            let Some((name, text)) = assignment.split_once('=') else {
                return Err(Failure::usage(format!(
                    "--set expects NAME=VALUE, got '{assignment}'; parameters of '{workload}': {}",
                    names(specs)
                )));
            };
            let (name, text) = (name.trim(), text.trim());
            let Some(spec) = specs.iter().find(|spec| spec.name == name) else {
                return Err(Failure::usage(format!(
                    "unknown parameter '{name}' for workload '{workload}'; accepted: {}",
                    names(specs)
                )));
            };
            let value = spec.kind.parse(text).map_err(|accepted| {
                Failure::usage(format!(
                    "parameter '{name}' of workload '{workload}' must be {accepted}, got '{text}'"
                ))
            })?;
            if values.insert(spec.name, value).is_some() {
                return Err(Failure::usage(format!(
                    "parameter '{name}' is set more than once; give each --set NAME once"
                )));
            }
        }
        for spec in specs {
            if !values.contains_key(spec.name) {
                let value = spec.kind.parse(spec.default).unwrap_or_else(|accepted| {
                    panic!("default of parameter '{}' is not {accepted}", spec.name)
                });
                values.insert(spec.name, value);
            }
        }
        Ok(Params { values })
    }

    /// The value of integer parameter `name`.
    ///
    /// # Panics
    /// When the workload did not declare `name` as an integer parameter: a bug in the
    /// workload, not bad input (Invariant 2).
    pub fn integer(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(ParamValue::Integer(value)) => *value,
            other => panic!("parameter '{name}' is not a declared integer parameter: {other:?}"),
        }
    }

    /// The value of word parameter `name`.
    ///
    /// # Panics
    /// When the workload did not declare `name` as a word parameter.
    pub fn word(&self, name: &str) -> &'static str {
        match self.values.get(name) {
            Some(ParamValue::Word(word)) => word,
            other => panic!("parameter '{name}' is not a declared word parameter: {other:?}"),
        }
    }

    /// All values, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, ParamValue)> + '_ {
        self.values.iter().map(|(name, value)| (*name, *value))
    }
}

/// The parameter names of `specs`, comma-separated, for error messages.
fn names(specs: &[ParamSpec]) -> String {
    if specs.is_empty() {
        return "(none)".to_owned();
    }
    specs.iter().map(|spec| spec.name).collect::<Vec<_>>().join(", ")
}

/// A help section listing `specs`: name, default, accepted values, description.
pub fn describe(specs: &[ParamSpec]) -> String {
    let width = specs.iter().map(|spec| spec.name.len() + spec.default.len() + 1).max().unwrap_or(0);
    let mut text = String::new();
    for spec in specs {
        let assignment = format!("{}={}", spec.name, spec.default);
        let _ = writeln!(text, "    {assignment:<width$}  {} ({})", spec.description, spec.kind);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec {
            name: "size_mb",
            default: "16",
            kind: ParamKind::Integer { min: 1, max: 1024 },
            description: "size",
        },
        ParamSpec {
            name: "kind",
            default: "major",
            kind: ParamKind::OneOf(&["major", "minor"]),
            description: "kind",
        },
    ];

    fn parse(assignments: &[&str]) -> Result<Params, Failure> {
        Params::from_assignments("demo", SPECS, assignments)
    }

    fn usage_message(assignments: &[&str]) -> String {
        match parse(assignments) {
            Err(Failure::Usage(message)) => message,
            other => panic!("expected a usage failure, got {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_unset_parameters() {
        let params = parse(&[]).unwrap();
        assert_eq!(params.integer("size_mb"), 16);
        assert_eq!(params.word("kind"), "major");
    }

    #[test]
    fn set_values_override_defaults() {
        let params = parse(&["size_mb=3", "kind=minor"]).unwrap();
        assert_eq!(params.integer("size_mb"), 3);
        assert_eq!(params.word("kind"), "minor");
    }

    #[test]
    fn unknown_names_list_the_accepted_ones() {
        let message = usage_message(&["sise_mb=3"]);
        assert!(message.contains("'sise_mb'"), "{message}");
        assert!(message.contains("accepted: size_mb, kind"), "{message}");
    }

    #[test]
    fn bad_integers_name_the_value_and_the_range() {
        for bad in ["-4", "0", "abc", "1.5", "", "1025"] {
            let message = usage_message(&[&format!("size_mb={bad}")]);
            assert!(message.contains(&format!("got '{bad}'")), "{message}");
            assert!(message.contains("a positive integer up to 1024"), "{message}");
        }
    }

    #[test]
    fn bad_words_list_the_choices() {
        let message = usage_message(&["kind=full"]);
        assert!(message.contains("one of major, minor"), "{message}");
    }

    #[test]
    fn malformed_and_repeated_assignments_are_rejected() {
        assert!(usage_message(&["size_mb"]).contains("NAME=VALUE"));
        assert!(usage_message(&["size_mb=1", "size_mb=2"]).contains("more than once"));
    }

    #[test]
    fn values_serialize_as_plain_json() {
        let json = serde_json::to_string(&[ParamValue::Integer(3), ParamValue::Word("minor")]);
        assert_eq!(json.unwrap(), r#"[3,"minor"]"#);
    }
}
