//! What a policy change grants: every way the head's policy lets more callers in than the base's
//! (the reviewer's list), and which of those are workflow grants (the ones the same-PR rule is
//! about). Both policies are parsed by the server's own parser, `ci_endpoint::server::Policy`.

use std::collections::BTreeSet;

use ci_endpoint::server::Policy;
use ci_oidc::{DEFAULT_EVENTS, EndpointPolicy};

/// One thing the head allows that the base did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The policy key, e.g. `endpoints."flags/x".workflows`.
    pub key: String,
    /// What was added, e.g. `"o/r/.github/workflows/new.yml"` or `single_use removed`.
    pub what: String,
    /// For a workflow grant, the workflow entry it names.
    pub workflow: Option<String>,
}

fn grant(key: String, what: String) -> Grant {
    Grant {
        key,
        what,
        workflow: None,
    }
}

/// Everything `head` grants beyond `base` (`None`: the policy is new in the head).
pub(crate) fn added(base: Option<&Policy>, head: &Policy) -> Vec<Grant> {
    let mut grants = Vec::new();
    let Some(base) = base else {
        grants.push(grant("(file)".into(), "the policy file is new".into()));
        for (name, entry) in head.endpoints() {
            endpoint_added(&mut grants, name, entry);
        }
        return grants;
    };
    if base.issuer() != head.issuer() {
        let issuer = head.issuer();
        grants.push(grant(
            "issuer".into(),
            format!(
                "trusted issuer changed to {:?} (jwks_url {:?}, jwks_file {:?})",
                issuer.url, issuer.jwks_url, issuer.jwks_file
            ),
        ));
    }
    for env in head.serve_in() {
        if !base.serve_in().contains(env) {
            grants.push(grant(
                "serve_in".into(),
                format!("CI routes now served in {env:?}"),
            ));
        }
    }
    if base.stealth() && !head.stealth() {
        grants.push(grant("stealth".into(), "stealth mode turned off".into()));
    }
    for (name, entry) in head.endpoints() {
        match base.endpoint(name) {
            None => endpoint_added(&mut grants, name, entry),
            Some(before) => endpoint_widened(&mut grants, name, before, entry),
        }
    }
    grants
}

fn key(name: &str, field: &str) -> String {
    format!("endpoints.{name:?}.{field}")
}

fn workflow_grant(name: &str, entry: &str) -> Grant {
    Grant {
        key: key(name, "workflows"),
        what: format!("{entry:?}"),
        workflow: Some(entry.to_owned()),
    }
}

fn endpoint_added(grants: &mut Vec<Grant>, name: &str, entry: &EndpointPolicy) {
    grants.push(grant(
        format!("endpoints.{name:?}"),
        format!(
            "new endpoint (audience {:?}, repositories {:?}, events {:?})",
            entry.audience,
            entry.repositories,
            events(entry)
        ),
    ));
    for workflow in &entry.workflows {
        grants.push(workflow_grant(name, workflow));
    }
}

fn events(entry: &EndpointPolicy) -> BTreeSet<String> {
    match &entry.events {
        Some(events) => events.iter().cloned().collect(),
        None => DEFAULT_EVENTS.iter().map(|e| (*e).to_owned()).collect(),
    }
}

/// `owner/repo` case-insensitive, the rest exact: how the verifier compares entries.
fn normalized(entry: &str) -> String {
    match entry.split_once("/.github/") {
        Some((repo, rest)) => format!("{}/.github/{rest}", repo.to_ascii_lowercase()),
        None => entry.to_owned(),
    }
}

fn new_items<'a>(before: &[String], after: &'a [String], fold: bool) -> Vec<&'a String> {
    let norm = |s: &String| {
        if fold {
            s.to_ascii_lowercase()
        } else {
            s.clone()
        }
    };
    let known: BTreeSet<String> = before.iter().map(norm).collect();
    after.iter().filter(|s| !known.contains(&norm(s))).collect()
}

fn endpoint_widened(
    grants: &mut Vec<Grant>,
    name: &str,
    before: &EndpointPolicy,
    after: &EndpointPolicy,
) {
    if before.audience != after.audience {
        grants.push(grant(
            key(name, "audience"),
            format!("now {:?}", after.audience),
        ));
    }
    for repo in new_items(&before.repositories, &after.repositories, true) {
        grants.push(grant(key(name, "repositories"), format!("{repo:?}")));
    }
    if !before.repository_ids.is_empty() && after.repository_ids.is_empty() {
        grants.push(grant(key(name, "repository_ids"), "pin removed".into()));
    }
    for id in new_items(&before.repository_ids, &after.repository_ids, false) {
        if !before.repository_ids.is_empty() {
            grants.push(grant(key(name, "repository_ids"), format!("{id:?}")));
        }
    }
    for id in new_items(
        &before.repository_owner_ids,
        &after.repository_owner_ids,
        false,
    ) {
        grants.push(grant(key(name, "repository_owner_ids"), format!("{id:?}")));
    }
    if before.workflow_claim != after.workflow_claim {
        // Every entry now names another kind of workflow: each is a new grant.
        grants.push(grant(
            key(name, "workflow_claim"),
            format!(
                "{} -> {}",
                before.workflow_claim.as_str(),
                after.workflow_claim.as_str()
            ),
        ));
        for workflow in &after.workflows {
            grants.push(workflow_grant(name, workflow));
        }
    } else {
        let known: BTreeSet<String> = before.workflows.iter().map(|w| normalized(w)).collect();
        for workflow in &after.workflows {
            if !known.contains(&normalized(workflow)) {
                grants.push(workflow_grant(name, workflow));
            }
        }
    }
    let (old_events, new_events) = (events(before), events(after));
    for event in new_events.difference(&old_events) {
        grants.push(grant(key(name, "events"), format!("{event:?} allowed")));
    }
    if before.single_use && !after.single_use {
        grants.push(grant(key(name, "single_use"), "removed".into()));
    }
    if before.bind_deployment && !after.bind_deployment {
        grants.push(grant(key(name, "bind_deployment"), "removed".into()));
    }
    if after.cookie_max_age > before.cookie_max_age {
        grants.push(grant(
            key(name, "cookie_max_age"),
            format!(
                "raised {} -> {} s",
                before.cookie_max_age, after.cookie_max_age
            ),
        ));
    }
}

/// The path in this repository a workflow entry names, when the entry is one of `repository`'s
/// own (any repository's, when it is not known): `.github/workflows/FILE`.
pub(crate) fn local_path(entry: &str, repository: Option<&str>) -> Option<String> {
    let path = without_ref(entry);
    let (repo, file) = path.split_once("/.github/workflows/")?;
    if let Some(own) = repository
        && !repo.eq_ignore_ascii_case(own)
    {
        return None;
    }
    Some(format!(".github/workflows/{file}"))
}

/// An entry without the ref it may name (`…/FILE.yml@refs/heads/main`, `…/FILE.yml@<sha>`).
fn without_ref(entry: &str) -> &str {
    if let Some(at) = entry.find("@refs/") {
        return &entry[..at];
    }
    match entry.rsplit_once('@') {
        Some((path, sha)) if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => path,
        _ => entry,
    }
}
