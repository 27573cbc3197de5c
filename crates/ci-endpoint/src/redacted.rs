//! A wrapper for the secret parts of an endpoint's types, so `#[derive(Debug)]` (which the
//! workspace's `missing_debug_implementations` lint asks for) cannot print them: the derived
//! `Debug` of a struct holding a `Redacted<T>` shows `[redacted]` in its place.

use std::{fmt, ops::Deref};

/// A value whose `Debug` prints `[redacted]`; it has no `Display`, and dereferences to the value.
///
/// ```
/// use ci_endpoint::Redacted;
///
/// #[derive(Debug)]
/// struct Keys {
///     region: String,
///     api_key: Redacted<String>,
/// }
///
/// let keys = Keys { region: "eu".into(), api_key: Redacted::new("hunter2".into()) };
/// assert_eq!(format!("{keys:?}"), r#"Keys { region: "eu", api_key: [redacted] }"#);
/// assert_eq!(keys.api_key.len(), 7);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Redacted<T> {
        Redacted(value)
    }

    /// The value itself, unwrapped: for code that must hand it on, never for logs.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Redacted<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Redacted<T> {
        Redacted(value)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
