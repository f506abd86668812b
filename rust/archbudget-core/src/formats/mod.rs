//! Readers of model descriptions.
pub mod keras;
