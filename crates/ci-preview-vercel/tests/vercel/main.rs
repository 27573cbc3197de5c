//! Integration tests of the Vercel function: an emulated Vercel host and the template folder.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod host;
mod template;
mod template_build;
mod template_project;
