//! The action's install logic (`action/install.sh`) against a fake release on 127.0.0.1.
//!
//! Why here: the script decides what runs in a user's job (a downloaded binary, a source build,
//! or nothing), so each of its paths is driven for real, with `curl` fetching from a local HTTP
//! server. Only the two tools that need GitHub are stood in for by scripts on PATH: `gh` (the
//! tags and release lookups, whose answers the test's files and variables choose, and
//! `attestation verify`, whose arguments are recorded and whose verdict and supported flags the
//! test chooses) and `cargo` (a source build that writes a stub binary, so the fallback is seen
//! without compiling anything).

use crate::install_support::{ASSET, COMMIT, REPO, Setup, TAG};

#[test]
fn happy_path_installs_the_release_after_checksum_and_attestation() {
    let setup = Setup::new();
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_eq!(setup.installed_says(), "ci-preview 0.3.0 (released)");
    let outputs = setup.read("github_output");
    let installed = setup.path("install/bin/ci-preview");
    assert!(outputs.contains(&format!("client-path={}\n", installed.display())));
    assert!(outputs.contains("client-source=release\n"), "{outputs}");
    assert_eq!(
        setup.read("github_path").trim(),
        setup.path("install/bin").display().to_string()
    );
    // The attestation is checked against this repository's release workflow and the exact commit
    // the action was pinned to: what the download itself cannot supply.
    let gh = setup.read("gh.log");
    let expected = format!(
        "--repo {REPO} --signer-workflow {REPO}/.github/workflows/release.yml \
         --source-ref refs/tags/{TAG} --source-digest {COMMIT} --deny-self-hosted-runners"
    );
    assert!(gh.starts_with("attestation verify "), "{gh}");
    assert!(gh.trim_end().ends_with(&expected), "{gh}");
    assert_eq!(setup.read("cargo.log"), "", "no source build");
    assert_eq!(
        setup.release.requests(),
        [format!("/{TAG}/{ASSET}"), format!("/{TAG}/SHA256SUMS")]
    );
    assert!(run.stderr().contains("ci-preview client ready"));
}

#[test]
fn without_github_action_ref_the_runner_checkout_path_names_repository_and_ref() {
    // Composite actions do not always get github.action_ref; the runner's _actions/OWNER/NAME/REF
    // folder still says which action and ref this is.
    let setup = Setup::new()
        .unset("CI_PREVIEW_ACTION_REPOSITORY")
        .unset("CI_PREVIEW_ACTION_REF");
    let action_path = setup.path(&format!("_actions/{REPO}/{COMMIT}"));
    let setup = setup.set("GITHUB_ACTION_PATH", &action_path.display().to_string());
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_eq!(setup.installed_says(), "ci-preview 0.3.0 (released)");
    let gh = setup.read("gh.log");
    assert!(gh.contains(&format!("--repo {REPO} ")), "{gh}");
    assert!(gh.contains(&format!("--source-digest {COMMIT} ")), "{gh}");
}

#[test]
fn the_install_only_action_folder_names_repository_and_ref_and_never_builds() {
    // `$/action/install` (browser-state.yml): the action lives in a folder of the repository.
    let setup = Setup::new()
        .unset("CI_PREVIEW_ACTION_REPOSITORY")
        .unset("CI_PREVIEW_ACTION_REF")
        .set("CI_PREVIEW_FROM_SOURCE", "never");
    let action_path = setup.path(&format!("_actions/{REPO}/{COMMIT}/action/install"));
    let setup = setup.set("GITHUB_ACTION_PATH", &action_path.display().to_string());
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_eq!(setup.installed_says(), "ci-preview 0.3.0 (released)");
    assert!(
        setup
            .read("gh.log")
            .contains(&format!("--source-digest {COMMIT} "))
    );

    // Any other folder names no ref: refused, never built.
    let setup = Setup::new()
        .unset("CI_PREVIEW_ACTION_REPOSITORY")
        .unset("CI_PREVIEW_ACTION_REF")
        .set("CI_PREVIEW_FROM_SOURCE", "never");
    let action_path = setup.path(&format!("_actions/{REPO}/{COMMIT}/elsewhere"));
    let setup = setup.set("GITHUB_ACTION_PATH", &action_path.display().to_string());
    let run = setup.run();
    assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
    assert_eq!(setup.read("cargo.log"), "");
}

