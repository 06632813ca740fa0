//! Plumbing any layer may use: the bounded worker pool, temporary files removed on signals, the clock, hashing while copying.
pub mod cleanup;
pub mod clock;
pub mod hashing;
pub mod pool;
