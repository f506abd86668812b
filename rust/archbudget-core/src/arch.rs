//! The structure of a transformers model, read from its config.json by `formats::hf`
//! and consumed by the memory model and the sweep: one description, so that counts,
//! FLOPs and bytes all follow the same rules.
//! (Owned by the transformers reader; fields are added as model types need them.)
