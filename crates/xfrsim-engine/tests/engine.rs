//! Engine tests: primaries and secondaries driven together in virtual time on a tiny network.

#[path = "engine/behaviour.rs"]
mod behaviour;
#[path = "engine/catalog.rs"]
mod catalog;
#[path = "engine/chaos.rs"]
mod chaos;
#[path = "engine/fidelity.rs"]
mod fidelity;
#[path = "engine/malformed.rs"]
mod malformed;
#[path = "engine/net.rs"]
mod net;
#[path = "engine/primary.rs"]
mod primary;
#[path = "engine/profiles.rs"]
mod profiles;
#[path = "engine/support.rs"]
mod support;
