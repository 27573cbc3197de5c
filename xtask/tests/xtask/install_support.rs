//! The fake release and stub tools `tests/install.rs` runs `action/install.sh` against: a
//! static file server on 127.0.0.1, `gh` and `cargo` stand-ins on PATH, and one temp folder per
//! run. Kept apart so the test file reads as the list of cases.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

pub(crate) const REPO: &str = "owner/ci-in-preview";
pub(crate) const TAG: &str = "v0.3.0";
pub(crate) const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
pub(crate) const ASSET: &str = "ci-preview-linux-x86_64";

/// Serves files under `root` over HTTP/1.1 on 127.0.0.1 and records the paths asked for.
pub(crate) struct FakeRelease {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRelease {
    pub(crate) fn serve(root: PathBuf) -> Self {
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

    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// One isolated run of the script: a temp folder with the fake release, stub tools, the action's
/// "source tree", and the files the script writes.
pub(crate) struct Setup {
    dir: tempfile::TempDir,
    pub release: FakeRelease,
    env: Vec<(String, String)>,
}

impl Setup {
    /// A release `TAG` of `REPO` at `COMMIT` holding the x86_64 client and a correct SHA256SUMS.
    pub(crate) fn new() -> Self {
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
            ("FAKE_GH_RELEASES", p("release")),
            ("FAKE_GH_LOG", p("gh.log")),
            ("FAKE_CARGO_LOG", p("cargo.log")),
        ];
        Self {
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            dir,
            release,
        }
    }

    pub(crate) fn set(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn unset(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    pub(crate) fn run(&self) -> Run {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../action/install.sh");
        let output = Command::new("bash")
            .arg(script)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("bash runs");
        Run(output)
    }

    /// What the installed client prints, proving which binary ended up installed.
    pub(crate) fn installed_says(&self) -> String {
        let out = Command::new(self.path("install/bin/ci-preview"))
            .arg("--version")
            .output()
            .expect("the installed client runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

pub(crate) struct Run(pub Output);

impl Run {
    pub(crate) fn code(&self) -> Option<i32> {
        self.0.status.code()
    }
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let status = Command::new("chmod").arg("+x").arg(path).status().unwrap();
    assert!(status.success());
}

/// `gh api …/tags` prints "name sha" lines (what the real call's `--jq` makes of the API answer);
/// `gh api …/releases/tags/TAG` lists the files of the fake release TAG, or fails as gh does on a
/// 404; `FAKE_GH_API_STATUS` makes every API call fail with that status (a repository the token
/// cannot see answers 404). `gh attestation verify --help` lists `FAKE_GH_VERIFY_FLAGS` (default:
/// those of a current gh), and `FAKE_GH_VERSION=2.23.0` is a gh without `attestation` at all;
/// `gh attestation verify FILE …` records its arguments and exits with FAKE_GH_ATTEST_STATUS.
const FAKE_GH: &str = r#"#!/bin/sh
not_found() {
  echo '{"message":"Not Found","status":"'"$1"'"}'
  echo "gh: Not Found (HTTP $1)" >&2
  exit 1
}
case "$1" in
  --version) echo "gh version ${FAKE_GH_VERSION:-2.83.0} (2025-11-04)" ;;
  api)
    [ -z "$FAKE_GH_API_STATUS" ] || not_found "$FAKE_GH_API_STATUS"
    case "$2" in
      */releases/tags/*)
        tag=${2##*/releases/tags/}
        [ -d "$FAKE_GH_RELEASES/$tag" ] || not_found 404
        ls "$FAKE_GH_RELEASES/$tag" ;;
      *) cat "$FAKE_GH_TAGS" ;;
    esac ;;
  attestation)
    if [ "$FAKE_GH_VERSION" = 2.23.0 ]; then
      echo 'unknown command "attestation" for "gh"' >&2
      exit 1
    fi
    if [ "$3" = "--help" ]; then
      echo "Verify an artifact's integrity using attestations"
      for flag in ${FAKE_GH_VERIFY_FLAGS:---bundle --cert-identity --deny-self-hosted-runners --owner --repo --signer-digest --signer-workflow --source-digest --source-ref}; do
        echo "      $flag string   Enforce that ..."
      done
      exit 0
    fi
    echo "$*" >> "$FAKE_GH_LOG"; exit "${FAKE_GH_ATTEST_STATUS:-0}" ;;
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
