//! archbudget-core: exact parameter counts, shapes, FLOPs and peak memory of neural
//! networks from their description (Keras JSON, transformers config.json, family
//! templates), without building them. Free of PyO3; the Python glue is `archbudget-py`.
#![forbid(unsafe_code)]

pub mod arch;
pub mod error;
pub mod formats;
pub mod gpu;
pub mod layers;
pub mod memory;
pub mod shape;
pub mod space;
pub mod summary;
pub mod weight;

pub use error::{Error, Result};
pub use summary::{LayerRow, ModelFormat, Summary};
