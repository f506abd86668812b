//! Peak GPU memory and FLOPs of a PyTorch training or inference step.
