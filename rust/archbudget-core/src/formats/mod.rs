//! Readers of model descriptions.
pub mod hf;
pub mod keras;
