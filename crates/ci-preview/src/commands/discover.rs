//! `ci-preview discover`: prints the preview URL for this run (`crate::discovery` finds it).

use std::time::Duration;

use crate::discovery::{DiscoverArgs, find};
use crate::error::Result;
use crate::github::GitHubArgs;
use crate::poll::Deadline;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub discover: DiscoverArgs,
    #[command(flatten)]
    pub github: GitHubArgs,
    /// Give up when nothing is found within this long.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let found = find(&args.discover, &args.github, Deadline::after(args.timeout)).await?;
    println!("{}", found.url);
    Ok(())
}
