//! The smoke's scratch space: a folder under `target/` removed when the run ends, and the fresh
//! secrets each run gives its deployment.

use std::path::PathBuf;

use base64::Engine as _;

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
