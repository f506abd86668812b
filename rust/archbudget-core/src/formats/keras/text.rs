//! A Keras model's JSON text read straight into the layer entries the graph reader walks,
//! for a summary: the `inbound_nodes` (a third of an Application's text) become tensor
//! references borrowing the layer names from the text, their recorded shapes and
//! positional arguments stay unparsed text until a layer reads them, and only the layer
//! configs, which the layer rules read, are built as JSON values.
//!
//! It declines (None), leaving the text to the `Value` reader and its messages, whatever
//! is not a plain Keras model: not UTF-8 JSON, a transformers config, a KerasHub model,
//! a nested model, Keras 2 node lists, a malformed tensor reference.
use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::entry::{Entry, Inbound, Json, NamedRef, NodeSpec};
use super::functional::TENSOR_KWARGS;
use super::is_model_entry;
use crate::formats::json::{Key, ModelValues};

/// A model read from its text: the document without its layer list (`config.layers` an
/// empty list) and the entries of that list.
pub(crate) struct Document<'t> {
    pub top: Value,
    pub entries: Vec<Entry<'t>>,
}

pub(crate) fn read(text: &str) -> Option<Document<'_>> {
    let values = ModelValues::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let doc = Top(&values).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(doc)
}

type Out<T, E> = std::result::Result<T, E>;

fn decline<E: de::Error>() -> E {
    // never shown: the `Value` reader reads the text again and says what is wrong
    E::custom("left to the Value reader")
}

fn is_keras_hub(registered_name: &Value) -> bool {
    registered_name
        .as_str()
        .is_some_and(|r| r.starts_with("keras_hub>"))
}

/// The whole document.
struct Top<'s>(&'s ModelValues);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Document<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Document<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Keras model")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Out<Self::Value, A::Error> {
        let mut top = Map::new();
        let mut entries = None;
        while let Some(key) = map.next_key_seed(Key)? {
            if key == "config" {
                let (config, layers) = map.next_value_seed(Config(self.0))?;
                top.insert(key.into_owned(), Value::Object(config));
                entries = layers;
            } else if key == "model_type" {
                return Err(decline());
            } else if let Some(value) = self.0.entry_value(&key, &mut map)? {
                if key == "registered_name" && is_keras_hub(&value) {
                    return Err(decline());
                }
                top.insert(key.into_owned(), value);
            }
        }
        let plain = top.get("class_name").is_some_and(Value::is_string);
        match entries {
            Some(entries) if plain => Ok(Document {
                top: Value::Object(top),
                entries,
            }),
            _ => Err(decline()),
        }
    }
}

/// A model's `config`: its values, its `layers` as entries.
struct Config<'s>(&'s ModelValues);

impl<'de> DeserializeSeed<'de> for Config<'_> {
    type Value = (Map<String, Value>, Option<Vec<Entry<'de>>>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Config<'_> {
    type Value = (Map<String, Value>, Option<Vec<Entry<'de>>>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a model config")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Out<Self::Value, A::Error> {
        let mut config = Map::new();
        let mut entries = None;
        while let Some(key) = map.next_key_seed(Key)? {
            if key == "layers" {
                entries = Some(map.next_value_seed(Entries(self.0))?);
                config.insert(key.into_owned(), Value::Array(Vec::new()));
            } else if let Some(value) = self.0.entry_value(&key, &mut map)? {
                config.insert(key.into_owned(), value);
            }
        }
        Ok((config, entries))
    }
}

struct Entries<'s>(&'s ModelValues);

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = Vec<Entry<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = Vec<Entry<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of layers")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Out<Self::Value, S::Error> {
        let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(entry) = seq.next_element_seed(OneEntry(self.0))? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

struct OneEntry<'s>(&'s ModelValues);

