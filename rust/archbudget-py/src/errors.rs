//! One Python exception class per core error variant, all under `ArchBudgetError`
//! (a `ValueError`), and the one exhaustive match between them.
use archbudget_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    archbudget.errors,
    ArchBudgetError,
    PyValueError,
    "Bad input to archbudget."
);
create_exception!(
    archbudget.errors,
    ParseError,
    ArchBudgetError,
    "Text that is not valid JSON, TOML or a .keras archive."
);
create_exception!(
    archbudget.errors,
    UnknownLayerError,
    ArchBudgetError,
    "A Keras layer class archbudget has no rule for."
);
create_exception!(
    archbudget.errors,
    UnknownModelTypeError,
    ArchBudgetError,
    "A transformers model_type archbudget has no rule for."
);
create_exception!(
    archbudget.errors,
    InvalidValueError,
    ArchBudgetError,
    "A missing key, a value of the wrong type, or a non-positive dimension."
);
create_exception!(
    archbudget.errors,
    ShapeError,
    ArchBudgetError,
    "Shapes that cannot meet."
);
create_exception!(
    archbudget.errors,
    SpaceError,
    ArchBudgetError,
    "A malformed search space or constraint."
);
create_exception!(
    archbudget.errors,
    OverflowError,
    ArchBudgetError,
    "A count or byte total beyond 64 bits."
);
create_exception!(
    archbudget.errors,
    DoesNotFitError,
    ArchBudgetError,
    "fit: even the smallest value does not fit the budget."
);
create_exception!(
    archbudget.errors,
    InternalError,
    ArchBudgetError,
    "A bug in archbudget."
);

pub fn to_py(err: Error) -> PyErr {
    // One line, whatever names the input holds (a layer called "a\nb"): the CLI prints
    // the message as a single line of stderr.
    let message = err.to_string().replace('\r', "\\r").replace('\n', "\\n");
    match err {
        Error::Parse { .. } => ParseError::new_err(message),
        Error::UnknownLayer { .. } => UnknownLayerError::new_err(message),
        Error::UnknownModelType { .. } => UnknownModelTypeError::new_err(message),
        Error::InvalidValue { .. } => InvalidValueError::new_err(message),
        Error::Shape { .. } => ShapeError::new_err(message),
        Error::Space { .. } => SpaceError::new_err(message),
        Error::Overflow { .. } => OverflowError::new_err(message),
        Error::DoesNotFit { .. } => DoesNotFitError::new_err(message),
        Error::Cancelled => pyo3::exceptions::PyKeyboardInterrupt::new_err(()),
        Error::Internal(_) => InternalError::new_err(message),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ArchBudgetError", py.get_type::<ArchBudgetError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add("UnknownLayerError", py.get_type::<UnknownLayerError>())?;
    m.add(
        "UnknownModelTypeError",
        py.get_type::<UnknownModelTypeError>(),
    )?;
    m.add("InvalidValueError", py.get_type::<InvalidValueError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("SpaceError", py.get_type::<SpaceError>())?;
    m.add("OverflowError", py.get_type::<OverflowError>())?;
    m.add("DoesNotFitError", py.get_type::<DoesNotFitError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
