//! A `proxy/…` endpoint's upstream, declared in its policy entry, in one serde struct: the https
//! URL, the method, the headers (values may name the preview's environment variables as
//! `${VAR}`), what of the caller's body goes on, and the limits. Nothing of it comes from the
//! request. Validated at start-up; every error names the key.

use std::collections::BTreeMap;
use std::time::Duration;

use ci_endpoint::{ConfigError, EndpointConfig};
use http::{HeaderName, Method};
use serde::Deserialize;

/// `max_request_bytes` when the policy does not say: no body is forwarded.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 0;
/// `max_response_bytes` when the policy does not say: 64 KiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The largest answer a policy may allow: 1 MiB (a CI provisioning call is small).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The largest `max_request_bytes`: the kit's body limit, 64 KiB.
pub const MAX_REQUEST_BYTES: usize = ci_endpoint::DEFAULT_BODY_LIMIT;
/// `timeout_secs` when the policy does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// The longest `timeout_secs` a policy may set.
pub const MAX_TIMEOUT_SECS: u64 = 60;

/// Headers the client computes or that change the connection: a policy may not set them.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
];

/// The `[endpoints."proxy/NAME".config]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The one upstream URL, `https://` only, no user info or fragment.
    pub url: String,
    /// The method: GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// Headers sent upstream; `${VAR}` in a value is the preview's variable `VAR` (a secret).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The caller's JSON body is forwarded when it is at most this long; 0: no body forwarded
    /// (the caller sends `{}`).
    #[serde(default)]
    pub max_request_bytes: usize,
    /// When set, the caller's body must be a JSON object with only these top-level fields.
    #[serde(default)]
    pub json_fields: Option<Vec<String>>,
    /// The upstream's answer is passed back when it is at most this long (502 otherwise).
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Seconds the whole upstream call may take, connect to last byte (504 otherwise).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_max_response_bytes() -> usize {
    DEFAULT_MAX_RESPONSE_BYTES
}

fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message)
}

/// One header value: literal text and `${VAR}` references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    Var(String),
}

impl ProxyConfig {
    /// Parses a `config` table's text (tests, tools; the kit reads the policy) and validates it.
    pub fn from_toml(text: &str) -> Result<ProxyConfig, ConfigError> {
        let config: ProxyConfig =
            toml::from_str(text).map_err(|e| invalid("", e.message().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    /// The URL; https only, with a host, without user info or fragment.
    pub fn parsed_url(&self) -> Result<url::Url, ConfigError> {
        let url = url::Url::parse(&self.url).map_err(|e| invalid("url", e.to_string()))?;
        if url.scheme() != "https" {
            return Err(invalid(
                "url",
                "must be https: the endpoint sends the preview's secret to it",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("url", "must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "url",
                "must not hold user info or a fragment: put credentials in `headers` as ${VAR}",
            ));
        }
        Ok(url)
    }

    /// The method.
    pub fn parsed_method(&self) -> Result<Method, ConfigError> {
        match self.method.as_str() {
            "GET" => Ok(Method::GET),
            "POST" => Ok(Method::POST),
            "PUT" => Ok(Method::PUT),
            "PATCH" => Ok(Method::PATCH),
            "DELETE" => Ok(Method::DELETE),
            _ => Err(invalid("method", "must be GET, POST, PUT, PATCH or DELETE")),
        }
    }

    /// The environment variables the headers name, each once.
    pub fn variables(&self) -> Vec<String> {
        let mut vars: Vec<String> = self
            .headers
            .values()
            .filter_map(|v| parse_value(v).ok())
            .flatten()
            .filter_map(|p| match p {
                Part::Var(v) => Some(v),
                Part::Text(_) => None,
            })
            .collect();
        vars.sort();
        vars.dedup();
        vars
    }

    /// The whole call's deadline.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

impl EndpointConfig for ProxyConfig {
    /// Checks every key; the error names the first that is wrong.
    fn validate(&self) -> Result<(), ConfigError> {
        self.parsed_url()?;
        self.parsed_method()?;
        for (name, value) in &self.headers {
            let key = format!("headers.{name}");
            let parsed = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(&key, "is not a valid header name"))?;
            if FORBIDDEN_HEADERS.contains(&parsed.as_str()) {
                return Err(invalid(key, "is set by the HTTP client; remove it"));
            }
            let parts = parse_value(value).map_err(|m| invalid(&key, m))?;
            let literal: String = parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.as_str(),
                    Part::Var(_) => "x",
                })
                .collect();
            http::HeaderValue::from_str(&literal)
                .map_err(|_| invalid(&key, "is not a valid header value"))?;
        }
        if self.variables().len() > 1 {
            return Err(invalid(
                "headers",
                "name at most one ${VAR} per proxy endpoint (one secret per endpoint)",
            ));
        }
        if self.max_request_bytes > MAX_REQUEST_BYTES {
            return Err(invalid(
                "max_request_bytes",
                format!("must be at most {MAX_REQUEST_BYTES}"),
            ));
        }
        if !(1..=MAX_BODY_BYTES).contains(&self.max_response_bytes) {
            return Err(invalid(
                "max_response_bytes",
                format!("must be 1..={MAX_BODY_BYTES}"),
            ));
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err(invalid(
                "timeout_secs",
                format!("must be 1..={MAX_TIMEOUT_SECS} seconds"),
            ));
        }
        match &self.json_fields {
            Some(_) if self.max_request_bytes == 0 => Err(invalid(
                "json_fields",
                "needs max_request_bytes above 0 (no body is forwarded otherwise)",
            )),
            Some(fields) if fields.is_empty() => Err(invalid("json_fields", "must not be empty")),
            _ => Ok(()),
        }
    }
}

/// Splits a header value into text and `${VAR}` parts (`VAR`: `A-Z`, `0-9`, `_`, not starting
/// with a digit). A `$` not followed by `{` is text.
pub(crate) fn parse_value(value: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "has a `${` without its `}`".to_owned())?;
        let var = &after[..end];
        let valid = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(format!(
                "names ${{{var}}}: a variable name is upper-case letters, digits and `_`"
            ));
        }
        parts.push(Part::Var(var.to_owned()));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "url = \"https://api.example.com/v1/x\"\nmethod = \"POST\"\n";

