//! Unit tests that need the codec's private deterministic core (a fixed IV).

mod codec;
mod vectors;
