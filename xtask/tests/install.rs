//! The action's install logic (`action/install.sh`) against a fake release on 127.0.0.1.
//!
//! Why here: the script decides what runs in a user's job (a downloaded binary, a source build,
//! or nothing), so each of its paths is driven for real, with `curl` fetching from a local HTTP
//! server. Only the two tools that need GitHub are stood in for by scripts on PATH: `gh` (the
//! tags lookup, and `attestation verify`, whose arguments are recorded and whose verdict the test
//! chooses) and `cargo` (a source build that writes a stub binary, so the fallback is seen without
//! compiling anything).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const REPO: &str = "owner/ci-in-preview";
const TAG: &str = "v0.3.0";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const ASSET: &str = "ci-preview-linux-x86_64";

/// Serves files under `root` over HTTP/1.1 on 127.0.0.1 and records the paths asked for.
struct FakeRelease {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRelease {
    fn serve(root: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Drain the headers; the request has no body.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                seen.lock().unwrap().push(path.clone());
                let file = root.join(path.trim_start_matches('/'));
                let (status, body) = match std::fs::read(&file) {
                    Ok(body) if !path.contains("..") => ("200 OK", body),
                    _ => ("404 Not Found", b"Not Found".to_vec()),
                };
                let mut out = &stream;
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = out
                    .write_all(head.as_bytes())
                    .and_then(|()| out.write_all(&body));
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// One isolated run of the script: a temp folder with the fake release, stub tools, the action's
/// "source tree", and the files the script writes.
struct Setup {
    dir: tempfile::TempDir,
    release: FakeRelease,
    env: Vec<(String, String)>,
}

impl Setup {
    /// A release `TAG` of `REPO` at `COMMIT` holding the x86_64 client and a correct SHA256SUMS.
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("release");
        let tag_dir = root.join(TAG);
        std::fs::create_dir_all(&tag_dir).unwrap();
        write_script(
            &tag_dir.join(ASSET),
            "#!/bin/sh\necho \"ci-preview 0.3.0 (released)\"\n",
        );
        let sums = Command::new("sha256sum")
            .arg(ASSET)
            .current_dir(&tag_dir)
            .output()
            .expect("sha256sum runs");
        std::fs::write(tag_dir.join("SHA256SUMS"), sums.stdout).unwrap();

        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        write_script(&bin.join("gh"), FAKE_GH);
        write_script(&bin.join("cargo"), FAKE_CARGO);
        std::fs::write(
            dir.path().join("tags.txt"),
            format!("v0.2.0 {}\n{TAG} {COMMIT}\n", "f".repeat(40)),
        )
        .unwrap();
        let source = dir.path().join("source");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("Cargo.toml"), "[workspace]\n").unwrap();

        let release = FakeRelease::serve(root);
        let p = |name: &str| dir.path().join(name).display().to_string();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let env = [
            ("PATH", path),
            ("TMPDIR", p("")),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
            ("CI_PREVIEW_ACTION_REPOSITORY", REPO.into()),
            ("CI_PREVIEW_ACTION_REF", COMMIT.into()),
            ("CI_PREVIEW_ACTION_PATH", p("source")),
            ("CI_PREVIEW_RELEASE_URL", release.url.clone()),
            ("CI_PREVIEW_INSTALL_DIR", p("install")),
            ("GITHUB_OUTPUT", p("github_output")),
            ("GITHUB_PATH", p("github_path")),
            ("FAKE_GH_TAGS", p("tags.txt")),
            ("FAKE_GH_LOG", p("gh.log")),
            ("FAKE_CARGO_LOG", p("cargo.log")),
        ];
        Self {
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            dir,
            release,
        }
    }

    fn set(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    fn run(&self) -> Run {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../action/install.sh");
        let output = Command::new("bash")
            .arg(script)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("bash runs");
        Run(output)
    }

    /// What the installed client prints, proving which binary ended up installed.
    fn installed_says(&self) -> String {
        let out = Command::new(self.path("install/bin/ci-preview"))
            .arg("--version")
            .output()
            .expect("the installed client runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

struct Run(Output);

impl Run {
    fn code(&self) -> Option<i32> {
        self.0.status.code()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let status = Command::new("chmod").arg("+x").arg(path).status().unwrap();
    assert!(status.success());
}

/// `gh api …/tags` prints "name sha" lines (what the real call's `--jq` makes of the API answer);
/// `gh attestation verify` records its arguments and exits with FAKE_GH_ATTEST_STATUS.
const FAKE_GH: &str = r#"#!/bin/sh
case "$1" in
  api) cat "$FAKE_GH_TAGS" ;;
  attestation) echo "$*" >> "$FAKE_GH_LOG"; exit "${FAKE_GH_ATTEST_STATUS:-0}" ;;
  *) echo "fake gh: unexpected $*" >&2; exit 9 ;;
esac
"#;

/// Records its arguments and "builds" a client into `--target-dir`/release.
const FAKE_CARGO: &str = r#"#!/bin/sh
echo "$*" >> "$FAKE_CARGO_LOG"
target=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--target-dir" ]; then target="$2"; fi
  shift
done
mkdir -p "$target/release"
printf '#!/bin/sh\necho "ci-preview (built from source)"\n' > "$target/release/ci-preview"
chmod +x "$target/release/ci-preview"
"#;

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
    assert_eq!(
        setup.release.requests(),
        [
            format!("/v0/{ASSET}"),
            format!("/{TAG}/{ASSET}"),
            format!("/{TAG}/SHA256SUMS")
        ]
    );
    // Verified against the tag whose release workflow built it.
    assert!(
        setup
            .read("gh.log")
            .contains(&format!("--source-ref refs/tags/{TAG} "))
    );
}

#[test]
fn a_tag_ref_and_an_arm_runner_pick_that_release_and_asset() {
    let setup = Setup::new()
        .set("CI_PREVIEW_ACTION_REF", TAG)
        .set("RUNNER_ARCH", "ARM64");
    let run = setup.run();
    // The fake release has no aarch64 binary: the request names the right asset, then falls back.
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_eq!(
        setup.release.requests()[0],
        format!("/{TAG}/ci-preview-linux-aarch64")
    );
    assert!(
        run.stderr()
            .contains("has no asset ci-preview-linux-aarch64")
    );
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
fn a_missing_asset_falls_back_to_a_source_build() {
    let setup = Setup::new();
    std::fs::remove_file(setup.path(&format!("release/{TAG}/{ASSET}"))).unwrap();
    let run = setup.run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert!(
        run.stderr()
            .contains(&format!("release {TAG} has no asset {ASSET}"))
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
fn a_given_client_is_used_as_is() {
    let setup = Setup::new();
    // As an artifact arrives from another job: without its executable bit.
    let given = setup.path("given-ci-preview");
    std::fs::write(&given, "#!/bin/sh\necho given\n").unwrap();
    let run = setup
        .set("CI_PREVIEW_CLIENT", &given.display().to_string())
        .run();
    assert_eq!(run.code(), Some(0), "stderr:\n{}", run.stderr());
    assert!(run.stderr().contains("(given)"), "{}", run.stderr());
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    let setup = Setup::new().set("CI_PREVIEW_RELEASE_URL", "http://releases.example.com");
    let run = setup.run();
    assert_eq!(run.code(), Some(2), "stderr:\n{}", run.stderr());
    assert!(run.stderr().contains("must be https"), "{}", run.stderr());
    assert!(setup.release.requests().is_empty());
}
