//! `action/run.sh`, the action's second step, with a stand-in client that records what it gets.
//!
//! Why: the script is where action inputs become the client's flags and variables, so it is where
//! a secret could slip onto a command line or an empty input could override a client default.
//! The stand-in records its arguments and environment; the real client's behaviour is the client
//! suite's business.

use std::path::Path;
use std::process::{Command, Output};

/// Records its arguments and the variables the action may set; answers `call` like an endpoint.
const FAKE_CLIENT: &str = r#"#!/bin/sh
echo "$*" > "$RECORD/args"
env | grep -E '^(DEPLOYMENT_PROTECTION_BYPASS|CI_PREVIEW_[A-Z_]+|PREVIEW_URL|GITHUB_TOKEN)=' \
  | grep -v '^CI_PREVIEW_INPUT_' | grep -v '^CI_PREVIEW_BIN=' | sort > "$RECORD/env"
case "$1" in
  call) echo '{"name":"authjs.session-token","cookie":"eyJhbGciOi.x.y.z.w","expires":1}' ;;
  smoke) echo "preview-url=https://app-git-x.vercel.app" >> "$GITHUB_OUTPUT" ;;
esac
"#;

struct Ran {
    dir: tempfile::TempDir,
    output: Output,
}

impl Ran {
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

fn run(inputs: &[(&str, &str)]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let client = dir.path().join("ci-preview");
    std::fs::write(&client, FAKE_CLIENT).unwrap();
    assert!(
        Command::new("chmod")
            .arg("+x")
            .arg(&client)
            .status()
            .unwrap()
            .success()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../action/run.sh");
    let output = Command::new("bash")
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RECORD", dir.path())
        .env("CI_PREVIEW_BIN", &client)
        .env("GITHUB_OUTPUT", dir.path().join("github_output"))
        .env("GITHUB_TOKEN", "ghs_job_token")
        .envs(
            inputs
                .iter()
                .map(|(k, v)| (format!("CI_PREVIEW_INPUT_{k}"), *v)),
        )
        .output()
        .unwrap();
    Ran { dir, output }
}

#[test]
fn smoke_gets_flags_for_plain_inputs_and_variables_for_secrets_and_client_settings() {
    let ran = run(&[
        ("COMMAND", "smoke"),
        ("ENVIRONMENT", "Preview – web"),
        ("TIMEOUT", "10m"),
        ("BYPASS", "bypass-secret-value"),
        ("PROTECTION", "oidc"),
        ("ALLOW_HOST", "*.example.dev\npreview.example.com"),
        ("DEPLOYMENT_CREATOR", "vercel[bot]"),
        ("AUDIENCE", ""),
    ]);
    assert!(ran.output.status.success(), "{}", ran.stderr());
    assert_eq!(
        ran.read("args"),
        "smoke --environment Preview – web --timeout 10m\n"
    );
    assert_eq!(
        ran.read("env"),
        "CI_PREVIEW_ALLOW_HOSTS=*.example.dev,preview.example.com\n\
         CI_PREVIEW_DEPLOYMENT_CREATOR=vercel[bot]\n\
         CI_PREVIEW_PROTECTION=oidc\n\
         DEPLOYMENT_PROTECTION_BYPASS=bypass-secret-value\n\
         GITHUB_TOKEN=ghs_job_token\n",
        "empty inputs (audience) must leave the client's default alone"
    );
    assert!(!ran.read("args").contains("bypass-secret-value"));
    assert_eq!(
        ran.read("github_output"),
        "preview-url=https://app-git-x.vercel.app\n"
    );
}

#[test]
fn call_writes_the_answer_and_cookie_length_under_a_random_delimiter() {
    let ran = run(&[
        ("COMMAND", "call"),
        ("ENDPOINT", "auth/encrypt-session"),
        ("DATA", r#"{"session":{"sub":"ci-test-user"}}"#),
        ("PREVIEW_URL", "https://app-git-x.vercel.app"),
    ]);
    assert!(ran.output.status.success(), "{}", ran.stderr());
    assert_eq!(
        ran.read("args"),
        "call auth/encrypt-session --data {\"session\":{\"sub\":\"ci-test-user\"}}\n"
    );
    assert!(
        ran.read("env")
            .contains("PREVIEW_URL=https://app-git-x.vercel.app\n")
    );
    let outputs = ran.read("github_output");
    let lines: Vec<&str> = outputs.lines().collect();
    assert_eq!(lines[0], "preview-url=https://app-git-x.vercel.app");
    let delimiter = lines[1].strip_prefix("answer<<").expect("a heredoc output");
    assert!(delimiter.len() >= 32, "random delimiter: {delimiter}");
    assert!(lines[2].starts_with(r#"{"name":"authjs.session-token""#));
    assert_eq!(lines[3], delimiter);
    if Command::new("jq").arg("--version").output().is_ok() {
        assert_eq!(lines[4], "cookie-length=18");
    }
}

#[test]
fn call_without_a_preview_url_or_endpoint_is_refused_before_the_client_runs() {
    let ran = run(&[("COMMAND", "call"), ("ENDPOINT", "auth/encrypt-session")]);
    assert_eq!(ran.output.status.code(), Some(2));
    assert!(
        ran.stderr().contains("needs preview-url"),
        "{}",
        ran.stderr()
    );
    assert_eq!(ran.read("args"), "", "the client never ran");

    let ran = run(&[("COMMAND", "call"), ("PREVIEW_URL", "https://x.vercel.app")]);
    assert_eq!(ran.output.status.code(), Some(2));
    assert!(ran.stderr().contains("needs the endpoint input"));

    let ran = run(&[("COMMAND", "smok")]);
    assert_eq!(ran.output.status.code(), Some(2));
    assert!(ran.stderr().contains("must be smoke, call or install"));
}
