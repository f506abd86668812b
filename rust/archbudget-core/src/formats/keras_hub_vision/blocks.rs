//! The Keras layers KerasHub's vision constructors call, with the configs those calls
//! give (the keys the Keras layer rules read; initializers weigh nothing in a count).
use serde_json::json;

use super::graph::{Graph, Tensor};

/// `layers.Conv2D` / `layers.DepthwiseConv2D` arguments; `Conv::new` holds Keras's
/// defaults.
#[derive(Clone)]
pub struct Conv {
    pub filters: u64,
    pub kernel: u64,
    pub strides: u64,
    pub padding: &'static str,
    pub use_bias: bool,
    pub activation: String,
    pub groups: u64,
    pub dilation: u64,
}

impl Conv {
    pub fn new(filters: u64, kernel: u64) -> Conv {
        Conv {
            filters,
            kernel,
            strides: 1,
            padding: "valid",
            use_bias: true,
            activation: "linear".into(),
            groups: 1,
            dilation: 1,
        }
    }
    pub fn strides(self, strides: u64) -> Conv {
        Conv { strides, ..self }
    }
    pub fn same(self) -> Conv {
        Conv {
            padding: "same",
            ..self
        }
    }
    pub fn padding(self, padding: &'static str) -> Conv {
        Conv { padding, ..self }
    }
    pub fn no_bias(self) -> Conv {
        Conv {
            use_bias: false,
            ..self
        }
    }
    pub fn activation(self, activation: impl Into<String>) -> Conv {
        Conv {
            activation: activation.into(),
            ..self
        }
    }
    pub fn groups(self, groups: u64) -> Conv {
        Conv { groups, ..self }
    }
    pub fn dilation(self, dilation: u64) -> Conv {
        Conv { dilation, ..self }
    }
}

impl Graph {
    pub fn conv2d(&mut self, name: &str, conv: Conv, x: Tensor) -> Tensor {
        let config = json!({
            "name": name, "filters": conv.filters, "kernel_size": [conv.kernel, conv.kernel],
            "strides": [conv.strides, conv.strides], "padding": conv.padding,
            "data_format": self.data_format(), "dilation_rate": [conv.dilation, conv.dilation],
            "groups": conv.groups,
            "activation": conv.activation, "use_bias": conv.use_bias,
        });
        self.call("Conv2D", config, &[x])
    }

    /// `filters` of `conv` is unused: a depthwise convolution keeps the channels.
    pub fn depthwise_conv2d(&mut self, name: &str, conv: Conv, x: Tensor) -> Tensor {
        let config = json!({
            "name": name, "kernel_size": [conv.kernel, conv.kernel],
            "strides": [conv.strides, conv.strides], "padding": conv.padding,
            "data_format": self.data_format(), "dilation_rate": [1, 1], "depth_multiplier": 1,
            "activation": conv.activation, "use_bias": conv.use_bias,
        });
        self.call("DepthwiseConv2D", config, &[x])
    }

    pub fn batch_norm(&mut self, name: &str, epsilon: f64, momentum: f64, x: Tensor) -> Tensor {
        let config = json!({
            "name": name, "axis": self.channel_axis(), "momentum": momentum, "epsilon": epsilon,
            "center": true, "scale": true,
        });
        self.call("BatchNormalization", config, &[x])
    }

    pub fn activation(&mut self, name: &str, activation: &str, x: Tensor) -> Tensor {
        self.call(
            "Activation",
            json!({"name": name, "activation": activation}),
            &[x],
        )
    }

    pub fn add(&mut self, name: &str, inputs: &[Tensor]) -> Tensor {
        self.merge("Add", json!({"name": name}), inputs)
    }

    pub fn multiply(&mut self, name: &str, inputs: &[Tensor]) -> Tensor {
        self.merge("Multiply", json!({"name": name}), inputs)
    }

    pub fn concatenate(&mut self, name: &str, inputs: &[Tensor]) -> Tensor {
        let axis = self.channel_axis();
        self.merge("Concatenate", json!({"name": name, "axis": axis}), inputs)
    }

    pub fn zero_padding(&mut self, name: &str, pad: [[u64; 2]; 2], x: Tensor) -> Tensor {
        let config = json!({"name": name, "padding": pad, "data_format": self.data_format()});
        self.call("ZeroPadding2D", config, &[x])
    }

    /// `class`: MaxPooling2D or AveragePooling2D.
    pub fn pool(
        &mut self,
        class: &str,
        name: &str,
        size: u64,
        strides: u64,
        padding: &str,
        x: Tensor,
    ) -> Tensor {
        let config = json!({
            "name": name, "pool_size": [size, size], "strides": [strides, strides],
            "padding": padding, "data_format": self.data_format(),
        });
        self.call(class, config, &[x])
    }

    /// `class`: GlobalAveragePooling2D or GlobalMaxPooling2D.
    pub fn global_pool(&mut self, class: &str, name: &str, keepdims: bool, x: Tensor) -> Tensor {
        let config = json!({"name": name, "data_format": self.data_format(), "keepdims": keepdims});
        self.call(class, config, &[x])
    }

    pub fn dropout(&mut self, name: &str, rate: f64, x: Tensor) -> Tensor {
        self.call("Dropout", json!({"name": name, "rate": rate}), &[x])
    }

    /// Dropout of whole samples (`noise_shape=(None, 1, 1, 1)`): drop-path.
    pub fn spatial_dropout(&mut self, name: &str, rate: f64, x: Tensor) -> Tensor {
        let config = json!({"name": name, "rate": rate, "noise_shape": [null, 1, 1, 1]});
        self.call("Dropout", config, &[x])
    }

    /// `target_shape` without the batch axis.
    pub fn reshape(&mut self, name: &str, target_shape: &[u64], x: Tensor) -> Tensor {
        self.call(
            "Reshape",
            json!({"name": name, "target_shape": target_shape}),
            &[x],
        )
    }

    pub fn dense(&mut self, name: &str, units: u64, activation: &str, x: Tensor) -> Tensor {
        let config =
            json!({"name": name, "units": units, "activation": activation, "use_bias": true});
        self.call("Dense", config, &[x])
    }

    pub fn flatten(&mut self, name: &str, x: Tensor) -> Tensor {
        let config = json!({"name": name, "data_format": self.data_format()});
        self.call("Flatten", config, &[x])
    }
}
