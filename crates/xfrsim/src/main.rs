//! `xfrsim`: the installed command (`cargo install --path crates/xfrsim`), run from any
//! directory on scenario files; bundled scenarios by name inside a checkout.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "xfrsim", bin_name = "xfrsim", version, about = "xfrsim: deterministic DNS zone-transfer simulation")]
struct Cli {
    #[command(subcommand)]
    command: xfrsim::Command,
}

fn main() -> ExitCode {
    xfrsim::main_for(|cli: Cli| xfrsim::execute(cli.command, &xfrsim::Invocation::xfrsim()))
}
