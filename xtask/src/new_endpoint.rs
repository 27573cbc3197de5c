//! `cargo xtask new-endpoint NAME`: scaffolds an endpoint crate and wires it in.
//!
//! Adding an endpoint is three edits (a crate, one line in the server, one policy entry); doing
//! them by hand invites the one mistake that matters: a handler that is reachable without the
//! guard chain. The scaffold's handler takes `VerifiedCaller` from the first line, and its tests
//! start from the refusals, so the team edits a working, guarded endpoint instead of a blank file.
//!
//! `--root DIR` scaffolds into another checkout (the CI check uses a scratch worktree).

use std::path::Path;

use crate::flags::{self, Result, failed, usage};

mod template;

pub(crate) fn run(args: &flags::NewEndpoint) -> Result {
    let root = args.root.clone().unwrap_or_else(crate::project_root);
    let name = args.name.clone();
    let names = Names::new(&name)?;
    scaffold(&root, &names)?;
    // The registration line is spliced into the server's source; let rustfmt lay it out.
    let sh = xshell::Shell::new()?;
    sh.change_dir(&root);
    xshell::cmd!(sh, "cargo fmt --all").run()?;
    eprintln!(
        "created crates/{crate_name} for /api/~/ci/{name}\n\
         next: edit its handler, set the audience/repositories/workflows of \
         [endpoints.\"{name}\"] in ci-policy.toml, run `cargo test -p {crate_name}`",
        crate_name = names.crate_name,
        name = names.endpoint,
    );
    Ok(())
}

/// The CI check: scaffold an endpoint in a scratch worktree of HEAD, then type-check the server with
/// it and run the new crate's tests. The worktree shares this checkout's target folder, so only
/// the new crate and the server are compiled again.
pub(crate) fn check_scaffold(sh: &xshell::Shell) -> Result {
    let root = crate::project_root();
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| root.join("target").display().to_string());
    let scratch = root.join("target").join("scaffold-check");
    let _ = xshell::cmd!(sh, "git worktree remove --force {scratch}")
        .quiet()
        .ignore_stderr()
        .run();
    let _ = std::fs::remove_dir_all(&scratch);
    xshell::cmd!(sh, "git worktree add --quiet --detach {scratch} HEAD").run()?;
    let outcome = (|| {
        let names = Names::new("scaffold-check/echo")?;
        run(&flags::NewEndpoint {
            name: names.endpoint.clone(),
            root: Some(scratch.clone()),
        })?;
        let inner = xshell::Shell::new()?;
        inner.change_dir(&scratch);
        let _target = inner.push_env("CARGO_TARGET_DIR", &target);
        let krate = &names.crate_name;
        xshell::cmd!(inner, "cargo test --quiet -p {krate}").run()?;
        // What this repository holds every crate to, so the scaffold starts clean.
        xshell::cmd!(inner, "cargo fmt --check -p {krate}").run()?;
        xshell::cmd!(
            inner,
            "cargo clippy --quiet -p {krate} --all-targets -- -D warnings"
        )
        .run()?;
        // `check`, not `build`: a built binary would replace this checkout's in the shared target.
        xshell::cmd!(inner, "cargo check --quiet -p ci-preview-server").run()?;
        Ok(())
    })();
    let _ = xshell::cmd!(sh, "git worktree remove --force {scratch}")
        .quiet()
        .run();
    outcome
}

/// The names one endpoint goes by.
pub(crate) struct Names {
    /// `reports/upload`: the path under `/api/~/ci/` and the policy key.
    pub endpoint: String,
    /// `reports-upload`: the crate and its folder.
    pub crate_name: String,
    /// `reports_upload`: the crate as a Rust path.
    pub ident: String,
}

impl Names {
    pub(crate) fn new(endpoint: &str) -> Result<Names> {
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.starts_with('-')
        };
        if !endpoint.split('/').all(valid_segment) || endpoint == "health" {
            return Err(usage(format!(
                "endpoint name `{endpoint}`: use lowercase segments of a-z, 0-9 and '-', \
                 separated by '/', e.g. `reports/upload` (and not `health`)"
            )));
        }
        let crate_name = endpoint.replace('/', "-");
        let ident = crate_name.replace('-', "_");
        Ok(Names {
            endpoint: endpoint.to_owned(),
            crate_name,
            ident,
        })
    }
}

