//! `cargo xtask serve CONFIG`: one xfrsim node on real sockets — the same engine and driver as
//! in simulation, with tokio sockets and wall-clock time.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use hickory_proto::rr::Name;
use xfrsim_driver::{NodeSlot, Tokio, WallClock};
use xfrsim_engine::{Acl, Node, NodeConfig, Role, Time, ZoneConfig};
use xfrsim_scenario::{LoadedNode, NodeZone, parse_peer};

fn zone_configs(loaded: &LoadedNode) -> Result<Vec<ZoneConfig>> {
    let peers = |list: &[String]| list.iter().filter_map(|p| parse_peer(p)).collect::<Vec<_>>();
    // Checked when the file was loaded: every entry parses.
    let prefixes = |list: &[String]| list.iter().map(|p| p.parse().expect("checked at load")).collect();
    let acl = |list: &Option<Vec<String>>| list.as_deref().map_or(Acl::Any, |l| Acl::Only(prefixes(l)));
    loaded
        .node
        .zones
        .iter()
        .zip(&loaded.zones)
        .map(|(zone, data)| {
            Ok(match zone {
                NodeZone::Primary { zone, notify, allow_transfer, allow_update, journal, options, .. } => {
                    let origin = Name::from_ascii(zone).map_err(|e| anyhow!("zone `{zone}`: {e}"))?;
                    let data = data.clone().expect("primary zones are loaded with the configuration");
                    ZoneConfig {
                        origin,
                        role: Role::Primary { zone: data },
                        notify: peers(notify),
                        allow_transfer: acl(allow_transfer),
                        allow_update: Acl::Only(prefixes(allow_update)),
                        journal_max_diffs: *journal,
                        // Sources are the node's first address, `listen`.
                        notify_source: None,
                        transfer_source: None,
                        overrides: options.overrides(),
                    }
                }
                NodeZone::Secondary { zone, masters, notify, allow_transfer, journal, options } => ZoneConfig {
                    origin: Name::from_ascii(zone).map_err(|e| anyhow!("zone `{zone}`: {e}"))?,
                    role: Role::Secondary { masters: peers(masters), restored: None },
                    notify: peers(notify),
                    allow_transfer: acl(allow_transfer),
                    allow_update: Acl::None,
                    journal_max_diffs: *journal,
                    notify_source: None,
                    transfer_source: None,
                    overrides: options.overrides(),
                },
            })
        })
        .collect()
}

/// Engine events (and driver diagnostics) through tracing, on stderr: `RUST_LOG` as tracing
/// targets (`xfrsim=debug`, `xfrsim::event=warn`, ...), by default every event at info.
fn init_tracing() -> Result<()> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let default = Targets::new().with_target("xfrsim", LevelFilter::INFO);
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) => spec.parse::<Targets>().unwrap_or_else(|e| {
            eprintln!("RUST_LOG=`{spec}` is not a list of target=level ({e}); logging xfrsim=info");
            default
        }),
        Err(_) => default,
    };
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .try_init()
        .context("installing the tracing subscriber")
}

pub fn serve(path: &Path, seed: Option<u64>) -> Result<ExitCode> {
    init_tracing()?;
    let loaded = xfrsim_scenario::load_node(path).map_err(|e| anyhow!("{e}"))?;
    for warning in &loaded.zone_warnings {
        eprintln!("{warning}");
    }
    let listen = loaded.node.listen;
    let addresses: Vec<std::net::SocketAddr> =
        std::iter::once(listen).chain(loaded.node.also_listen.iter().copied()).collect();
    let shown = addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let name = loaded.node.name.clone();
    let config = NodeConfig {
        name: name.clone(),
        addresses: addresses.clone(),
        zones: zone_configs(&loaded)?,
        behaviour: loaded.node.options.behaviour(loaded.node.profile).map_err(|e| anyhow!("{e}"))?,
    };
    let seed = seed.unwrap_or_else(|| u64::from(std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let node = Node::new(config, seed, Time::ZERO).map_err(|e| anyhow!("{e}"))?;
        let printer_name = name.clone();
        // Timeline lines as in `replay`, with time since the node started.
        let slot = NodeSlot::new(Some(node), Box::new(move |event| println!("{}", event.timeline_line(&printer_name))));
        eprintln!("{name}: serving on {shown} (UDP and TCP); Ctrl-C stops");
        tokio::select! {
            biased;
            stopped = tokio::signal::ctrl_c() => {
                stopped.context("waiting for Ctrl-C")?;
                eprintln!("{name}: stopped");
                Ok(ExitCode::SUCCESS)
            }
            ended = xfrsim_driver::run::<Tokio, WallClock>(slot, addresses, WallClock::start()) => {
                ended.with_context(|| format!("serving on {shown}"))?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
