//! The template as a team uses it: `templates/vercel/` copied out and built as a project of its
//! own against this checkout (its toolkit dependencies pointed at `crates/` by path, everything
//! else as its committed `Cargo.lock` pins it), its scaffold run for a plain and a destructive
//! endpoint, its team crates' tests run against a real Redis, and the function serving the team's endpoint (`cleanup/kv`) next to a built-in one
//! (`flags/encrypt-override`) under the emulated Vercel host. If the kit's API and the template
//! drift apart, this fails to build; if the committed `Cargo.lock` no longer pins the tree, it
//! fails saying how to refresh it.
//!
//! The copy builds in `target/tmp/template-project/` (kept between runs, so only the first run
//! pays the whole dependency tree).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use ci_fixtures::{
    DEFAULT_OWNER, DEFAULT_PULL_REQUEST, DEFAULT_REPOSITORY, DEFAULT_REPOSITORY_ID, MockIssuer,
    redis::TestRedis, vercel::VercelHost,
};
use serde_json::{Value, json};

/// Where the template takes the toolkit from (replaced by a path here).
const TOOLKIT_GIT: &str = "https://github.com/OWNER/ci-in-preview";
/// Set to `1` to rewrite `templates/vercel/Cargo.lock` from this checkout's resolution.
const UPDATE_LOCK_VAR: &str = "CI_PREVIEW_UPDATE_TEMPLATE_LOCK";
const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";

pub(crate) fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub(crate) fn template() -> PathBuf {
    checkout().join("templates/vercel")
}

/// Copies the template (without build output) to `to`, pointing the toolkit at this checkout.
pub(crate) fn copy_as_project(to: &Path) {
    copy_dir(&template(), to);
    // Line by line, so the manifest keeps its layout (the scaffold edits it as text).
    let manifest = to.join("Cargo.toml");
    let source = format!("{{ git = \"{TOOLKIT_GIT}\", tag = \"");
    let mut toolkit = 0;
    let mut text = String::new();
    for line in std::fs::read_to_string(&manifest).unwrap().lines() {
        let rewritten = line.split_once(" = ").and_then(|(name, rest)| {
            let tail = rest.strip_prefix(&source)?;
            let (_tag, tail) = tail.split_once('"')?;
            let path = checkout().join("crates").join(name);
            assert!(
                path.is_dir(),
                "the template takes {name} from the toolkit: no crates/{name}"
            );
            Some(format!(
                "{name} = {{ path = {:?}{tail}",
                path.display().to_string()
            ))
        });
        toolkit += usize::from(rewritten.is_some());
        text.push_str(rewritten.as_deref().unwrap_or(line));
        text.push('\n');
    }
    assert!(
        toolkit >= 3,
        "the template takes the toolkit from {TOOLKIT_GIT}"
    );
    std::fs::write(&manifest, text).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        let kind = entry.file_type().unwrap();
        assert!(
            !kind.is_symlink(),
            "{}: a copied symlink dangles; ship a file",
            source.display()
        );
        if kind.is_dir() {
            copy_dir(&source, &dest);
        } else {
            std::fs::copy(&source, &dest).unwrap();
        }
    }
}

/// Runs cargo in the project copy (its target dir kept between runs) and returns its stdout; a
/// failure fails the test with both outputs. Builds and tests pass `--offline` themselves: the
/// copy must build from what this checkout already fetched.
pub(crate) fn cargo(project: &Path, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("template-project");
    let output = Command::new(cargo)
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo {args:?} in the template project failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `(name, version, source)` of every registry package a lock file pins.
fn registry_packages(lock: &str) -> BTreeSet<(String, String, String)> {
    let lock: toml::Table = lock.parse().unwrap();
    lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let source = p.get("source")?.as_str()?;
            source.starts_with("registry+").then(|| {
                let field = |k: &str| p[k].as_str().unwrap().to_owned();
                (field("name"), field("version"), source.to_owned())
            })
        })
        .collect()
}

