//! The misconfigurations no emulator can see: the template's `vercel.json` rewrite, its function
//! file and its `[[bin]]` must name the same function, the template must pin the runtime this
//! crate is tested against, and its policy must be a real file naming what the function serves.
//! `template_project.rs` builds and runs it as a team's project.

use std::path::{Path, PathBuf};

use serde_json::Value;

const SOURCE: &str = "/api/~/ci/:path*";

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/vercel")
}

fn toml_file(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The function file the template's rewrite sends `/api/~/ci/*` to, relative to the template.
fn rewritten_function() -> String {
    let path = template().join("vercel.json");
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rewrites = config["rewrites"]
        .as_array()
        .expect("vercel.json has rewrites");
    let ci: Vec<&Value> = rewrites.iter().filter(|r| r["source"] == SOURCE).collect();
    assert_eq!(
        ci.len(),
        1,
        "exactly one rewrite from {SOURCE}: {rewrites:?}"
    );
    let destination = ci[0]["destination"].as_str().expect("a destination");
    let name = destination
        .strip_prefix("/api/")
        .filter(|n| !n.is_empty() && !n.contains('/') && !n.contains(':'))
        .unwrap_or_else(|| {
            panic!("destination {destination:?} is not a single function /api/NAME")
        });
    format!("api/{name}.rs")
}

#[test]
fn rewrite_destination_function_file_and_bin_agree() {
    let function = rewritten_function();
    assert!(
        template().join(&function).is_file(),
        "the rewrite sends {SOURCE} to {function}, which the template does not have"
    );
    let manifest = toml_file(&template().join("Cargo.toml"));
    let bins = manifest["bin"]
        .as_array()
        .expect("the template declares [[bin]]");
    let matching: Vec<_> = bins
        .iter()
        .filter(|b| b.get("path").and_then(|p| p.as_str()) == Some(function.as_str()))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "Vercel's builder finds the binary by its path: one [[bin]] with path = {function:?}"
    );
    let name = matching[0]["name"]
        .as_str()
        .expect("the [[bin]] has a name");
    assert!(
        !name.is_empty() && !name.contains(['/', '.', '\\']),
        "{name:?}"
    );
}

#[test]
fn template_depends_on_this_crate_and_pins_the_tested_runtime() {
    let own = toml_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    let tested = own["dependencies"]["vercel_runtime"]["version"]
        .as_str()
        .expect("this crate pins vercel_runtime");
    assert!(tested.starts_with('='), "pinned exactly: {tested}");

    let manifest = toml_file(&template().join("Cargo.toml"));
    let deps = manifest["dependencies"].as_table().expect("[dependencies]");
    assert!(
        deps.contains_key(env!("CARGO_PKG_NAME")),
        "the template depends on {}",
        env!("CARGO_PKG_NAME")
    );
    // Vercel's builder looks for `vercel_runtime` among the function package's own dependencies.
    let runtime = &deps["vercel_runtime"];
    let version = runtime
        .as_str()
        .or_else(|| runtime.get("version").and_then(|v| v.as_str()));
    assert_eq!(
        version,
        Some(tested),
        "the template pins the runtime this crate is tested with"
    );
}

#[test]
fn the_policy_is_a_real_file_that_parses_and_the_function_names_its_endpoints() {
    let path = template().join("ci-policy.toml");
    let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
    assert!(kind.is_file(), "a symlink dangles once copied: ship a file");
    let text = std::fs::read_to_string(&path).unwrap();
    let policy = ci_endpoint::server::Policy::from_toml_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let function = std::fs::read_to_string(template().join(rewritten_function())).unwrap();
    assert!(function.contains("include_str!(\"../ci-policy.toml\")"));
    for name in policy.endpoints().keys() {
        let (_, crate_path) = match name.as_str() {
            "flags/encrypt-override" => (name, "encrypt_override::endpoint()"),
            "vercel/protection-cookie" => (name, "protection_cookie::endpoint()"),
            "cleanup/kv" => (name, "cleanup_kv::endpoint()"),
            other => {
                panic!("the template's policy names {other}, which its function does not serve")
            }
        };
        assert!(
            function.contains(crate_path),
            "{name}: {crate_path} in the function's list"
        );
    }
}
