//! Keras 3 JSON reader.
