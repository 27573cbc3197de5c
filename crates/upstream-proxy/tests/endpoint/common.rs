//! Set-up shared by this crate's tests: a wiremock upstream behind an https front with its own
//! test CA, and the proxy endpoint calling it through the real kit.

#![allow(dead_code)]

use ci_fixtures::{HttpsFront, TestApp};
use serde_json::Value;
use upstream_proxy::UpstreamClient;
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub(crate) const NAME: &str = "proxy/test-upstream";
pub(crate) const VAR: &str = "UPSTREAM_KEY";
pub(crate) const SECRET: &str = "sk_test_9f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// A wiremock upstream, its https front, and the endpoint calling it.
pub(crate) struct Setup {
    pub upstream: MockServer,
    pub front: HttpsFront,
    pub app: TestApp,
}

pub(crate) async fn setup(extra: &str) -> Setup {
    setup_with(extra, true, Some(SECRET), "preview").await
}

pub(crate) async fn setup_with(extra: &str, trust: bool, secret: Option<&str>, env: &str) -> Setup {
    let upstream = MockServer::start().await;
    let front = HttpsFront::start(*upstream.address()).await;
    let config = format!(
        "[endpoints.\"{NAME}\".config]\nurl = \"{}/v1/testing_tokens\"\nmethod = \"POST\"\n\
         timeout_secs = 2\n\
         headers = {{ Authorization = \"Bearer ${{{VAR}}}\", Accept = \"application/json\" }}\n{extra}",
        front.url()
    );
    let roots = if trust { front.ca_pem() } else { "" };
    let client = UpstreamClient::with_extra_roots_pem(roots.as_bytes()).expect("client");
    let endpoint = upstream_proxy::endpoint_with(NAME, VAR, client);
    let mut builder = TestApp::builder(endpoint)
        .strict()
        .policy_keys(&config)
        .environment(Some(env));
    if let Some(secret) = secret {
        builder = builder.var(VAR, secret);
    }
    Setup {
        upstream,
        front,
        app: builder.start().await,
    }
}

impl Setup {
    pub(crate) async fn call(&self, body: &str) -> ci_fixtures::Answer {
        let token = self.app.good_token();
        let request =
            axum::http::Request::post(format!("{}?url=https://evil.example/", self.app.path()))
                .header("content-type", "application/json")
                .header("x-github-oidc-token", token)
                .header("authorization", "Bearer caller-chosen")
                .header("x-upstream-path", "/admin")
                .body(axum::body::Body::from(body.to_owned()))
                .expect("request");
        self.app.send(request).await
    }
}

/// Answers with every request header it got, as JSON.
pub(crate) struct EchoHeaders;

impl Respond for EchoHeaders {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers: serde_json::Map<String, Value> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or_default())))
            .collect();
        // Once plainly and once JSON-escaped, the way a hostile upstream might hide it.
        let escaped: String = SECRET
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let body = format!(
            r#"{{"headers":{},"hidden":"{escaped}"}}"#,
            Value::Object(headers)
        );
        ResponseTemplate::new(200).set_body_raw(body, "application/json")
    }
}
