//! The example's own `ci-policy.toml`, pointed at the run's mocks: the mock issuer instead of
//! GitHub's, each endpoint's audience on the emulated preview's URL, and the fixtures' repository,
//! ids and workflow instead of the placeholders. Everything else (which endpoints, `serve_in`,
//! `single_use`, `bind_deployment`, `cookie_max_age`, subject lists) is the example's, so the run
//! proves the policy a team copies, not one written for the test.

use toml::{Table, Value};

use crate::flags::{Result, failed};

/// The keys that name who may call; replaced by the fixtures' values.
fn caller(key: &str) -> Option<Value> {
    let list = |item: &str| Some(Value::Array(vec![Value::String(item.to_owned())]));
    match key {
        "repositories" => list(ci_fixtures::DEFAULT_REPOSITORY),
        "repository_ids" => list(ci_fixtures::DEFAULT_REPOSITORY_ID),
        "repository_owner_ids" => list(ci_fixtures::DEFAULT_OWNER_ID),
        "workflows" => list(ci_fixtures::DEFAULT_WORKFLOW),
        _ => None,
    }
}

/// `policy` (the example's text) for a preview at `preview_url` trusting `issuer_url`.
pub(super) fn for_run(policy: &str, issuer_url: &str, preview_url: &str) -> Result<String> {
    let mut table: Table = policy
        .parse()
        .map_err(|e| failed(format!("examples/nextjs/ci-policy.toml: {e}")))?;
    let issuer = table
        .get_mut("issuer")
        .and_then(Value::as_table_mut)
        .ok_or_else(|| failed("examples/nextjs/ci-policy.toml has no [issuer] table"))?;
    issuer.insert("url".to_owned(), Value::String(issuer_url.to_owned()));
    let endpoints = table
        .get_mut("endpoints")
        .and_then(Value::as_table_mut)
        .ok_or_else(|| failed("examples/nextjs/ci-policy.toml has no [endpoints.*] table"))?;
    for (name, entry) in endpoints.iter_mut() {
        let entry = entry
            .as_table_mut()
            .ok_or_else(|| failed(format!("endpoint {name:?} is not a table")))?;
        entry.insert(
            "audience".to_owned(),
            Value::String(format!("{preview_url}/api/~/ci/{name}")),
        );
        for (key, value) in entry.iter_mut() {
            if let Some(replacement) = caller(key) {
                *value = replacement;
            }
        }
        // The mock's tokens name the fixtures' workflow in the default claim.
        entry.remove("workflow_claim");
    }
    Ok(table.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_policy_is_pointed_at_the_mocks() {
        let example =
            std::fs::read_to_string(crate::project_root().join("examples/nextjs/ci-policy.toml"))
                .unwrap();
        let text = for_run(&example, "http://127.0.0.1:9", "https://p.test:1").unwrap();
        let table: Table = text.parse().unwrap();
        assert_eq!(table["issuer"]["url"].as_str(), Some("http://127.0.0.1:9"));
        let endpoints = table["endpoints"].as_table().unwrap();
        assert!(endpoints.contains_key("flags/encrypt-override"));
        assert!(endpoints.contains_key("auth/encrypt-session"));
        for (name, entry) in endpoints {
            assert_eq!(
                entry["audience"].as_str().unwrap(),
                format!("https://p.test:1/api/~/ci/{name}")
            );
            assert_eq!(
                entry["repository_owner_ids"][0].as_str(),
                Some(ci_fixtures::DEFAULT_OWNER_ID)
            );
        }
        // The example's own posture survives.
        assert_eq!(
            endpoints["auth/encrypt-session"]["single_use"].as_bool(),
            Some(true)
        );
    }
}
