//! Shared by the bad-input tests (`errors.rs`, `space_errors.rs`): an error's message is
//! one line of the expected kind that names where and what.
use archbudget_core::Error;

/// The message of a failure, checked to be one line that names `parts`.
pub fn message<T>(result: Result<T, Error>, kind: &str, parts: &[&str]) -> String {
    let Err(e) = result else {
        panic!("bad input must be an error ({kind}: {parts:?})")
    };
    let text = e.to_string();
    assert_eq!(e.kind(), kind, "{text}");
    assert!(!text.contains('\n'), "one line: {text:?}");
    for part in parts {
        assert!(text.contains(part), "{text:?} should name {part:?}");
    }
    text
}
