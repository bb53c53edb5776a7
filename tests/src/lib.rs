//! picday's test kit: the conformance suite every target runs, and shared fixtures.
//!
//! A target proves it behaves like every other target by implementing [`Harness`] (how to
//! build it, who exists, how to look at what the service stored) and calling
//! [`conformance::run`]. Cases are skipped only by declared capability, so a target cannot
//! quietly opt out of a behaviour it claims.

pub mod conformance;
pub mod fixtures;

pub use conformance::Harness;
