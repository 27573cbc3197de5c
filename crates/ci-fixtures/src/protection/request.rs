//! Reading a request the way the edge does: cookies by name, the query's bypass parameters, and
//! the URL the priming redirect sends the browser back to.

use axum::http::{HeaderMap, Uri, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{BYPASS_HEADER, SET_COOKIE_HEADER};

/// The values of every cookie `name` in the request's `Cookie` headers.
pub(super) fn cookies<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

pub(super) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The path and query of `uri` without the bypass parameters (where the 307 sends the browser).
pub(super) fn without_bypass_params(uri: &Uri) -> String {
    let kept: Vec<(String, String)> = query_pairs(uri)
        .into_iter()
        .filter(|(k, _)| {
            !k.eq_ignore_ascii_case(BYPASS_HEADER) && !k.eq_ignore_ascii_case(SET_COOKIE_HEADER)
        })
        .collect();
    if kept.is_empty() {
        return uri.path().to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("{}?{query}", uri.path())
}

pub(super) fn percent_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub(super) fn random_value() -> String {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
    URL_SAFE_NO_PAD.encode(bytes)
}
