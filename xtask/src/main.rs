//! `cargo xtask`: the commands users type. More arrive with the simulation harness.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "xfrsim: deterministic DNS zone-transfer simulation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the event catalog: Windows event ID, symbolic name, severity.
    Events,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Events => {
            for (id, name, severity) in xfrsim_engine::CATALOG {
                let id = id.map_or_else(|| "-".to_string(), |id| id.to_string());
                println!("{id:>5} {severity:<7} {name}");
            }
        }
    }
    Ok(())
}
