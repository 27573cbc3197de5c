//! The sealed handoff as the workflows run it: `.github/workflows/browser-state.yml`'s own
//! `run:` script, executed by bash with the step's `env:` and a PATH that holds only the client,
//! against the real server behind the emulated protected edge; then `open-state` as the test
//! workflow runs it (README "End-to-end tests"). The workflow files' shape: `browser_state_files`.

use std::collections::HashMap;
use std::path::Path;

use ci_fixtures::protection::COOKIE_NAME;
use serde_json::Value;

use crate::browser_state_files::steps;
use crate::storage_state::{DEPLOYMENT_BYPASS, PAGE, TRUSTED_SOURCES, cookie, deployment};
use crate::support::*;

/// Replaces the step's `${{ … }}` with what the runner would put there.
fn resolve(expr: &str, values: &HashMap<&str, String>) -> String {
    let inner = expr
        .strip_prefix("${{ ")
        .and_then(|e| e.strip_suffix(" }}"))
        .unwrap_or_else(|| panic!("a bare expression: {expr}"));
    values
        .get(inner)
        .cloned()
        .unwrap_or_else(|| panic!("the test gives no value for {inner}"))
}

fn outputs(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `ci-preview open-state` as the README's test workflow runs it: no id-token, the state and
/// key in the environment.
async fn open_state(dir: &Path, state: &str, key: &str, url: &str) -> (Run, std::path::PathBuf) {
    let out = dir.join("state.json");
    let _ = std::fs::remove_file(&out);
    let run = Client::new(&["open-state", "--out", out.to_str().unwrap()])
        .env("CI_PREVIEW_STATE", state)
        .env("CI_PREVIEW_STATE_KEY", key)
        .env("PREVIEW_URL", url)
        .env("RUNNER_TEMP", dir)
        .in_actions()
        .run()
        .await;
    (run, out)
}

#[tokio::test]
async fn the_workflow_script_seals_and_the_test_job_opens_a_state_that_passes_the_edge() {
    let (issuer, github) = mocks().await;
    let deployment = deployment(&issuer).await;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("ci-preview")).unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({"number": 12, "pull_request": {"number": 12,
            "head": {"sha": HEAD_SHA, "ref": "feature"}}})
        .to_string(),
    )
    .unwrap();
    let output = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");

    let mut values: HashMap<&str, String> = [
        ("github.token", github.github_token().to_owned()),
        ("inputs.preview-url", deployment.edge.url().to_owned()),
        ("inputs.protection", "oidc".into()),
        ("inputs.protection-audience", TRUSTED_SOURCES.into()),
        ("inputs.allow-host", AUDIENCE_HOST.into()),
        ("inputs.deployment-creator", String::new()),
        ("secrets.deployment-protection-bypass", String::new()),
        ("inputs.flags", "newCheckout=true\n\nlimit=3\n".into()),
        ("inputs.session", r#"{"sub":"e2e-user"}"#.into()),
        ("inputs.expires-in", "30m".into()),
        ("inputs.environment", String::new()),
        ("inputs.timeout", "1m".into()),
    ]
    .into_iter()
    .collect();
    let steps = steps();
    let step = &steps[1];
    let script = dir.path().join("seal.sh");
    std::fs::write(&script, step.run.as_deref().unwrap()).unwrap();
    let run_script = |debug: bool, values: &HashMap<&str, String>| {
        // As the runner runs a `run:` step: bash, with the step's env and the runner's.
        let mut command = tokio::process::Command::new("/bin/bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .env_clear()
            .env("PATH", &bin)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("RUNNER_TEMP", dir.path())
            .envs(runner_env(&github))
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_EVENT_NAME", "pull_request");
        if debug {
            command.env("RUNNER_DEBUG", "1");
        }
        for (name, expr) in &step.env {
            command.env(name, resolve(expr, values));
        }
        command
    };

    // Debug logging would print the outputs: refused before any request.
    let refused = run_script(true, &values).output().await.unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("debug logging"));
    assert!(github.mints().iter().all(|m| m.audience == TRUSTED_SOURCES));

    let sealed = run_script(false, &values).output().await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&sealed.stdout).into_owned(),
        String::from_utf8_lossy(&sealed.stderr).into_owned(),
    );
    eprintln!("--- seal stdout\n{stdout}--- seal stderr\n{stderr}");
    assert_eq!(sealed.status.code(), Some(0));
    let written = outputs(&output);
    let (state, key) = (&written["state"], &written["state-key"]);
    assert_eq!(written["preview-url"], deployment.edge.url());
    assert_eq!(key.len(), 43);
    let log = format!(
        "{stdout}{stderr}{}",
        std::fs::read_to_string(&summary).unwrap_or_default()
    );
    assert!(
        !log.contains(key.as_str()),
        "the key reached the log or summary"
    );
    assert!(!log.contains(state.as_str()));
    assert!(!log.contains(DEPLOYMENT_BYPASS));
    assert!(
        !log.contains(&format!("::add-mask::{key}")),
        "a masked output is dropped"
    );

    // The test job: opens it, and the browser passes the protected preview with the file.
    let url = deployment.edge.url();
    let (run, out) = open_state(dir.path(), state, key, url).await;
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, format!("{}\n", out.display()));
    run.assert_masked_only(key);
    let opened: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let names: Vec<&str> = opened["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["vercel-flag-overrides", "authjs.session-token", COOKIE_NAME]
    );
    for name in &names {
        let value = cookie(&opened, name)["value"].as_str().unwrap();
        assert!(!log.contains(value) || log.contains(&format!("::add-mask::{value}")));
        run.assert_masked_only(value);
    }
    let protection = cookie(&opened, COOKIE_NAME)["value"].as_str().unwrap();
    let page = reqwest::Client::new()
        .get(url)
        .header("cookie", format!("{COOKIE_NAME}={protection}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), PAGE);

    // Another key, an altered or cut blob, another preview: nothing written, nothing echoed.
    let other_key = "A".repeat(43);
    let mut altered = state.clone().into_bytes();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    // Whole base64 quanta cut off: it decodes, and fails to authenticate.
    let cut = &state[..state.len() - 8];
    for (blob, k, at, code) in [
        (state.as_str(), other_key.as_str(), url, 1),
        (altered.as_str(), key.as_str(), url, 1),
        (cut, key.as_str(), url, 1),
        (
            state.as_str(),
            key.as_str(),
            "https://other-git-x.vercel.app",
            1,
        ),
        (state.as_str(), "", url, 2),
        ("", key.as_str(), url, 2),
    ] {
        let (run, out) = open_state(dir.path(), blob, k, at).await;
        assert_eq!(run.code, code, "{at} {}", run.stderr);
        assert!(!out.exists());
        run.assert_masked_only(key);
        assert!(!run.all().contains(state.as_str()));
    }

    // With no preview-url, the script finds the pull request's preview (a deployment of its head
    // by the deploy bot, on an allowed host) and seals for it.
    github.add_pull_request(12, HEAD_SHA);
    let deployment_id = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(deployment_id, "success", Some(url), None);
    values.insert("inputs.preview-url", String::new());
    values.insert("inputs.allow-host", format!("127.0.0.1,{AUDIENCE_HOST}"));
    std::fs::remove_file(&output).unwrap();
    let discovered = run_script(false, &values).output().await.unwrap();
    eprintln!("{}", String::from_utf8_lossy(&discovered.stderr));
    assert_eq!(discovered.status.code(), Some(0));
    let written = outputs(&output);
    assert_eq!(written["preview-url"], url);
    let (run, _) = open_state(dir.path(), &written["state"], &written["state-key"], url).await;
    assert_eq!(run.code, 0);
}

#[tokio::test]
async fn seal_needs_the_step_outputs_file_and_refuses_a_file_too() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    for (args, says) in [
        (&["--seal"][..], "GITHUB_OUTPUT"),
        (&["--seal", "--out", "x.json"], "--out"),
    ] {
        let mut all = vec!["storage-state", "--url", &preview.url, "--flag", "a=1"];
        all.extend_from_slice(args);
        let run = Client::new(&all).github(&github).run().await;
        assert_eq!(run.code, 2, "{args:?}");
        run.assert_stderr_has(&[says]);
    }
    assert!(preview.calls().is_empty());
    assert!(github.mints().is_empty());
}
