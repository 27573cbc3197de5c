//! `ci-preview token`: mints a GitHub Actions OIDC token for an audience and prints it.
//!
//! The runner reads stdout and stderr with separate readers, so nothing orders the `::add-mask::`
//! line (stderr) before a token printed on stdout. Capturing stdout (`t=$(ci-preview token ...)`)
//! keeps the token out of the log; `--github-env VAR` / `--github-output NAME` write it to the
//! runner's files instead and print nothing, for the usages where stdout would reach the log.

use crate::actions::{self, RunnerFiles};
use crate::error::{CliError, Result};
use crate::minter::{IdTokenArgs, Minter};
use crate::{env, http, untrusted};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The `aud` claim to request: the audience the endpoint's policy expects.
    #[arg(long, env = env::CI_PREVIEW_AUDIENCE, value_name = "AUD")]
    pub audience: String,
    /// Write the token to $GITHUB_ENV as this variable (later steps read it), not to stdout.
    #[arg(long, value_name = "VAR", conflicts_with = "github_output")]
    pub github_env: Option<String>,
    /// Write the token to $GITHUB_OUTPUT as this output (`steps.ID.outputs.NAME`), not to stdout.
    #[arg(long, value_name = "NAME")]
    pub github_output: Option<String>,
    #[command(flatten)]
    pub files: RunnerFiles,
    #[command(flatten)]
    pub id_token: IdTokenArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let audience = args.audience.trim();
    if audience.is_empty() {
        return Err(CliError::config("--audience must not be empty"));
    }
    // Where the token goes is checked before it exists.
    let target = match (&args.github_env, &args.github_output) {
        (Some(var), _) => Some((args.files.env_file()?, var.as_str())),
        (None, Some(name)) => Some((args.files.output_file()?, name.as_str())),
        (None, None) => None,
    };
    if let Some((_, name)) = target {
        actions::check_var_name(name)?;
    }
    let minter = Minter::new(&args.id_token, http::client()?)?;
    let token = minter.mint_with_retries(audience).await?;
    // The mask goes out (and is flushed) before the token is anywhere near a stream or file.
    actions::mask(token.expose());
    match target {
        Some((path, name)) => {
            actions::write_var(path, name, token.expose())?;
            actions::progress(&format!(
                "the token for {} is in {name}",
                untrusted::text(audience)
            ));
        }
        None => println!("{}", token.expose()),
    }
    Ok(())
}
