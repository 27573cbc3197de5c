//! Unit tests that need crate-private items (the fixed-IV hook, the claims writer).

mod codec;
mod vectors;