impl<'de> DeserializeSeed<'de> for OneEntry<'_> {
    type Value = Entry<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OneEntry<'_> {
    type Value = Entry<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a layer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Out<Self::Value, A::Error> {
        let mut entry = Entry {
            object: true,
            class_name: None,
            name: None,
            module: None,
            config: None,
            build_config: None,
            inbound: Inbound::Read(Vec::new()),
            whole: None,
        };
        while let Some(key) = map.next_key_seed(Key)? {
            match &*key {
                "class_name" => entry.class_name = Some(map.next_value_seed(Text)?),
                "name" => entry.name = Some(Some(map.next_value_seed(Text)?)),
                "module" => entry.module = map.next_value_seed(OptText)?,
                "registered_name" => {
                    let registered = map.next_value_seed(OptText)?;
                    if registered.is_some_and(|r| r.starts_with("keras_hub>")) {
                        return Err(decline());
                    }
                }
                "config" => entry.config = Some(Cow::Owned(self.0.value(MapOnly(&mut map))?)),
                // read only by a Sequential model's layers
                "build_config" => entry.build_config = Some(Json::Text(map.next_value()?)),
                "inbound_nodes" => {
                    entry.inbound = Inbound::Read(map.next_value_seed(Nodes(self.0))?)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let model = match (&entry.class_name, entry.config.as_deref()) {
            (Some(class), Some(Value::Object(config))) => is_model_entry(class, config),
            _ => true,
        };
        if model {
            return Err(decline());
        }
        Ok(entry)
    }
}

/// The next value of a map, which must be an object (else the entry is declined).
struct MapOnly<'a, A>(&'a mut A);

impl<'de, A: MapAccess<'de>> Deserializer<'de> for MapOnly<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Out<V::Value, A::Error> {
        self.0.next_value_seed(ObjectOf(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct ObjectOf<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for ObjectOf<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<V::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectOf<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Out<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

/// A string, borrowed from the text where it has no escapes.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        Key.deserialize(d)
    }
}

/// An entry's `inbound_nodes`: Keras 3 nodes, `{"args": [...], "kwargs": {...}}`.
struct Nodes<'s>(&'s ModelValues);

impl<'de> DeserializeSeed<'de> for Nodes<'_> {
    type Value = Vec<NodeSpec<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nodes<'_> {
    type Value = Vec<NodeSpec<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of nodes")
    }

    fn visit_unit<E: de::Error>(self) -> Out<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Out<Self::Value, S::Error> {
        let mut nodes = Vec::new();
        while let Some(node) = seq.next_element_seed(OneNode(self.0))? {
            nodes.push(node);
        }
        Ok(nodes)
    }
}

struct OneNode<'s>(&'s ModelValues);

impl<'de> DeserializeSeed<'de> for OneNode<'_> {
    type Value = NodeSpec<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OneNode<'_> {
    type Value = NodeSpec<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Keras 3 node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Out<Self::Value, A::Error> {
        let (mut args, mut kwargs) = (None, None);
        while let Some(key) = map.next_key_seed(Key)? {
            match &*key {
                "args" => args = Some(map.next_value::<&RawValue>()?),
                "kwargs" => kwargs = Some(map.next_value::<&RawValue>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut tensors = Vec::new();
        if let Some(args) = args {
            tensors_in(args, &mut tensors)?;
        }
        let mut call = None;
        if let Some(raw) = kwargs {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            if let Value::Object(map) = self.0.value(&mut de).map_err(|_| decline::<A::Error>())? {
                // keyword tensors in the order the layer's call takes them
                if TENSOR_KWARGS.iter().any(|key| map.contains_key(*key)) {
                    let written = raw_entries(raw).ok_or_else(decline::<A::Error>)?;
                    for key in TENSOR_KWARGS {
                        // the last of repeated keys, as the parsed object keeps it
                        if let Some((_, v)) = written.iter().rev().find(|(k, _)| k == key) {
                            tensors_in(v, &mut tensors)?;
                        }
                    }
                }
                call = Some(Cow::Owned(map));
            }
        }
        Ok(NodeSpec {
            tensors,
            kwargs: call,
            args: args.map(Json::Text),
        })
    }
}

/// The entries of an object as text; None for anything else.
fn raw_entries(raw: &RawValue) -> Option<Vec<(Cow<'_, str>, &RawValue)>> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.deserialize_map(RawMap).ok()
}

struct RawMap;

impl<'de> Visitor<'de> for RawMap {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Out<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            entries.push((key, map.next_value::<&RawValue>()?));
        }
        Ok(entries)
    }
}

fn tensors_in<'t, E: de::Error>(raw: &'t RawValue, out: &mut Vec<NamedRef<'t>>) -> Out<(), E> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Tensors(out).deserialize(&mut de).map_err(|_| decline())
}

