//! Tensor shapes as Keras reports them: `None` for the batch dimension and any other
//! dimension unknown until run time.
pub type Shape = Vec<Option<u64>>;

/// `(None, 16, 128)` as Keras prints it.
pub fn format_shape(shape: &[Option<u64>]) -> String {
    let parts: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "None".to_string(), |v| v.to_string()))
        .collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}
