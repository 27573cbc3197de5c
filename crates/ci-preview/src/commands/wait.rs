//! `ci-preview wait`: waits until the preview's health route serves the expected commit, then
//! prints the preview's origin.
//!
//! A branch alias keeps answering with the previous deployment until the new one is live, so the
//! commit defaults to the event's pull request head (`crate::readiness` says what "ready" means).

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::github::EventArgs;
use crate::minter::{IdTokenArgs, Minter};
use crate::poll::Deadline;
use crate::preview::Preview;
use crate::protection::ProtectionArgs;
use crate::readiness::until_ready;
use crate::{env, http};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The preview URL (from `ci-preview discover`).
    #[arg(long, env = env::PREVIEW_URL, value_name = "URL")]
    pub url: Option<String>,
    /// Commit the preview must serve [default: the event's pull request head].
    #[arg(long, value_name = "SHA")]
    pub sha: Option<String>,
    /// Give up after this long.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    #[command(flatten)]
    pub protection: ProtectionArgs,
    #[command(flatten)]
    pub id_token: IdTokenArgs,
    #[command(flatten)]
    pub event: EventArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let client = http::client()?;
    let minter = Minter::available(&args.id_token, client.clone());
    let guard = Arc::new(args.protection.guard(minter.as_ref())?);
    let preview = Preview::from_flag(args.url.as_deref(), guard)?;
    let event = args.event.load()?;
    let sha = args
        .sha
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or(event.head_sha);
    until_ready(
        &client,
        &preview,
        sha.as_deref(),
        Deadline::after(args.timeout),
    )
    .await?;
    println!("{}", preview.origin());
    Ok(())
}
