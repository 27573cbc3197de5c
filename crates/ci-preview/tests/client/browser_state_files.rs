//! The shape of the workflow files the sealed handoff runs in: `.github/workflows/browser-state.yml`
//! (its one job can mint, so it may use only this repository's install-only action and run only
//! the client) and the README's two workflows a team copies (the key only through `secrets:`,
//! `id-token` only where browser-state.yml is called). `browser_state` runs the workflow's script.

const WORKFLOW: &str = include_str!("../../../../.github/workflows/browser-state.yml");
/// The only action the minting job may use: this repository's, at the caller's pinned commit.
const INSTALL_ACTION: &str = "$/action/install";

/// One step of the workflow's single job: its `uses:`, its `env:` and its `run:` script.
#[derive(Debug, Default)]
pub(crate) struct Step {
    pub(crate) uses: Option<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) run: Option<String>,
    pub(crate) keys: Vec<String>,
}

/// The steps of the workflow's jobs, read line by line (the file is ours and block-styled; a
/// shape this reader does not know fails the test rather than passing unread).
pub(crate) fn steps() -> Vec<Step> {
    let lines: Vec<&str> = WORKFLOW.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "    steps:")
        .expect("the job has steps");
    let mut steps: Vec<Step> = Vec::new();
    let mut i = start + 1;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            i += 1;
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        assert!(
            indent >= 6,
            "a second job or a top-level key after the steps: {line}"
        );
        let body = line.trim_start().trim_start_matches("- ");
        if line.trim_start().starts_with("- ") {
            steps.push(Step::default());
        }
        let step = steps.last_mut().expect("a step");
        let (key, value) = body.split_once(':').expect("key: value");
        step.keys.push(key.to_owned());
        let value = value.trim();
        i += 1;
        match key {
            "uses" => step.uses = Some(value.to_owned()),
            "env" => {
                while i < lines.len() && lines[i].starts_with("          ") {
                    let (name, expr) = lines[i].trim().split_once(": ").expect("NAME: value");
                    step.env.push((name.to_owned(), expr.to_owned()));
                    i += 1;
                }
            }
            "run" => {
                assert_eq!(value, "|", "the script is a literal block");
                let mut script = String::new();
                while i < lines.len() && (lines[i].is_empty() || lines[i].starts_with("          "))
                {
                    script.push_str(lines[i].get(10..).unwrap_or_default());
                    script.push('\n');
                    i += 1;
                }
                step.run = Some(script);
            }
            _ => {}
        }
    }
    steps
}

#[test]
fn the_minting_job_runs_only_this_repositorys_action_and_the_client() {
    assert!(
        WORKFLOW.contains("\n  workflow_call:\n"),
        "a reusable workflow"
    );
    assert!(WORKFLOW.contains("\npermissions: {}\n"));
    let jobs = WORKFLOW.split("\njobs:\n").nth(1).unwrap();
    assert_eq!(
        jobs.lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .count(),
        1,
        "one job"
    );
    assert!(jobs.contains("      id-token: write"));
    let uses: Vec<&str> = WORKFLOW
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses:")
        })
        .map(str::trim)
        .collect();
    assert_eq!(uses, [INSTALL_ACTION], "no other action, no npm, no build");
    let steps = steps();
    assert_eq!(steps.len(), 2, "{steps:?}");
    for step in &steps {
        for key in &step.keys {
            assert!(
                ["name", "id", "uses", "env", "run", "with"].contains(&key.as_str()),
                "step key {key} (no `shell:`: bash runs the script)"
            );
        }
        let script = step.run.as_deref().unwrap_or_default();
        assert!(
            !script.contains("${{"),
            "expressions reach the script as env only"
        );
        let words: Vec<&str> = script
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .collect();
        for banned in [
            "npm", "npx", "node", "cargo", "curl", "wget", "pip", "python", "sudo",
        ] {
            assert!(!words.contains(&banned), "{banned} in the minting job");
        }
    }
    assert_eq!(steps[0].uses.as_deref(), Some(INSTALL_ACTION));
    assert!(steps[1].run.is_some() && steps[1].uses.is_none());
    let action = include_str!("../../../../action/install/action.yml");
    assert!(
        action.contains("CI_PREVIEW_FROM_SOURCE: never"),
        "never builds in a minting job"
    );
}

/// The README's two workflow files (linted by xtask/lint-workflows.sh) hand the key over only
/// through `secrets:`, give `id-token` only to the job that calls browser-state.yml, and open the
/// state with the variables `open-state` reads (the test above runs it with exactly those).
#[test]
fn the_readmes_workflows_pass_the_key_only_through_secrets() {
    let readme = include_str!("../../../../README.md");
    let block = |name: &str| {
        let start = readme
            .find(&format!("```yaml\n# .github/workflows/{name}\n"))
            .unwrap_or_else(|| panic!("README has {name}"));
        let rest = &readme[start + 8..];
        &rest[..rest.find("\n```").unwrap()]
    };
    let caller = block("e2e.yml");
    let key_lines: Vec<&str> = readme
        .lines()
        .filter(|l| l.contains("outputs.state-key"))
        .collect();
    assert_eq!(
        key_lines,
        ["      state-key: ${{ needs.state.outputs.state-key }}"],
        "the key is passed once, as a secret"
    );
    let secrets_at = caller
        .find("    secrets:\n")
        .expect("the e2e job passes secrets:");
    assert!(caller[secrets_at..].contains(key_lines[0]));
    // Jobs: from one `  name:` line to the next.
    let mut jobs: Vec<String> = Vec::new();
    for line in caller.split("\njobs:\n").nth(1).unwrap().lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            jobs.push(String::new());
        }
        let job = jobs.last_mut().unwrap();
        job.push_str(line);
        job.push('\n');
    }
    let minting: Vec<&String> = jobs
        .iter()
        .filter(|j| j.contains("id-token: write"))
        .collect();
    assert_eq!(minting.len(), 1, "{jobs:?}");
    assert!(minting[0].contains("/.github/workflows/browser-state.yml@<commit-sha>"));
    assert!(
        !minting[0].contains("steps:"),
        "the minting job is the reusable workflow"
    );

    let tests = block("e2e-tests.yml");
    assert!(!tests.contains("id-token"), "the test job cannot mint");
    let open = &tests[tests.find("- name: Open the browser state").unwrap()..];
    let open = &open[..open.find("\n      - ").unwrap_or(open.len())];
    for line in [
        "PREVIEW_URL: ${{ inputs.preview-url }}",
        "CI_PREVIEW_STATE: ${{ inputs.state }}",
        "CI_PREVIEW_STATE_KEY: ${{ secrets.state-key }}",
        "run: ci-preview open-state --out \"$RUNNER_TEMP/state.json\"",
    ] {
        assert!(open.contains(line), "{line} in\n{open}");
    }
}
