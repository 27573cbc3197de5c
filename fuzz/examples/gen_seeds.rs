//! Writes the seed corpora: `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds`.
//!
//! Claim sets come from `ci-fixtures`' `TokenBuilder` (GitHub's exact shape, the variants the
//! test suites use), re-dated to the fuzz clock and signed with the fixed fuzz key, so the seeds
//! verify in every run. Attack shapes are added beside them so the mutator also starts from the
//! header and algorithm refusals. Seeds are deterministic apart from `jti`; rerunning adds files
//! only where a name is new.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ci_fixtures::TokenBuilder;
use ci_fixtures::keys::{PRIMARY_KEY, shared_key};
use encrypt_override::encrypt_overrides;
use fuzz_support::cookie::{seal, secret};
use fuzz_support::jwt::{AUDIENCE, ISSUER, KID, NOW, header_json, sign};
use serde_json::{Map, Value, json};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn claim_sets() -> Vec<(&'static str, Map<String, Value>)> {
    let base = || TokenBuilder::new(ISSUER, AUDIENCE, shared_key(PRIMARY_KEY)).issued_at(NOW - 30);
    let shared = "octo-org/shared/.github/workflows/preview.yml";
    vec![
        ("pull-request", base().claims()),
        ("push-main", base().push_to("main").claims()),
        ("dispatch", base().dispatch_on("feature/x").claims()),
        ("environment", base().environment("preview").claims()),
        (
            "reusable",
            base()
                .reusable(
                    shared,
                    "refs/heads/main",
                    "0123456789abcdef0123456789abcdef01234567",
                )
                .claims(),
        ),
        (
            "reusable-by-sha",
            base()
                .reusable(
                    shared,
                    "0123456789abcdef0123456789abcdef01234567",
                    "0123456789abcdef0123456789abcdef01234567",
                )
                .claims(),
        ),
        (
            "workflow-at-sha",
            base()
                .claim(
                    "workflow_ref",
                    format!(
                        "{}@{}",
                        fuzz_support::jwt::WORKFLOW,
                        ci_fixtures::DEFAULT_SHA
                    ),
                )
                .claims(),
        ),
        ("expired", base().issued_at(NOW - 1000).claims()),
        (
            "wrong-aud",
            base().claim("aud", "https://elsewhere").claims(),
        ),
        ("aud-list", base().claim("aud", json!([AUDIENCE])).claims()),
        (
            "wrong-repo",
            base().claim("repository", "evil/octo-repo").claims(),
        ),
        (
            "exp-string",
            base().claim("exp", (NOW + 270).to_string()).claims(),
        ),
        (
            "exp-float",
            base().claim("exp", (NOW + 270) as f64 + 0.5).claims(),
        ),
        ("no-nbf", base().without("nbf").claims()),
        ("pr-target", base().event("pull_request_target").claims()),
        (
            "id-number",
            base().claim("repository_id", 123_456_789).claims(),
        ),
    ]
}

