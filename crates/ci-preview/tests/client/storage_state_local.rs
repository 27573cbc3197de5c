//! `ci-preview storage-state --local` as a developer runs it next to `next dev`: the secrets in
//! `.env.local`, no token and no network. The cookies it writes open with the endpoints' own
//! codecs, and a URL that is not this machine is refused before any secret is read.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use crate::support::*;

const FLAGS_SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
const AUTH_SECRET: &str = "local-auth-secret-never-printed-0123456789abcdef";

fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env.local"),
        format!(
            "# Created by Vercel CLI\nFLAGS_SECRET=\"{FLAGS_SECRET}\"\nAUTH_SECRET=\"{AUTH_SECRET}\"\n"
        ),
    )
    .unwrap();
    dir
}

fn local(url: &str, out: &std::path::Path) -> Vec<String> {
    [
        "storage-state",
        "--local",
        "--url",
        url,
        "--flag",
        "newCheckout=true",
        "--session",
        r#"{"sub":"e2e-user","name":"E2E"}"#,
        "--expires-in",
        "10m",
        "--out",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([out.display().to_string()])
    .collect()
}

#[tokio::test]
async fn local_cookies_open_with_the_endpoints_codecs() {
    let dir = app_dir();
    let out = dir.path().join("state.json");
    let args = local("http://localhost:3000", &out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = Client::new(&args).current_dir(dir.path()).run().await;
    run.assert_success();
    assert_eq!(run.stdout.trim(), out.display().to_string());
    run.assert_never(FLAGS_SECRET);
    run.assert_never(AUTH_SECRET);
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let state: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let cookies = state["cookies"].as_array().unwrap();
    let names: Vec<&str> = cookies.iter().filter_map(|c| c["name"].as_str()).collect();
    // No protection cookie: next dev has no Deployment Protection.
    assert_eq!(names, ["vercel-flag-overrides", "authjs.session-token"]);
    for cookie in cookies {
        assert_eq!(cookie["domain"], "localhost");
        let run_cookie = cookie["value"].as_str().unwrap();
        run.assert_never(run_cookie);
    }

    let key = encrypt_override::FlagsSecret::parse(FLAGS_SECRET).unwrap();
    let flags = encrypt_override::decrypt(cookies[0]["value"].as_str().unwrap(), &key).unwrap();
    assert_eq!(flags, serde_json::json!({"newCheckout": true}));

    let key = encrypt_session::AuthSecret::parse(AUTH_SECRET)
        .unwrap()
        .key_for(encrypt_session::COOKIE_NAME);
    let now = u64::try_from(unix_now()).unwrap();
    let session =
        encrypt_session::decode(&key, cookies[1]["value"].as_str().unwrap(), now).unwrap();
    assert_eq!(session["sub"], "e2e-user");
    let exp = session["exp"].as_u64().unwrap();
    assert!(
        (now + 590..=now + 610).contains(&exp),
        "exp {exp}, now {now}"
    );
    assert_eq!(session[encrypt_session::EXPIRES_CLAIM], session["exp"]);
    assert_eq!(cookies[1]["expires"].as_u64(), Some(exp));
}

#[tokio::test]
async fn local_refuses_a_url_that_is_not_this_machine() {
    for url in [
        "https://app-git-feature.vercel.app",
        "http://10.0.0.2:3000",
        "http://localhost.evil.example",
    ] {
        let dir = app_dir();
        let out = dir.path().join("state.json");
        let args = local(url, &out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = Client::new(&args)
            .current_dir(dir.path())
            .env("FLAGS_SECRET", FLAGS_SECRET)
            .run()
            .await;
        run.assert_exit(2, &[]);
        assert!(
            run.stderr.contains("only for a loopback URL") && run.stderr.contains("drop --local"),
            "{url}: {}",
            run.stderr
        );
        run.assert_never(FLAGS_SECRET);
        run.assert_never(AUTH_SECRET);
        assert!(!out.exists(), "{url}: a file was written");
    }
}

#[tokio::test]
async fn local_names_a_missing_secret_and_where_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("state.json");
    let args = local("http://127.0.0.1:3000", &out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = Client::new(&args).current_dir(dir.path()).run().await;
    run.assert_exit(2, &[]);
    assert!(
        run.stderr.contains("FLAGS_SECRET is not set") && run.stderr.contains("vercel env pull"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}