#[test]
fn a_floating_tag_finds_the_release_at_its_commit() {
    let setup = Setup::new().set("CI_PREVIEW_ACTION_REF", "v0");
    std::fs::write(
        setup.path("tags.txt"),
        format!("v0 {COMMIT}\n{TAG} {COMMIT}\nv0.2.0 {}\n", "f".repeat(40)),
    )
    .unwrap();
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_eq!(setup.installed_says(), "ci-preview 0.3.0 (released)");
    // `v0` has no release of its own (the API says so); nothing is downloaded from it.
    assert_eq!(
        setup.release.requests(),
        [format!("/{TAG}/{ASSET}"), format!("/{TAG}/SHA256SUMS")]
    );
    // Verified against the tag whose release workflow built it.
    assert!(
        setup
            .read("gh.log")
            .contains(&format!("--source-ref refs/tags/{TAG} "))
    );
}

#[test]
fn a_tag_ref_and_an_arm_runner_want_that_release_s_arm_asset() {
    let setup = Setup::new()
        .set("CI_PREVIEW_ACTION_REF", TAG)
        .set("RUNNER_ARCH", "ARM64");
    let run = setup.run();
    // The fake release has no aarch64 binary: a released platform missing from the release of the
    // pinned commit is an incomplete release, refused, not replaced by a source build.
    assert_eq!(run.code(), Some(1), "stderr:\n{}", run.stderr());
    assert!(
        run.stderr()
            .contains(&format!("release {TAG} has no ci-preview-linux-aarch64")),
        "{}",
        run.stderr()
    );
    assert_eq!(setup.read("cargo.log"), "", "no source build");
    assert!(setup.release.requests().is_empty());
}

#[test]
fn checksum_mismatch_is_refused_and_nothing_is_installed() {
    let setup = Setup::new();
    let sums = setup.path(&format!("release/{TAG}/SHA256SUMS"));
    std::fs::write(&sums, format!("{}  {ASSET}\n", "0".repeat(64))).unwrap();
    let run = setup.run();
    assert_eq!(run.code(), Some(1), "stderr:\n{}", run.stderr());
    assert!(
        run.stderr().contains("checksum mismatch"),
        "{}",
        run.stderr()
    );
    assert!(!setup.path("install/bin/ci-preview").exists());
    // A tampered download is an incident, not a reason to build something else instead.
    assert_eq!(setup.read("cargo.log"), "");
    assert_eq!(
        setup.read("gh.log"),
        "",
        "no attestation check on a bad checksum"
    );
    assert_eq!(setup.read("github_output"), "");
}

#[test]
fn a_failed_attestation_is_refused_and_nothing_is_installed() {
    let setup = Setup::new().set("FAKE_GH_ATTEST_STATUS", "1");
    let run = setup.run();
    assert_eq!(run.code(), Some(1), "stderr:\n{}", run.stderr());
    assert!(run.stderr().contains("does not verify"), "{}", run.stderr());
    assert!(!setup.path("install/bin/ci-preview").exists());
    assert_eq!(setup.read("cargo.log"), "");
}

