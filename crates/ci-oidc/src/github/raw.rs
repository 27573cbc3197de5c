//! Helpers of the hand-written claims deserializer in [`super::claims`].
//!
//! The derived deserializer compares each key with every field name; here the lookup first
//! tries the field after the previous one (GitHub's claims always come in the same order) and
//! falls back to a scan, and keys are borrowed from the payload instead of copied. Behaviour is
//! the derive's: unknown keys ignored, a duplicate known key refused.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Visitor};

/// An object key, borrowed from the payload unless it contained escapes.
pub(crate) struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Which fields were seen, and where the next one probably is.
#[derive(Default)]
pub(crate) struct FieldSet {
    seen: u64,
    next: usize,
}

impl FieldSet {
    /// Index of `key` in `fields`, trying the expected position first.
    pub(crate) fn find<T>(&mut self, fields: &[(&str, T)], key: &str) -> Option<usize> {
        let i = match fields.get(self.next) {
            Some((name, _)) if *name == key => self.next,
            _ => fields.iter().position(|(name, _)| *name == key)?,
        };
        self.next = i + 1;
        Some(i)
    }

    /// Marks field `i` seen; false if it already was (a duplicate key).
    pub(crate) fn insert(&mut self, i: usize) -> bool {
        debug_assert!(i < 64, "at most 64 claim fields");
        let bit = 1u64 << i;
        let fresh = self.seen & bit == 0;
        self.seen |= bit;
        fresh
    }
}
