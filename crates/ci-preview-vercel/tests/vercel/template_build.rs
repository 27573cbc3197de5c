//! What Vercel compiles for the template's function, on every uncached preview: its crypto
//! backend (ring alone: no aws-lc, no cmake, which Vercel's build image lacks) and its release
//! profile (the build-time settings must not reach what the function checks or how fast its
//! crypto runs).

use std::{collections::BTreeSet, path::Path};

use crate::template_project::{cargo, copy_as_project, template};

/// The packages (`name vX.Y.Z`) the function's release build compiles: its normal and build
/// dependencies, what Vercel builds.
fn function_build_packages(project: &Path) -> BTreeSet<String> {
    let tree = cargo(
        project,
        &[
            "tree",
            "--offline",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "-p",
            "ci-in-preview-function",
        ],
    );
    tree.lines()
        .filter_map(|line| {
            let mut words = line.split(' ');
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect()
}

/// Vercel builds the function on every uncached preview, with no cmake: its one crypto backend is
/// ring (built with `cc` in seconds); aws-lc-sys, whose C build dominated the cold build, and
/// cmake are not in its build at all.
#[test]
fn the_function_builds_with_ring_alone_and_no_cmake() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app");
    copy_as_project(&project);
    let packages = function_build_packages(&project);
    assert!(
        packages.iter().any(|p| p.starts_with("ring v")),
        "{packages:?}"
    );
    let unwanted: Vec<&String> = packages
        .iter()
        .filter(|p| {
            ["aws-lc-rs ", "aws-lc-sys ", "cmake "]
                .iter()
                .any(|n| p.starts_with(n))
        })
        .collect();
    assert!(
        unwanted.is_empty(),
        "the function's build pulls {unwanted:?}: a toolkit crate taken with its default \
         features (aws-lc) in templates/vercel/Cargo.toml?"
    );
}

/// The template builds without optimisation to halve Vercel's cold build, but keeps release
/// semantics (no debug assertions, no overflow checks: a panic on input would be a 500) and keeps
/// opt-level 3 for every crate that does crypto arithmetic, each of which the build must contain
/// (a stale name here would silently drop the override of its replacement).
#[test]
fn the_release_profile_optimises_the_crypto_crates_alone() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(template().join("Cargo.toml")).unwrap()).unwrap();
    let release = &manifest["profile"]["release"];
    assert_eq!(release["opt-level"].as_integer(), Some(0), "{release:?}");
    assert_eq!(release["lto"].as_bool(), Some(false), "{release:?}");
    for setting in ["debug-assertions", "overflow-checks", "panic"] {
        assert!(
            release.get(setting).is_none(),
            "profile.release.{setting} is set: {release:?}"
        );
    }
    let overrides = release["package"].as_table().unwrap();
    let crypto = ["ring", "aes", "aes-gcm", "ghash", "polyval"];
    assert_eq!(
        overrides
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(crypto),
        "the crates the release profile treats apart"
    );
    for name in crypto {
        assert_eq!(overrides[name]["opt-level"].as_integer(), Some(3), "{name}");
    }

    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app");
    copy_as_project(&project);
    let packages = function_build_packages(&project);
    for name in crypto {
        assert!(
            packages.iter().any(|p| p.starts_with(&format!("{name} v"))),
            "profile.release.package.{name} names a crate the function does not build"
        );
    }
}