fn main() {
    let header = header_json();
    for (name, claims) in claim_sets() {
        let payload = Value::Object(claims).to_string();
        let token = sign(header.as_bytes(), payload.as_bytes());
        write("jwt_token", name, token.as_bytes());
        for policy in 0u8..4 {
            let mut input = vec![policy];
            input.extend_from_slice(payload.as_bytes());
            write("jwt_claims", &format!("{name}-p{policy}"), &input);
        }
    }
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let valid = sign(header.as_bytes(), br#"{"iss":"x"}"#);
    let (signing_input, sig) = valid.rsplit_once('.').expect("3 segments");
    let attacks = [
        (
            "alg-none",
            format!("{}.{}.", b64(r#"{"alg":"none","kid":"k"}"#), b64("{}")),
        ),
        (
            "hs256",
            format!(
                "{}.{}.{sig}",
                b64(&format!(r#"{{"alg":"HS256","kid":"{KID}"}}"#)),
                b64("{}")
            ),
        ),
        (
            "jku",
            format!(
                "{}.{}.{sig}",
                b64(&format!(
                    r#"{{"alg":"RS256","kid":"{KID}","jku":"https://x"}}"#
                )),
                b64("{}")
            ),
        ),
        (
            "unknown-kid",
            format!(
                "{}.{}.{sig}",
                b64(r#"{"alg":"RS256","kid":"nope"}"#),
                b64("{}")
            ),
        ),
        (
            "dup-alg",
            format!(
                "{}.{}.{sig}",
                b64(r#"{"alg":"RS256","alg":"none","kid":"k"}"#),
                b64("{}")
            ),
        ),
        (
            "bad-sig",
            format!("{signing_input}.{}", b64("not a signature")),
        ),
        ("two-segments", signing_input.to_owned()),
        ("padded", format!("{valid}==")),
    ];
    for (name, token) in attacks {
        write("jwt_token", name, token.as_bytes());
    }

    let bodies: [(&str, &[u8]); 8] = [
        (
            "flags",
            br#"{"flags":{"ciInPreviewSmoke":true,"variant":"b"}}"#,
        ),
        ("empty-flags", br#"{"flags":{}}"#),
        ("flags-not-object", br#"{"flags":[1,2]}"#),
        (
            "nested",
            br#"{"flags":{"a":{"b":[1,2.5,-3e10,null,"\u00e9\ud83d\ude00"]}}}"#,
        ),
        ("not-json", b"flags=on"),
        ("truncated", br#"{"flags":{"a":tr"#),
        ("deep", &[b'['; 200]),
        ("empty", b""),
    ];
    for (name, body) in bodies {
        for (i, ctl) in [[1u8, 1, 0, 0], [0, 0, 0, 3], [2, 3, 16, 0], [5, 1, 0, 0]]
            .iter()
            .enumerate()
        {
            let mut input = ctl.to_vec();
            input.extend_from_slice(body);
            write("json_body", &format!("{name}-{i}"), &input);
        }
    }

    let flags = |v: Value| v.as_object().cloned().expect("object");
    let exp = NOW + 31_557_600;
    for (name, f) in [
        ("smoke", flags(json!({"ciInPreviewSmoke": true}))),
        (
            "mixed",
            flags(json!({"a": 1, "b": "x", "c": {"d": [null, false]}})),
        ),
        ("empty", Map::new()),
    ] {
        let token = encrypt_overrides(&f, secret(), exp).expect("encrypt");
        write("cookie_decrypt", name, token.as_bytes());
        write(
            "cookie_decrypt",
            &format!("{name}-header"),
            format!("theme=dark; vercel-flag-overrides={token}; x=1").as_bytes(),
        );
    }
    write("cookie_decrypt", "shape", b"a.b.c.d.e");
    let plaintexts = [
        (
            "canonical",
            format!(r#"{{"o":{{"ciInPreviewSmoke":true}},"pur":"overrides","exp":{exp}}}"#),
        ),
        (
            "expired",
            format!(r#"{{"o":{{}},"pur":"overrides","exp":{}}}"#, NOW - 1),
        ),
        (
            "pur-list",
            format!(r#"{{"o":1,"pur":["x","overrides"],"exp":{exp},"nbf":{NOW},"iat":{NOW}}}"#),
        ),
        (
            "other-purpose",
            format!(r#"{{"o":{{}},"pur":"values","exp":{exp}}}"#),
        ),
        (
            "replicated",
            format!(r#"{{"o":{{}},"pur":"overrides","exp":{exp},"iss":"ci","sub":7}}"#),
        ),
    ];
    for (name, plaintext) in plaintexts {
        for selector in [0u8, 2, 3] {
            let mut input = vec![selector];
            input.extend_from_slice(&[7u8; 12]);
            input.extend_from_slice(plaintext.as_bytes());
            write("cookie_claims", &format!("{name}-h{selector}"), &input);
        }
    }
    // One sealed by hand with another header, for the plain decoder.
    let other = seal(
        &b64(r#"{"alg":"dir","enc":"A256GCM","iss":"ci"}"#),
        [1; 12],
        br#"{"o":{},"pur":"overrides","exp":1,"iss":"ci"}"#,
    );
    write("cookie_decrypt", "hand-sealed", other.as_bytes());
    println!("seeds written under {}/corpus", env!("CARGO_MANIFEST_DIR"));
}
