//! The indexes a lowered scenario names its servers and zones by.

/// A server of the scenario, by its place in `servers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId(u32);

/// A zone of the scenario, by its place in `zones`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneId(u32);

impl ServerId {
    /// The id of the server at `index` (a scenario has at most `MAX_SERVERS`).
    pub(crate) fn new(index: usize) -> ServerId {
        ServerId(u32::try_from(index).expect("servers are bounded by MAX_SERVERS"))
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ZoneId {
    /// The id of the zone at `index` (a scenario has at most `MAX_ZONES`).
    pub(crate) fn new(index: usize) -> ZoneId {
        ZoneId(u32::try_from(index).expect("zones are bounded by MAX_ZONES"))
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}
