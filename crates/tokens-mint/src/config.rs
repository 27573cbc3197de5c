//! What the endpoint's policy entry says about the tokens it mints, in one serde struct: which
//! test subjects, which claims (fixed, or templated from the subject and the verified caller),
//! which claims a caller may add, and how long a token may live. Validated at start-up; every
//! error names the key.
//!
//! Templates are strings with `{placeholder}`s: `{subject}`, or one of [`CALLER_FIELDS`] taken
//! from the caller's verified GitHub token (`"ci-{repository_id}-{run_id}"`). `{{` and `}}` are
//! literal braces. The caller's request can never change a policy claim, and never sets `sub`
//! other than through the allowlist, or `exp`, `iat`, `nbf`, `jti` at all.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use ci_endpoint::{CiError, ConfigError, EndpointConfig};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::MintKey;

/// Claims the endpoint sets itself: neither the policy's `claims` nor a caller may name them.
pub const RESERVED_CLAIMS: &[&str] = &["sub", "exp", "iat", "nbf", "jti"];
/// Claims a caller may never add, whatever `caller_claims` says (the policy's `claims` may set
/// `iss` and `aud`; the rest are [`RESERVED_CLAIMS`]).
pub const REGISTERED_CLAIMS: &[&str] = &["iss", "aud", "sub", "exp", "iat", "nbf", "jti"];
/// The verified caller's claims a template may use.
pub const CALLER_FIELDS: &[&str] = &[
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "run_id",
    "run_attempt",
    "sha",
    "ref",
    "workflow_ref",
    "actor",
    "actor_id",
    "event_name",
];
/// `token_max_age` when the policy does not say: ten minutes, a test's worth of calls.
pub const DEFAULT_TOKEN_MAX_AGE: u64 = 600;
/// The longest `token_max_age` a policy may set: a day.
pub const MAX_TOKEN_MAX_AGE: u64 = 86_400;

/// The `tokens/mint` keys of the endpoint's policy entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintConfig {
    /// The test users a token may be minted for (`sub`), exactly; required, not empty.
    pub subjects: Vec<String>,
    /// Claims every token carries: fixed values, strings may be templates.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Names of claims the caller may add in its request (any JSON value).
    #[serde(default)]
    pub caller_claims: Vec<String>,
    /// Seconds a token lives at most; a request may ask for less with `maxAge`.
    #[serde(default = "default_max_age")]
    pub token_max_age: u64,
    /// The `kid` header of minted tokens (when the app picks keys by id).
    #[serde(default)]
    pub kid: Option<String>,
}

fn default_max_age() -> u64 {
    DEFAULT_TOKEN_MAX_AGE
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message)
}

impl MintConfig {
    /// Parses a `config` table's text and validates it (tests, tools; the kit reads the policy).
    pub fn from_toml(text: &str) -> Result<MintConfig, ConfigError> {
        let config: MintConfig =
            toml::from_str(text).map_err(|e| invalid("", e.message().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    /// The claims of a token for `subject` with the caller's own `extra` claims, its verified
    /// GitHub claims (`caller`, as JSON) filling the templates, issued now for `lifetime` seconds
    /// with a random 128-bit `jti`; and its `exp`. `Err` says what could not be filled.
    pub fn claims_for(
        &self,
        subject: &str,
        extra: Map<String, Value>,
        caller: &Value,
        lifetime: u64,
    ) -> Result<(Value, u64), String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(|e| format!("no randomness for the jti: {e}"))?;
        let mut claims = Map::new();
        for (name, value) in &self.claims {
            claims.insert(name.clone(), render_value(value, subject, caller)?);
        }
        claims.extend(extra);
        let exp = now.saturating_add(lifetime);
        claims.insert("sub".into(), subject.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), exp.into());
        claims.insert("jti".into(), URL_SAFE_NO_PAD.encode(jti).into());
        Ok((Value::Object(claims), exp))
    }
}

impl EndpointConfig for MintConfig {
    /// Checks every key; the error names the first that is wrong.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.subjects.is_empty() {
            return Err(invalid(
                "subjects",
                "must list at least one test user the endpoint may mint tokens for",
            ));
        }
        if let Some(i) = self.subjects.iter().position(|s| s.trim().is_empty()) {
            return Err(invalid(format!("subjects[{i}]"), "must not be blank"));
        }
        if !(1..=MAX_TOKEN_MAX_AGE).contains(&self.token_max_age) {
            return Err(invalid(
                "token_max_age",
                format!("must be 1..={MAX_TOKEN_MAX_AGE} seconds"),
            ));
        }
        for (name, value) in &self.claims {
            if RESERVED_CLAIMS.contains(&name.as_str()) {
                return Err(invalid(
                    format!("claims.{name}"),
                    "is set by the endpoint (sub from the allowlist, exp/iat from the lifetime, a random jti)",
                ));
            }
            check_templates(value, &format!("claims.{name}"))?;
        }
        let mut seen = BTreeSet::new();
        for (i, name) in self.caller_claims.iter().enumerate() {
            let key = format!("caller_claims[{i}]");
            if REGISTERED_CLAIMS.contains(&name.as_str()) {
                return Err(invalid(
                    key,
                    format!("{name:?} is a registered claim a caller may never set"),
                ));
            }
            if self.claims.contains_key(name) {
                return Err(invalid(
                    key,
                    format!("{name:?} is fixed in `claims`; a caller cannot override it"),
                ));
            }
            if name.is_empty() || !seen.insert(name) {
                return Err(invalid(key, "must be a non-empty claim name, listed once"));
            }
        }
        Ok(())
    }
}

