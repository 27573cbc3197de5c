//! Tests of `cargo xtask tidy`: the checkout passes, and each rule fires on a tree built for it.

use super::*;

/// The real checkout is tidy: `cargo test --workspace` fails where `cargo xtask tidy` would.
#[test]
fn the_checkout_is_tidy() {
    let root = crate::project_root();
    let problems = check(&root, &files(&root).unwrap());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each rule fires on a small tree built for it.
#[test]
fn each_rule_finds_its_problem() {
    let dir = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
    let write = |path: &str, text: &str| {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    };
    write(
        "docs/A.md",
        "# Title\n\n## 2. Second\n\nSee [b](../src/b.rs) and [x](#title).\n",
    );
    write(
        "src/good.rs",
        "//! Why.\nfn f() {} // docs/A.md §2, A.md#2-second\n",
    );
    write("src/nodoc.rs", "fn f() {}\n");
    write(
        "src/long.rs",
        &format!("//! Why.\n{}", "\n".repeat(MAX_LINES)),
    );
    write(
        "src/cites.rs",
        "//! See DESIGN.md §2, A.md §7 and A.md#nope; issue 14; ../shared\n",
    );
    write(
        "src/bare.rs",
        "//! The contract (FORMAT §3), an RFC 8259 §8.2 escape.\n",
    );
    write(
        "src/tracker.rs",
        "//! Why.\n// fixed for issue-6\n// see Issue_12\n// not an issue: 3 tests\n",
    );
    write("run.sh", "#!/bin/sh\nset -e\n");
    write(
        "docs/B.md",
        "[gone](missing.md) [bad anchor](A.md#nowhere) [ok](A.md#2-second)\n",
    );
    let paths: Vec<String> = [
        "docs/A.md",
        "docs/B.md",
        "src/good.rs",
        "src/nodoc.rs",
        "src/long.rs",
        "src/cites.rs",
        "src/bare.rs",
        "src/tracker.rs",
        "run.sh",
    ]
    .map(str::to_owned)
    .to_vec();
    let problems = check(&dir, &paths).join("\n");
    std::fs::remove_dir_all(&dir).unwrap();
    let expect = [
        "docs/A.md:5: link to `../src/b.rs`",
        "src/nodoc.rs:1: open with a `//!` module doc",
        "src/long.rs: 401 lines",
        "src/cites.rs:1: cites `DESIGN.md`",
        "src/cites.rs:1: cites docs/A.md §7",
        "src/cites.rs:1: `docs/A.md#nope`",
        "src/cites.rs:1: `issue 14`",
        "src/tracker.rs:2: `issue-6`",
        "src/tracker.rs:3: `Issue_12`",
        "src/cites.rs:1: `../shared`",
        "src/bare.rs:1: cites `FORMAT §3` without a file",
        "run.sh:1: open with a header comment",
        "docs/B.md:1: link to `missing.md`",
        "docs/B.md:1: `docs/A.md#nowhere`",
    ];
    for want in expect {
        assert!(problems.contains(want), "missing {want:?} in:\n{problems}");
    }
    assert_eq!(problems.lines().count(), expect.len(), "{problems}");
}

#[test]
fn slugs_follow_github() {
    assert_eq!(
        slug("4. Architecture (as built here)"),
        "4-architecture-as-built-here"
    );
    assert_eq!(slug("`cargo xtask` and `--help`"), "cargo-xtask-and---help");
}
