//! Keras layer rules, one file per family.
