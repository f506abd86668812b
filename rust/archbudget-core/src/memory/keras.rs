//! Keras models lowered to the PyTorch op IR (their PyTorch equivalent, layer for layer).