    #[test]
    fn defaults_and_variables() {
        let config = ProxyConfig::from_toml(&format!(
            "{BASE}headers = {{ Authorization = \"Bearer ${{API_KEY}}\", X-Other = \"${{API_KEY}}-$1\" }}"
        ))
        .expect("valid");
        assert_eq!(config.variables(), ["API_KEY"]);
        assert_eq!(config.max_request_bytes, 0);
        assert_eq!(config.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
        assert_eq!(config.timeout(), Duration::from_secs(DEFAULT_TIMEOUT_SECS));
        assert_eq!(
            parse_value("a ${B_1} $c").unwrap(),
            [
                Part::Text("a ".into()),
                Part::Var("B_1".into()),
                Part::Text(" $c".into())
            ]
        );
    }

    #[test]
    fn refusals_name_the_key() {
        let cases = [
            (
                "url = \"http://api.example.com/\"\nmethod = \"POST\"",
                "url",
            ),
            (
                "url = \"https://user:pw@api.example.com/\"\nmethod = \"POST\"",
                "url",
            ),
            (
                "url = \"https://api.example.com/#f\"\nmethod = \"POST\"",
                "url",
            ),
            ("url = \"file:///etc/passwd\"\nmethod = \"GET\"", "url"),
            (
                "url = \"https://api.example.com/\"\nmethod = \"CONNECT\"",
                "method",
            ),
            (
                "url = \"https://api.example.com/\"\nmethod = \"post\"",
                "method",
            ),
            (
                &format!("{BASE}headers = {{ Host = \"evil\" }}"),
                "headers.Host",
            ),
            (
                &format!("{BASE}headers = {{ \"Bad Name\" = \"x\" }}"),
                "headers.Bad Name",
            ),
            (
                &format!("{BASE}headers = {{ A = \"${{lower}}\" }}"),
                "headers.A",
            ),
            (
                &format!("{BASE}headers = {{ A = \"${{OPEN\" }}"),
                "headers.A",
            ),
            (
                &format!("{BASE}headers = {{ A = \"line\\nbreak\" }}"),
                "headers.A",
            ),
            (
                &format!("{BASE}headers = {{ A = \"${{ONE}}\", B = \"${{TWO}}\" }}"),
                "headers",
            ),
            (
                &format!("{BASE}max_request_bytes = 2000000"),
                "max_request_bytes",
            ),
            (
                &format!("{BASE}max_response_bytes = 0"),
                "max_response_bytes",
            ),
            (&format!("{BASE}timeout_secs = 0"), "timeout_secs"),
            (&format!("{BASE}timeout_secs = 61"), "timeout_secs"),
            (&format!("{BASE}json_fields = [\"a\"]"), "json_fields"),
            (
                &format!("{BASE}max_request_bytes = 10\njson_fields = []"),
                "json_fields",
            ),
            (&format!("{BASE}path = \"/x\""), ""),
        ];
        for (text, key) in cases {
            let error = ProxyConfig::from_toml(text).expect_err(text);
            assert_eq!(error.key(), key, "{text}: {error}");
        }
    }
}