impl MintConfig {
    /// The signed token for [`MintConfig::claims_for`] and its `exp`; a template the caller's
    /// token cannot fill or a failed signature is logged and answers 500 `internal`.
    pub(crate) fn mint(
        &self,
        key: &MintKey,
        subject: &str,
        extra: Map<String, Value>,
        caller: &Value,
        lifetime: u64,
    ) -> Result<(String, u64), CiError> {
        self.claims_for(subject, extra, caller, lifetime)
            .and_then(|(claims, exp)| Ok((key.sign(&claims, self.kid.as_deref())?, exp)))
            .map_err(|error| {
                tracing::error!(%error, "could not mint the token");
                CiError::Internal
            })
    }
}

fn check_templates(value: &Value, key: &str) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => render(text, &mut |_| Ok(String::new()))
            .map(drop)
            .map_err(|message| invalid(key, message)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_templates(v, &format!("{key}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_templates(v, &format!("{key}.{k}"))),
        _ => Ok(()),
    }
}

fn render_value(value: &Value, subject: &str, caller: &Value) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => Value::String(render(text, &mut |field| {
            if field == "subject" {
                return Ok(subject.to_owned());
            }
            match caller.get(field) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(format!("the caller's token has no {field}")),
            }
        })?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, subject, caller))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, subject, caller)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Expands `{field}`s through `lookup`; `{{`/`}}` are braces. Refuses unknown fields and
/// unbalanced braces (also at start-up, with a lookup that always succeeds).
fn render(
    template: &str,
    lookup: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            out.push_str(&tail[..1]);
            rest = after;
            continue;
        }
        let close = tail
            .starts_with('{')
            .then(|| tail.find('}'))
            .flatten()
            .ok_or_else(|| {
                format!("unbalanced brace in {template:?} (write {{{{ or }}}} for a literal one)")
            })?;
        let field = &tail[1..close];
        if field != "subject" && !CALLER_FIELDS.contains(&field) {
            return Err(format!(
                "{{{field}}} is not a template field: use {{subject}} or one of {}",
                CALLER_FIELDS.join(", ")
            ));
        }
        out.push_str(&lookup(field)?);
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(extra: &str) -> Result<MintConfig, ConfigError> {
        MintConfig::from_toml(&format!("subjects = [\"user-1\"]\n{extra}"))
    }

    #[test]
    fn defaults_and_templates() {
        let config = config(
            "claims = { role = \"authenticated\", aud = \"app\", email = \"{subject}@test.example\", ci = [\"{repository_id}/{run_id}\", 1], lit = \"{{x}}\" }\ncaller_claims = [\"name\"]",
        )
        .expect("valid");
        assert_eq!(config.token_max_age, DEFAULT_TOKEN_MAX_AGE);
        let caller = json!({"repository_id": "42", "run_id": "7", "repository": "o/r"});
        let extra = Map::from_iter([("name".into(), json!("N"))]);
        let (mut claims, exp) = config
            .claims_for("user-1", extra, &caller, 60)
            .expect("claims");
        let iat = claims["iat"].as_u64().expect("iat");
        assert_eq!(exp, iat + 60);
        let jti = claims
            .as_object_mut()
            .expect("object")
            .remove("jti")
            .expect("jti");
        assert_eq!(
            jti.as_str().map(str::len),
            Some(22),
            "128 random bits, base64url"
        );
        assert_eq!(
            claims,
            json!({"role": "authenticated", "aud": "app", "email": "user-1@test.example", "ci": ["42/7", 1],
                   "lit": "{x}", "name": "N", "sub": "user-1", "iat": iat, "exp": exp})
        );
        let (again, _) = config
            .claims_for("user-1", Map::new(), &caller, 60)
            .expect("claims");
        assert_ne!(again["jti"], jti, "a fresh jti per token");
        let missing = config.claims_for("user-1", Map::new(), &json!({}), 1);
        assert_eq!(
            missing.unwrap_err(),
            "the caller's token has no repository_id"
        );
    }

    #[test]
    fn refusals_name_the_key() {
        let cases = [
            ("subjects = []", "subjects"),
            ("subjects = [\" \"]", "subjects[0]"),
            ("subjects = [\"u\"]\ntoken_max_age = 0", "token_max_age"),
            ("subjects = [\"u\"]\ntoken_max_age = 86401", "token_max_age"),
            ("subjects = [\"u\"]\nclaims = { exp = 1 }", "claims.exp"),
            ("subjects = [\"u\"]\nclaims = { sub = \"x\" }", "claims.sub"),
            (
                "subjects = [\"u\"]\nclaims = { a = { b = \"{secret}\" } }",
                "claims.a.b",
            ),
            (
                "subjects = [\"u\"]\nclaims = { a = \"{run_id\" }",
                "claims.a",
            ),
            (
                "subjects = [\"u\"]\ncaller_claims = [\"aud\"]",
                "caller_claims[0]",
            ),
            (
                "subjects = [\"u\"]\nclaims = { role = \"r\" }\ncaller_claims = [\"role\"]",
                "caller_claims[0]",
            ),
            (
                "subjects = [\"u\"]\ncaller_claims = [\"a\", \"a\"]",
                "caller_claims[1]",
            ),
            ("subjects = [\"u\"]\nsubject = \"typo\"", ""),
        ];
        for (text, key) in cases {
            let error = MintConfig::from_toml(text).expect_err(text);
            assert_eq!(error.key(), key, "{text}: {error}");
        }
    }
}