#[test]
fn a_release_without_its_binary_or_checksums_fails_instead_of_building_from_source() {
    // Deleting a file from a release must not turn the install into a source build: that runs
    // dependency code in a job that may mint tokens.
    for (removed, says) in [
        (ASSET, format!("release {TAG} has no {ASSET}")),
        ("SHA256SUMS", format!("release {TAG} has no SHA256SUMS")),
    ] {
        let setup = Setup::new();
        std::fs::remove_file(setup.path(&format!("release/{TAG}/{removed}"))).unwrap();
        let run = setup.run();
        assert_eq!(run.code(), Some(1), "stderr:\n{}", run.stderr());
        let stderr = run.stderr();
        assert!(stderr.contains(&says), "{stderr}");
        assert!(stderr.contains("Refusing to build from source"), "{stderr}");
        assert_eq!(setup.read("cargo.log"), "", "no source build");
        assert!(setup.release.requests().is_empty(), "nothing downloaded");
        assert!(!setup.path("install/bin/ci-preview").exists());
        assert_eq!(setup.read("github_output"), "");
    }
}

#[test]
fn a_tag_whose_release_is_not_published_falls_back_to_a_source_build() {
    // The tag is there, its release is not (yet): the commit has no release, so `auto` builds.
    let setup = Setup::new();
    std::fs::remove_dir_all(setup.path(&format!("release/{TAG}"))).unwrap();
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert!(
        run.stderr().contains(&format!(
            "no release of {REPO} at {COMMIT} (tags there: {TAG})"
        )),
        "{}",
        run.stderr()
    );
    assert_eq!(setup.installed_says(), "ci-preview (built from source)");
    let cargo = setup.read("cargo.log");
    let manifest = setup.path("source/Cargo.toml");
    assert!(
        cargo.starts_with(&format!(
            "build --release --locked -p ci-preview --manifest-path {}",
            manifest.display()
        )),
        "{cargo}"
    );
    assert!(
        setup
            .read("github_output")
            .contains("client-source=source\n")
    );
    assert!(setup.release.requests().is_empty());
}

#[test]
fn a_private_action_repository_is_named_as_the_cause() {
    // GitHub answers 404 for a repository the job's token may not see.
    let setup = Setup::new().set("FAKE_GH_API_STATUS", "404");
    let run = setup.run();
    assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!(
            "cannot list the tags of {REPO}: it is not visible to this job's token (HTTP 404)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("private or internal"), "{stderr}");
    assert!(stderr.contains("pass client-path"), "{stderr}");
    assert!(!stderr.contains("GH_TOKEN"), "a token is set: {stderr}");
    // gh's own message (text from the network) is not repeated.
    assert!(!stderr.contains("Not Found"), "{stderr}");
    assert_eq!(setup.read("cargo.log"), "");
    assert!(setup.release.requests().is_empty());
}

#[test]
fn a_gh_too_old_for_the_attestation_check_is_named_before_any_download() {
    // gh 2.60 has `attestation verify` but not --source-ref/--source-digest; Debian's 2.23 has no
    // `attestation` at all. Either would fail the check as if the attestation were bad.
    let cases = [
        (
            Setup::new().set("FAKE_GH_VERSION", "2.60.1").set(
                "FAKE_GH_VERIFY_FLAGS",
                "--owner --repo --signer-workflow --deny-self-hosted-runners",
            ),
            "gh 2.60.1 cannot check the build provenance of the release: its `gh attestation \
             verify` lacks --source-ref --source-digest.",
        ),
        (
            Setup::new().set("FAKE_GH_VERSION", "2.23.0"),
            "gh 2.23.0 cannot check the build provenance of the release: its `gh attestation \
             verify` lacks --repo --signer-workflow --source-ref --source-digest \
             --deny-self-hosted-runners.",
        ),
    ];
    for (setup, says) in cases {
        let run = setup.run();
        assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
        let stderr = run.stderr();
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains("Install gh 2.68.0 or later"), "{stderr}");
        assert!(!stderr.contains("does not verify"), "{stderr}");
        assert!(setup.release.requests().is_empty(), "nothing downloaded");
        assert_eq!(setup.read("gh.log"), "", "no verification attempted");
        assert_eq!(setup.read("cargo.log"), "");
    }
}

