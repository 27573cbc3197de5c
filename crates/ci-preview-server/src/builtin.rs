//! The built-in endpoints, as one list both binaries of this repository serve (the server and
//! the Vercel function), so they cannot drift. A team's binary names the built-ins it wants one by
//! one instead (each is its own crate) next to its own endpoints.

use ci_endpoint::Endpoint;

/// The built-in proxy endpoint: Clerk's testing tokens, its upstream declared in the policy.
pub const CLERK_TESTING_TOKEN: &str = "proxy/clerk-testing-token";

/// Every built-in endpoint, each reading its secrets from the environment. Only those with a
/// policy entry are served.
pub fn builtin_endpoints() -> Vec<Endpoint> {
    vec![
        encrypt_override::endpoint(),
        encrypt_session::endpoint(),
        protection_cookie::endpoint(),
        tokens_mint::endpoint(),
        upstream_proxy::endpoint(CLERK_TESTING_TOKEN, "CLERK_SECRET_KEY"),
    ]
}
