//! The one error type of the core. Every variant carries where the problem is (file,
//! layer, key) and what is wrong; the Python binding maps each variant to its own
//! exception class, and the CLI prints the message as one line with exit status 2.
use thiserror::Error as ThisError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
pub enum Error {
    /// Text that is not valid JSON / TOML / zip, or not of the expected overall shape.
    #[error("{location}: {message}")]
    Parse { location: String, message: String },
    /// A Keras layer class the core has no rule for; `hint` suggests close names or the
    /// way to count a custom layer.
    #[error("{location}: unknown layer class '{class_name}' ({hint})")]
    UnknownLayer {
        location: String,
        class_name: String,
        hint: String,
    },
    /// A transformers `model_type` the core has no rule for.
    #[error("{location}: unknown model_type '{model_type}' (supported: {supported})")]
    UnknownModelType {
        location: String,
        model_type: String,
        supported: String,
    },
    /// A missing key, a value of the wrong type, or a non-positive dimension.
    #[error("{location}: {message}")]
    InvalidValue { location: String, message: String },
    /// Shapes that cannot meet (a merge of unequal shapes, a kernel larger than its input).
    #[error("{location}: {message}")]
    Shape { location: String, message: String },
    /// A search space that is malformed or whose constraints do not parse.
    #[error("{location}: {message}")]
    Space { location: String, message: String },
    /// A count or a byte total that does not fit in 64 bits.
    #[error("{location}: {what} overflows 64-bit integers")]
    Overflow { location: String, what: String },
    /// `fit`: even the smallest value of the axis does not fit the budget (not bad
    /// input: the answer is "no"; the CLI exits with status 3).
    #[error("{location}: {message}")]
    DoesNotFit { location: String, message: String },
    /// The caller stopped the work (SIGINT); the binding raises the pending signal's
    /// exception (KeyboardInterrupt) instead of this.
    #[error("interrupted")]
    Cancelled,
    /// A bug in archbudget (a panic caught at the boundary).
    #[error("internal error: {0} (please report it with the input that caused it)")]
    Internal(String),
}

impl Error {
    pub fn parse(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Parse {
            location: location.into(),
            message: message.into(),
        }
    }
    pub fn invalid(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidValue {
            location: location.into(),
            message: message.into(),
        }
    }
    pub fn shape(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Shape {
            location: location.into(),
            message: message.into(),
        }
    }
    pub fn overflow(location: impl Into<String>, what: impl Into<String>) -> Self {
        Error::Overflow {
            location: location.into(),
            what: what.into(),
        }
    }

    /// Stable name of the variant, used for the Python exception class.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Parse { .. } => "ParseError",
            Error::UnknownLayer { .. } => "UnknownLayerError",
            Error::UnknownModelType { .. } => "UnknownModelTypeError",
            Error::InvalidValue { .. } => "InvalidValueError",
            Error::Shape { .. } => "ShapeError",
            Error::Space { .. } => "SpaceError",
            Error::Overflow { .. } => "OverflowError",
            Error::DoesNotFit { .. } => "DoesNotFitError",
            Error::Cancelled => "Cancelled",
            Error::Internal(_) => "InternalError",
        }
    }
}

/// Checked multiply-add helpers: counts and bytes never wrap.
pub fn mul(a: u64, b: u64, location: &str, what: &str) -> Result<u64> {
    a.checked_mul(b)
        .ok_or_else(|| Error::overflow(location, what))
}

pub fn add(a: u64, b: u64, location: &str, what: &str) -> Result<u64> {
    a.checked_add(b)
        .ok_or_else(|| Error::overflow(location, what))
}