#[test]
fn a_ref_without_a_release_falls_back_and_never_refuses() {
    let setup = Setup::new().set("CI_PREVIEW_ACTION_REF", &"a".repeat(40));
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert!(
        run.stderr()
            .contains("no release tag of owner/ci-in-preview")
    );
    assert_eq!(setup.installed_says(), "ci-preview (built from source)");
    assert!(setup.release.requests().is_empty());

    let never = Setup::new()
        .set("CI_PREVIEW_ACTION_REF", &"a".repeat(40))
        .set("CI_PREVIEW_FROM_SOURCE", "never");
    let run = never.run();
    assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
    assert!(run.stderr().contains("from-source is `never`"));
    assert_eq!(never.read("cargo.log"), "");
}

#[test]
fn an_unsupported_platform_is_named() {
    let setup = Setup::new()
        .set("RUNNER_OS", "macOS")
        .set("RUNNER_ARCH", "ARM64")
        .set("CI_PREVIEW_FROM_SOURCE", "never");
    let run = setup.run();
    assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains("no released ci-preview binary for this platform: macOS ARM64"),
        "{stderr}"
    );
    assert!(
        stderr.contains("releases have linux-x86_64, linux-aarch64"),
        "{stderr}"
    );
    assert!(setup.release.requests().is_empty());

    // With the default, the same runner builds from source instead.
    let auto = Setup::new()
        .set("RUNNER_OS", "macOS")
        .set("RUNNER_ARCH", "ARM64");
    let run = auto.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_eq!(auto.installed_says(), "ci-preview (built from source)");
}

#[test]
fn a_given_client_is_put_alone_in_the_folder_on_path() {
    let setup = Setup::new();
    // As an artifact arrives from another job: without its executable bit, in a folder with
    // other files (here the test's own folder, which holds the fake gh's data, say).
    let given = setup.path("given-ci-preview");
    std::fs::write(&given, "#!/bin/sh\necho given\n").unwrap();
    let setup = setup.set("CI_PREVIEW_CLIENT", &given.display().to_string());
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert!(run.stderr().contains("(given)"), "{}", run.stderr());
    assert_the_client_alone_on_path(&setup, "given");
    assert!(setup.release.requests().is_empty());
}

#[test]
fn a_relative_client_path_is_resolved_and_never_puts_its_folder_on_path() {
    // `client-path: ./ci-preview` in a workflow is relative to the workspace; its folder (`.`,
    // the whole checkout) must not go on PATH for every later step.
    let setup = Setup::new();
    std::fs::write(setup.path("ci-preview"), "#!/bin/sh\necho relative\n").unwrap();
    let setup = setup.set("CI_PREVIEW_CLIENT", "./ci-preview");
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_the_client_alone_on_path(&setup, "relative");

    let missing = Setup::new().set("CI_PREVIEW_CLIENT", "artifact/ci-preview");
    let run = missing.run();
    assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
    let looked_for = missing.path("artifact/ci-preview");
    assert!(
        run.stderr().contains(&format!(
            "client-path artifact/ci-preview does not exist (looked for {})",
            looked_for.display()
        )),
        "{}",
        run.stderr()
    );
}

/// The one line on `$GITHUB_PATH` is the absolute install folder, which holds the client alone;
/// `client-path` names the client there, and it runs.
fn assert_the_client_alone_on_path(setup: &Setup, says: &str) {
    let bin = setup.path("install/bin");
    assert_eq!(setup.read("github_path"), format!("{}\n", bin.display()));
    let entries: Vec<_> = std::fs::read_dir(&bin)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["ci-preview"]);
    let outputs = setup.read("github_output");
    assert!(
        outputs.contains(&format!(
            "client-path={}\n",
            bin.join("ci-preview").display()
        )),
        "{outputs}"
    );
    assert!(outputs.contains("client-source=given\n"), "{outputs}");
    assert_eq!(setup.installed_says(), says);
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    let setup = Setup::new().set("CI_PREVIEW_RELEASE_URL", "http://releases.example.com");
    let run = setup.run();
    assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
    assert!(run.stderr().contains("must be https"), "{}", run.stderr());
    assert!(setup.release.requests().is_empty());
}
