//! The one list of endpoints every binary serves (the server and the Vercel function).
//!
//! Adding one: a crate exporting an `Endpoint`, one line here, one `[endpoints."NAME"]` entry in
//! `ci-policy.toml` (`cargo xtask new-endpoint NAME` makes all three edits).

use ci_endpoint::{Endpoint, StartupError};

/// The endpoints this deployment serves, each reading its secret from the environment.
pub fn endpoints() -> Result<Vec<Endpoint>, StartupError> {
    Ok(vec![
        encrypt_override::endpoint(),
        encrypt_session::endpoint(),
        protection_cookie::endpoint()?,
    ])
}
