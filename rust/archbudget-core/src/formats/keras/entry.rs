//! One entry of a model config's `layers` list as the graph reader walks it: read from a
//! parsed `Value` (memory, sweep templates, archives, KerasHub graphs), borrowing it, or
//! straight from the JSON text (`super::text`, for a summary), borrowing the text.
use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub(crate) struct Entry<'v> {
    /// False for an entry that is not a JSON object (an error once it is read).
    pub object: bool,
    pub class_name: Option<Cow<'v, str>>,
    /// The entry's own `name` (None: absent, `Some(None)`: not a string).
    pub name: Option<Option<Cow<'v, str>>>,
    pub module: Option<Cow<'v, str>>,
    /// Checked to be an object where it is read (`layer_header`).
    pub config: Option<Cow<'v, Value>>,
    pub build_config: Option<Json<'v>>,
    pub inbound: Inbound<'v>,
    /// The entry as written, where it was read from a `Value`: a nested model is built
    /// from it (the text reader leaves models with nested models to the `Value` path).
    pub whole: Option<&'v Value>,
}

/// The `inbound_nodes` of an entry.
pub(crate) enum Inbound<'v> {
    /// As written (read into `NodeSpec`s with the layer's name for errors).
    Json(Option<&'v Value>),
    /// Read from the text.
    Read(Vec<NodeSpec<'v>>),
}

/// A `keras_history` reference by layer name, resolved later, with the shape the
/// consumer recorded for it (Keras 3 writes it beside the reference).
#[derive(Clone)]
pub(crate) struct NamedRef<'v> {
    pub layer: Cow<'v, str>,
    pub node: usize,
    pub tensor: usize,
    /// Parsed only where a layer without a rule needs it (`consumer_shapes`).
    pub shape: Option<Json<'v>>,
}

/// One inbound node: the tensors it consumes and its arguments.
pub(crate) struct NodeSpec<'v> {
    pub tensors: Vec<NamedRef<'v>>,
    pub kwargs: Option<Cow<'v, Map<String, Value>>>,
    /// The positional arguments; only `keras.ops` nodes read them (`GetItem`'s index).
    pub args: Option<Json<'v>>,
}

/// A JSON value parsed already, or its text, parsed when it is read.
#[derive(Clone, Copy)]
pub(crate) enum Json<'v> {
    Value(&'v Value),
    Text(&'v RawValue),
}

impl<'v> Json<'v> {
    pub fn value(self) -> Option<Cow<'v, Value>> {
        match self {
            Json::Value(v) => Some(Cow::Borrowed(v)),
            Json::Text(raw) => serde_json::from_str(raw.get()).ok().map(Cow::Owned),
        }
    }
}

impl<'v> Entry<'v> {
    pub fn from_value(v: &'v Value) -> Entry<'v> {
        let text = |key: &str| v.get(key).and_then(Value::as_str).map(Cow::Borrowed);
        Entry {
            object: v.is_object(),
            class_name: text("class_name"),
            name: v.get("name").map(|n| n.as_str().map(Cow::Borrowed)),
            module: text("module"),
            config: v.get("config").map(Cow::Borrowed),
            build_config: v.get("build_config").map(Json::Value),
            inbound: Inbound::Json(v.get("inbound_nodes")),
            whole: Some(v),
        }
    }

    /// Whether this is a `keras.ops` node (module `keras.src.ops.numpy`).
    pub fn is_op(&self) -> bool {
        self.module
            .as_deref()
            .is_some_and(|m| m.starts_with("keras.src.ops") || m.starts_with("keras.ops"))
    }

    /// `build_config.input_shape`: the shape the layer was built on.
    pub fn built_on(&self) -> Option<Cow<'_, Value>> {
        match self.build_config.map(Json::value)?? {
            Cow::Borrowed(config) => config.get("input_shape").map(Cow::Borrowed),
            Cow::Owned(mut config) => config
                .get_mut("input_shape")
                .map(Value::take)
                .map(Cow::Owned),
        }
    }

    /// (class_name, name, config), or the error naming entry `index`.
    pub fn header(
        &self,
        index: usize,
        location: &str,
    ) -> Result<(&str, &str, &Map<String, Value>)> {
        // messages formatted only when they are raised: this runs for every layer
        if !self.object {
            return Err(Error::invalid(
                location,
                format!("layer #{index} must be a JSON object"),
            ));
        }
        let class_name = self.class_name.as_deref().ok_or_else(|| {
            Error::invalid(location, format!("layer #{index} has no 'class_name'"))
        })?;
        let config = self
            .config
            .as_deref()
            .and_then(Value::as_object)
            .ok_or_else(|| {
                Error::invalid(
                    location,
                    format!("the config of layer #{index} must be a JSON object"),
                )
            })?;
        let name = match &self.name {
            Some(name) => name.as_deref(),
            None => config.get("name").and_then(Value::as_str),
        };
        let name = name.ok_or_else(|| {
            Error::invalid(
                location,
                format!("layer #{index} ({class_name}) has no 'name'"),
            )
        })?;
        Ok((class_name, name, config))
    }
}
