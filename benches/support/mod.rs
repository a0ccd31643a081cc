//! The latency benchmark's parts: the delaying proxy and the real servers behind it.

// The integration tests' server start-up, shared; the tests use more of it than the benchmark.
#[allow(dead_code)]
#[path = "../../tests/support/loopback.rs"]
pub(crate) mod loopback;
pub(crate) mod proxy;
pub(crate) mod servers;
