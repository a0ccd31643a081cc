//! The latency benchmark's parts: the delaying proxy and the real servers behind it.

pub(crate) mod proxy;
pub(crate) mod servers;
