//! The smoke's scratch space: a folder under `target/` removed when the run ends, the fresh
//! secrets each run gives its deployment, and the event payload the client reads.

use std::path::PathBuf;

use base64::Engine as _;
use ci_fixtures::{DEFAULT_PULL_REQUEST, DEFAULT_REPOSITORY};
use serde_json::{Value, json};

use crate::flags::{Result, failed};

/// A fresh 32-byte secret, as `crypto.randomBytes(32).toString('base64url')` makes them; serves
/// as FLAGS_SECRET and (43 characters, like `npx auth secret`) as AUTH_SECRET.
pub(super) fn random_secret() -> Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| failed(format!("cannot read /dev/urandom: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A scratch folder under target/, removed when the run ends.
pub(super) struct WorkDir(PathBuf);

impl WorkDir {
    pub(super) fn new() -> Result<WorkDir> {
        let dir = crate::project_root()
            .join("target")
            .join("smoke")
            .join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        Ok(WorkDir(dir))
    }

    /// Where `name` goes in the folder.
    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub(super) fn write(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, contents).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        Ok(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `pull_request` event payload GitHub writes to `GITHUB_EVENT_PATH` (the fields the client reads).
pub(super) fn pull_request_event(head_sha: &str) -> Value {
    json!({
        "action": "synchronize",
        "number": DEFAULT_PULL_REQUEST,
        "pull_request": {
            "number": DEFAULT_PULL_REQUEST,
            "head": {"sha": head_sha, "ref": "feature/preview-smoke", "repo": {"full_name": DEFAULT_REPOSITORY}},
            "base": {"ref": "main", "repo": {"full_name": DEFAULT_REPOSITORY}}
        },
        "repository": {"full_name": DEFAULT_REPOSITORY}
    })
}
