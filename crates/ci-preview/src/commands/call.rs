//! `ci-preview call`: POSTs JSON to one CI endpoint with a fresh OIDC token and prints the answer.
//!
//! The audience, the retries and the explanations of a refusal live in `crate::endpoint`; this
//! command adds the request body (`--data JSON` or `@FILE`) and prints the (masked) answer.

use std::sync::Arc;

use serde_json::Value;

use crate::endpoint::{CallArgs, call_endpoint};
use crate::error::{CliError, Result};
use crate::minter::{IdTokenArgs, Minter};
use crate::preview::Preview;
use crate::protection::ProtectionArgs;
use crate::{env, http};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Endpoint name as health lists it, e.g. flags/encrypt-override.
    #[arg(value_name = "ENDPOINT")]
    pub endpoint: String,
    /// The preview URL (from `ci-preview discover`).
    #[arg(long, env = env::PREVIEW_URL, value_name = "URL")]
    pub url: Option<String>,
    /// The JSON request body, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON")]
    pub data: String,
    #[command(flatten)]
    pub call: CallArgs,
    #[command(flatten)]
    pub hosts: crate::hosts::HostArgs,
    #[command(flatten)]
    pub protection: ProtectionArgs,
    #[command(flatten)]
    pub id_token: IdTokenArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let body = parse_data(&args.data)?;
    let client = http::client()?;
    // Fail on missing token variables before any network traffic.
    let minter = Minter::new(&args.id_token, client.clone())?;
    let guard = Arc::new(args.protection.guard(Some(&minter))?);
    let preview = Preview::from_flag(args.url.as_deref(), guard)?;
    let audience = args
        .call
        .audience(&client, &preview, &args.endpoint, None, &args.hosts)
        .await?;
    let called = call_endpoint(
        &client,
        &preview,
        &minter,
        &args.endpoint,
        &audience,
        &body,
        &args.call,
    )
    .await?;
    // Masked by call_endpoint; serde_json escapes every control character inside strings.
    println!("{}", called.answer);
    Ok(())
}

fn parse_data(data: &str) -> Result<Value> {
    let text = match data.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| CliError::config(format!("cannot read --data file {path}: {err}")))?,
        None => data.to_owned(),
    };
    serde_json::from_str(&text)
        .map_err(|err| CliError::config(format!("--data is not valid JSON: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_must_be_json() {
        assert!(parse_data(r#"{"flags":{}}"#).is_ok());
        let err = parse_data("{flags").unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Config);
    }
}