/// Keras tensors found in call arguments, in argument order (a dict's values in key
/// order), as `functional::collect_tensors` finds them in a `Value`.
struct Tensors<'o, 't>(&'o mut Vec<NamedRef<'t>>);

impl<'de> DeserializeSeed<'de> for Tensors<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tensors<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("call arguments")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Out<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Out<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Out<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Out<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Out<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Out<(), E> {
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Out<(), S::Error> {
        while seq.next_element_seed(Tensors(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Out<(), A::Error> {
        let out = self.0;
        let start = out.len();
        let mut is_tensor = false;
        let mut config = None;
        // (key, where its tensors start) in the order written
        let mut keys: Vec<(Cow<'de, str>, usize)> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if keys.iter().any(|(k, _)| *k == key) {
                return Err(decline()); // repeated keys: the Value reader's last-wins order
            }
            keys.push((key.clone(), out.len()));
            match &*key {
                "class_name" => {
                    let raw = map.next_value::<&RawValue>()?.get();
                    if raw.starts_with(['{', '[']) || raw.contains('\\') {
                        return Err(decline()); // tensors inside it, or an escaped name
                    }
                    is_tensor = raw == "\"__keras_tensor__\"";
                }
                "config" => config = Some(map.next_value::<&RawValue>()?),
                _ => map.next_value_seed(Tensors(&mut *out))?,
            }
        }
        if is_tensor {
            out.truncate(start);
            let config = config.ok_or_else(decline)?;
            let config: TensorConfig =
                serde_json::from_str(config.get()).map_err(|_| decline::<A::Error>())?;
            let [layer, node, tensor] = config.keras_history.ok_or_else(decline)?;
            let index = |v: &RawValue| v.get().parse::<usize>().map_err(|_| decline::<A::Error>());
            let mut de = serde_json::Deserializer::from_str(layer.get());
            out.push(NamedRef {
                layer: Text
                    .deserialize(&mut de)
                    .map_err(|_| decline::<A::Error>())?,
                node: index(node)?,
                tensor: index(tensor)?,
                shape: config.shape.map(Json::Text),
            });
            return Ok(());
        }
        if let Some(config) = config {
            let at = keys
                .iter()
                .position(|(k, _)| k == "config")
                .unwrap_or(keys.len());
            // its tensors go where its key is in the order written, then sorted below
            let mut inner = Vec::new();
            tensors_in::<A::Error>(config, &mut inner)?;
            let offset = keys.get(at).map_or(out.len(), |(_, s)| *s);
            let n = inner.len();
            out.splice(offset..offset, inner);
            for (_, s) in keys.iter_mut().skip(at + 1) {
                *s += n;
            }
        }
        // a dict's values in key order
        if keys.windows(2).any(|w| w[0].0 > w[1].0) {
            let ends: Vec<usize> = keys
                .iter()
                .skip(1)
                .map(|(_, s)| *s)
                .chain([out.len()])
                .collect();
            let mut parts: Vec<(&str, Vec<NamedRef<'de>>)> = Vec::with_capacity(keys.len());
            let taken: Vec<NamedRef<'de>> = out.drain(start..).collect();
            let mut taken = taken.into_iter();
            for ((k, s), e) in keys.iter().zip(ends) {
                parts.push((k, taken.by_ref().take(e - s).collect()));
            }
            parts.sort_by(|a, b| a.0.cmp(b.0));
            out.extend(parts.into_iter().flat_map(|(_, p)| p));
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct TensorConfig<'t> {
    #[serde(borrow, default)]
    shape: Option<&'t RawValue>,
    #[serde(borrow, default, deserialize_with = "history")]
    keras_history: Option<[&'t RawValue; 3]>,
}

/// `[name, node, tensor, ...]`: the first three.
fn history<'de, D: Deserializer<'de>>(d: D) -> Out<Option<[&'de RawValue; 3]>, D::Error> {
    let items: Vec<&'de RawValue> = de::Deserialize::deserialize(d)?;
    match items.as_slice() {
        [a, b, c, ..] => Ok(Some([*a, *b, *c])),
        _ => Err(decline()),
    }
}

/// A string or null.
struct OptText;

impl<'de> DeserializeSeed<'de> for OptText {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptText {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_none<E: de::Error>(self) -> Out<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Out<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Out<Self::Value, D::Error> {
        Text.deserialize(d).map(Some)
    }
}
