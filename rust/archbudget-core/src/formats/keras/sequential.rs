//! A `Sequential` model's layers, each applied to the previous one's output.
use super::*;

pub(super) fn sequential(
    name: String,
    config: &Map<String, Value>,
    entries: &[Entry],
    inputs: Option<&[Shape]>,
    at: Reading,
    location: &str,
    saved: Option<&Saved>,
) -> Result<Model> {
    let names = saved
        .map(|_| saved_names(entries, true))
        .unwrap_or_default();
    let mut layers: Vec<Layer> = Vec::with_capacity(entries.len() + 1);
    let first_is_input =
        entries.first().and_then(|e| e.class_name.as_deref()) == Some("InputLayer");
    let mut shape: Shape = match inputs {
        Some([one]) => one.clone(),
        Some(many) => {
            return Err(Error::shape(
                location,
                format!("a Sequential model takes one input, got {}", many.len()),
            ))
        }
        None => {
            let declared = if first_is_input {
                let (_, _, cfg) = entries[0].header(0, location)?;
                declared_shape(cfg)
            } else {
                config
                    .get("build_input_shape")
                    .filter(|v| !v.is_null())
                    .or_else(|| {
                        let first = entries.first()?.config.as_deref()?;
                        declared_shape(first.as_object()?)
                            .or_else(|| first.get("build_config")?.get("input_shape"))
                    })
            };
            let declared = declared.ok_or_else(|| {
                Error::invalid(
                    location,
                    "Sequential model has no input shape (no InputLayer and no build_input_shape)",
                )
            })?;
            shape_from_json(declared, "the input shape", location)?
        }
    };
    // The input is a layer of its own (hidden from Sequential's summary), so every call
    // refers to a real tensor.
    let (input_name, input_config) = if first_is_input {
        let (_, n, cfg) = entries[0].header(0, location)?;
        (n.to_string(), at.retained(cfg))
    } else {
        ("input_layer".to_string(), Map::new())
    };
    layers.push(Layer {
        name: input_name,
        class_name: "InputLayer".into(),
        config: input_config,
        weights: Vec::new(),
        calls: vec![Call {
            inputs: Vec::new(),
            outputs: vec![shape.clone()],
        }],
        nested: None,
        op: false,
        shape_known: true,
        undeclared: None,
    });
    let mut previous = TensorRef {
        layer: 0,
        node: 0,
        tensor: 0,
    };
    for (i, entry) in entries.iter().enumerate().skip(usize::from(first_is_input)) {
        let (class_name, lname, cfg) = entry.header(i, location)?;
        // What the next layer was built on is what this one returned.
        let consumed = entries
            .get(i + 1)
            .and_then(Entry::built_on)
            .and_then(|s| shape_from_json(&s, "'build_config'", location).ok())
            .map(|s| vec![s]);
        let info = CallInfo {
            consumers: consumed.as_deref(),
            ..CallInfo::default()
        };
        let applied = apply_layer(
            entry,
            class_name,
            lname,
            cfg,
            std::slice::from_ref(&shape),
            info,
            at,
            location,
            saved
                .zip(names.get(i).and_then(Option::as_deref))
                .map(|(s, n)| s.layer(n))
                .as_ref(),
        )?;
        // An undeclared layer whose output nobody recorded leaves the next layer
        // without an input shape: nothing after it can be read.
        if let Some(c) = applied.custom.as_ref().filter(|c| !c.shape_known) {
            if let (Some(e), true) = (&c.undeclared, i + 1 < entries.len()) {
                return Err(e.clone());
            }
        }
        if applied.outputs.len() != 1 {
            return Err(Error::shape(
                format!("{location}: layer '{lname}'"),
                format!(
                    "a layer of a Sequential model must return one tensor, {class_name} returns {}",
                    applied.outputs.len()
                ),
            ));
        }
        let call = Call {
            inputs: vec![(previous, shape.clone())],
            outputs: applied.outputs,
        };
        shape = call.outputs[0].clone();
        layers.push(Layer {
            name: lname.to_string(),
            class_name: class_name.to_string(),
            config: at.retained(cfg),
            weights: applied.weights,
            calls: vec![call],
            nested: applied.nested,
            op: false,
            shape_known: applied.custom.as_ref().is_none_or(|c| c.shape_known),
            undeclared: applied.custom.and_then(|c| c.undeclared),
        });
        previous = TensorRef {
            layer: layers.len() - 1,
            node: 0,
            tensor: 0,
        };
    }
    Ok(Model {
        name,
        class_name: "Sequential".into(),
        functional: false,
        layers,
        inputs: vec![TensorRef {
            layer: 0,
            node: 0,
            tensor: 0,
        }],
        outputs: vec![previous],
        structured_outputs: false,
        unlisted: Vec::new(),
        own_outputs: None,
    })
}
