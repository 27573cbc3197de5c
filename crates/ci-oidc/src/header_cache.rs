//! A tiny cache of protected headers already seen on verified tokens.
//!
//! An issuer signs every token of a key with the same header bytes (GitHub: `typ`, `alg`,
//! `x5t`, `kid`), so decoding and checking that JSON again for each request is wasted work. The
//! cache maps the exact base64url header segment to its `kid`. It is filled only after a
//! signature verified, so only issuer-made headers enter it, and a hit is exactly equivalent to
//! re-parsing: the same bytes always give the same result. Bounded; when full it starts over.

use std::sync::RwLock;

/// Entries kept; an issuer has a handful of keys, each with one header.
const CAPACITY: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct HeaderCache {
    entries: RwLock<Vec<(Box<str>, Box<str>)>>,
}

impl HeaderCache {
    /// The `kid` of a header segment seen on a verified token.
    pub(crate) fn kid(&self, segment: &str) -> Option<String> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .find(|(s, _)| **s == *segment)
            .map(|(_, kid)| kid.to_string())
    }

    /// Remembers a header segment of a verified token.
    pub(crate) fn insert(&self, segment: &str, kid: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.iter().any(|(s, _)| **s == *segment) {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.push((segment.into(), kid.into()));
    }
}
