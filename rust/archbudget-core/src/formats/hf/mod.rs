//! transformers config.json reader: exact parameter counts per model type.