/// The resolved lock with the toolkit's path packages written as the template's git source.
fn as_template_lock(resolved: &str) -> String {
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(checkout())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|c| c.len() == 40)
        .unwrap_or_else(|| "0".repeat(40));
    let toolkit: BTreeSet<String> = std::fs::read_dir(checkout().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut out = String::new();
    let mut name = String::new();
    for line in resolved.lines() {
        out.push_str(line);
        out.push('\n');
        if let Some(rest) = line.strip_prefix("name = ") {
            name = rest.trim_matches('"').to_owned();
        }
        if line.starts_with("version = ") && toolkit.contains(&name) {
            out.push_str(&format!(
                "source = \"git+{TOOLKIT_GIT}?tag=v0.1.0#{commit}\"\n"
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_template_builds_as_its_own_project_and_serves_its_endpoint_and_a_builtin() {
    let Some(redis) = TestRedis::get("template_project") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app");
    copy_as_project(&project);

    cargo(&project, &["build", "--offline", "--bin", "ci-in-preview"]);
    let committed = std::fs::read_to_string(template().join("Cargo.lock")).unwrap_or_default();
    let resolved = std::fs::read_to_string(project.join("Cargo.lock")).unwrap();
    if std::env::var(UPDATE_LOCK_VAR).is_ok_and(|v| v == "1") {
        std::fs::write(template().join("Cargo.lock"), as_template_lock(&resolved)).unwrap();
    } else {
        assert_eq!(
            registry_packages(&committed),
            registry_packages(&resolved),
            "templates/vercel/Cargo.lock does not pin what the template resolves to: refresh it \
             with {UPDATE_LOCK_VAR}=1 cargo test -p ci-preview-vercel --test vercel template_project::"
        );
    }

    // The scaffold, as a team runs it in its project (sh, awk, grep), for a plain and a
    // destructive endpoint; then the team crates' tests, as the team runs them.
    for args in [&["reports/ping"][..], &["cleanup/db", "--destructive"]] {
        let status = Command::new("sh")
            .arg("scripts/new-endpoint.sh")
            .args(args)
            .current_dir(&project)
            .status()
            .unwrap();
        assert!(status.success(), "scripts/new-endpoint.sh {args:?}");
    }
    let policy_text = std::fs::read_to_string(project.join("ci-policy.toml")).unwrap();
    let scaffolded = ci_endpoint::server::Policy::from_toml_str(&policy_text).unwrap();
    let strict = scaffolded.endpoint("cleanup/db").unwrap();
    assert!(strict.single_use && strict.bind_deployment && !strict.repository_ids.is_empty());
    cargo(&project, &["build", "--offline", "--bin", "ci-in-preview"]);
    cargo(
        &project,
        &[
            "test",
            "--offline",
            "-p",
            "cleanup-kv",
            "-p",
            "reports-ping",
            "-p",
            "cleanup-db",
        ],
    );
    // What a team's own CI holds its crates to, the scaffolded ones included.
    cargo(
        &project,
        &[
            "clippy",
            "--offline",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    );
    cargo(&project, &["fmt", "--check"]);

    let issuer = MockIssuer::start().await;
    let policy = dir.path().join("ci-policy.toml");
    let strict = "repository_ids = [\"123456789\"]\nsingle_use = true\nbind_deployment = true\n\
                  [endpoints.\"cleanup/kv\".config]\npatterns = [\"e2e:{repository_id}:{run_id}:*\"]\n";
    let text = format!(
        "{}\n{}single_use = true\nbind_deployment = true\n{}{strict}",
        issuer.policy_toml(
            "flags/encrypt-override",
            "https://app.test/api/~/ci/flags/encrypt-override"
        ),
        ci_fixtures::policy_entry(
            "vercel/protection-cookie",
            "https://app.test/api/~/ci/vercel/protection-cookie"
        ),
        ci_fixtures::policy_entry("cleanup/kv", "https://app.test/api/~/ci/cleanup/kv"),
    );
    std::fs::write(&policy, text).unwrap();
    let binary =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("template-project/debug/ci-in-preview");
    let pull_request = DEFAULT_PULL_REQUEST.to_string();
    let slug = DEFAULT_REPOSITORY.split_once('/').unwrap().1;
    let url = redis.url();
    let mut env = vec![
        ("CI_PREVIEW_POLICY", policy.to_str().unwrap()),
        ("VERCEL_ENV", "preview"),
        ("VERCEL_GIT_PULL_REQUEST_ID", pull_request.as_str()),
        ("VERCEL_GIT_REPO_OWNER", DEFAULT_OWNER),
        ("VERCEL_GIT_REPO_SLUG", slug),
        ("VERCEL_GIT_REPO_ID", DEFAULT_REPOSITORY_ID),
        ("FLAGS_SECRET", SECRET),
        ("KV_URL", url.as_str()),
        ("VERCEL_AUTOMATION_BYPASS_SECRET", "template-bypass-secret"),
    ];

    // Many instances serve a Vercel deployment: single_use without a shared store stops start-up.
    let refused = VercelHost::start(&binary, &env).await.unwrap_err();
    assert!(
        refused.output.contains("CI_PREVIEW_REDIS_URL"),
        "{}",
        refused.output
    );
    assert!(
        refused.frames.is_empty(),
        "no server-started before the refusal"
    );

    env.push(("CI_PREVIEW_REDIS_URL", url.as_str()));
    let host = VercelHost::start(&binary, &env)
        .await
        .unwrap_or_else(|failure| panic!("the template's function did not start: {failure:?}"));
    let health: Value = reqwest::get(format!("{}/api/~/ci/health", host.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = health["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "flags/encrypt-override",
            "vercel/protection-cookie",
            "cleanup/kv"
        ],
        "{health}"
    );
    assert!(
        health["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["ready"] == true),
        "{health}"
    );

    let call = |name: &'static str, body: Value| {
        let token = issuer
            .token(&format!("https://app.test/api/~/ci/{name}"))
            .build();
        let url = format!("{}/api/~/ci/{name}", host.url());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header(ci_endpoint::TOKEN_HEADER, token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, answer) = call("flags/encrypt-override", json!({ "flags": { "a": true } })).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["cookie"]
            .as_str()
            .is_some_and(|c| c.split('.').count() == 5)
    );
    let (status, answer) = call("cleanup/kv", json!({ "dryRun": true })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["dryRun"], true);
    host.stop().await.unwrap();
}