fn scaffold(root: &Path, names: &Names) -> Result {
    let dir = root.join("crates").join(&names.crate_name);
    if dir.exists() {
        return Err(failed(format!("{} exists already", dir.display())));
    }
    let server_main = root.join("crates/ci-preview-server/src/builtin.rs");
    let server_manifest = root.join("crates/ci-preview-server/Cargo.toml");
    let workspace_manifest = root.join("Cargo.toml");
    let policy = root.join("ci-policy.toml");

    // Check every edit applies before writing anything, so a failure leaves the tree as it was.
    let main_src = read(&server_main)?;
    let anchor = "vec![";
    if !main_src.contains(anchor) {
        return Err(failed(format!(
            "{}: cannot find `{anchor}` in the server's endpoint list",
            server_main.display()
        )));
    }
    let manifest_src = read(&server_manifest)?;
    let feature_anchor = "builtin-endpoints = [";
    if !manifest_src.contains(feature_anchor) {
        return Err(failed(format!(
            "{}: cannot find `{feature_anchor}`",
            server_manifest.display()
        )));
    }
    let workspace_src = read(&workspace_manifest)?;
    let own_crates = own_crates_end(&workspace_src)?;
    let policy_src = read(&policy)?;
    if policy_src.contains(&format!("[endpoints.\"{}\"]", names.endpoint)) {
        return Err(failed(format!(
            "ci-policy.toml already has `{}`",
            names.endpoint
        )));
    }

    for (path, contents) in template::files(names) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed(e.to_string()))?;
        }
        write(&path, &contents)?;
    }
    let registration = format!("vec![{}::endpoint(), ", names.ident);
    write(&server_main, &main_src.replacen(anchor, &registration, 1))?;
    let krate = &names.crate_name;
    let manifest_src = manifest_src
        .replacen(
            feature_anchor,
            &format!("{feature_anchor}\"dep:{krate}\", "),
            1,
        )
        .replacen(
            "[dependencies]\n",
            &format!("[dependencies]\n{krate} = {{ workspace = true, optional = true }}\n"),
            1,
        );
    write(&server_manifest, &manifest_src)?;
    let mut workspace_src = workspace_src;
    workspace_src.insert_str(
        own_crates,
        &format!("{krate} = {{ path = \"crates/{krate}\", default-features = false }}\n"),
    );
    write(&workspace_manifest, &workspace_src)?;
    write(
        &policy,
        &format!(
            "{}\n{}",
            policy_src.trim_end(),
            template::policy_entry(names)
        ),
    )?;
    Ok(())
}

/// Where a new crate's `[workspace.dependencies]` line goes: after the last line of the group
/// under `# Our own crates.`, not above the comment.
fn own_crates_end(workspace: &str) -> Result<usize> {
    let comment = "# Our own crates.\n";
    let start = workspace
        .find(comment)
        .ok_or_else(|| failed(format!("Cargo.toml has no `{}` group", comment.trim())))?;
    let group = start + comment.len();
    let end = workspace[group..]
        .find("\n\n")
        .map_or(workspace.len(), |blank| group + blank + 1);
    Ok(end)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| failed(format!("{}: {e}", path.display())))
}

fn write(path: &Path, contents: &str) -> Result {
    std::fs::write(path, contents).map_err(|e| failed(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn the_workspace_line_joins_our_own_crates() {
        let manifest = "[workspace.dependencies]\n# Our own crates.\na = { path = \"crates/a\" }\nb = { path = \"crates/b\" }\n\n# Others.\nc = \"1\"\n";
        let at = super::own_crates_end(manifest).unwrap();
        let mut edited = manifest.to_owned();
        edited.insert_str(at, "new = { path = \"crates/new\" }\n");
        assert!(
            edited.contains(
                "b = { path = \"crates/b\" }\nnew = { path = \"crates/new\" }\n\n# Others."
            ),
            "{edited}"
        );
    }

    #[test]
    fn names_follow_the_endpoint() {
        let n = Names::new("reports/upload-v2").expect("valid");
        assert_eq!(n.crate_name, "reports-upload-v2");
        assert_eq!(n.ident, "reports_upload_v2");
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "", "Reports", "a//b", "/a", "a/", "health", "a b", "-x", "a/../b",
        ] {
            assert!(Names::new(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
