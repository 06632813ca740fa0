//! What people read: the output streams, result records and text formatting.
pub mod output;
pub mod report;
pub mod text;
