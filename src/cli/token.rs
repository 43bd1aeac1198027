//! `parley token`: mints a token for development and tests, signed the way `parley serve` in
//! the same directory and environment verifies it. Prints the token alone on stdout, so
//! `TOKEN=$(parley token ...)` works; everything else goes to stderr.

use anyhow::{Context, bail};
use parley::auth::Signer;
use parley::config::TokenArgs;

pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    if args.ttl.is_zero() {
        bail!("--ttl must be longer than 0, for example 1h");
    }
    let signer =
        Signer::from_config(&args.auth, args.environment, &args.data_dir, args.private_key_file.as_deref())?;
    let token =
        signer.mint(&args.sub, args.role, args.name.as_deref(), args.ttl).context("minting the token")?;
    println!("{token}");
    Ok(())
}
