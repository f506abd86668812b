"""Keras models as people write them (the keras-io examples' custom layers, Lambda,
`keras.ops` nodes, preprocessing layers, a functional Model subclass), built by real
Keras and recorded in the oracle's `describe()` format (see make_keras_extra.py).

Every model is saved twice: its JSON (in the .json.gz) and a `.keras` archive under
tests/data/keras_written/ (config.json + model.weights.h5), for the reader that counts a
custom layer from the shapes of its saved weights.

usage: KERAS_BACKEND=jax python tests/data/make_keras_written.py [OUTFILE]
  OUTFILE defaults to tests/data/keras_models_written.json.gz
"""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
from keras import layers as L
from keras import ops

from make_keras_extra import describe

HERE = os.path.dirname(os.path.abspath(__file__))
ARCHIVES = os.path.join(HERE, "keras_written")
register = keras.saving.register_keras_serializable(package="keras_io")


# ------------------------------------------------------------- keras-io custom layers
@register
class Patches(L.Layer):  # vision/image_classification_with_vision_transformer
    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size

    def call(self, images):
        batch = ops.shape(images)[0]
        patches = ops.image.extract_patches(images, size=self.patch_size)
        return ops.reshape(patches, (batch, -1, patches.shape[-1]))

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@register
class PatchEncoder(L.Layer):  # vision/image_classification_with_vision_transformer
    def __init__(self, num_patches, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = num_patches
        self.projection_dim = projection_dim
        self.projection = L.Dense(units=projection_dim)
        self.position_embedding = L.Embedding(input_dim=num_patches, output_dim=projection_dim)

    def call(self, patch):
        positions = ops.expand_dims(ops.arange(start=0, stop=self.num_patches, step=1), axis=0)
        return self.projection(patch) + self.position_embedding(positions)

    def get_config(self):
        return {**super().get_config(), "num_patches": self.num_patches, "projection_dim": self.projection_dim}


@register
class TokenAndPositionEmbedding(L.Layer):  # nlp/text_classification_with_transformer
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = L.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = L.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        positions = ops.arange(start=0, stop=ops.shape(x)[-1], step=1)
        return self.token_emb(x) + self.pos_emb(positions)

    def get_config(self):
        return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size, "embed_dim": self.embed_dim}


@register
class TransformerBlock(L.Layer):  # nlp/text_classification_with_transformer
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim, self.rate = embed_dim, num_heads, ff_dim, rate
        self.att = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential([L.Dense(ff_dim, activation="relu"), L.Dense(embed_dim)])
        self.layernorm1 = L.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = L.LayerNormalization(epsilon=1e-6)
        self.dropout1 = L.Dropout(rate)
        self.dropout2 = L.Dropout(rate)

    def call(self, inputs):
        attn_output = self.dropout1(self.att(inputs, inputs))
        out1 = self.layernorm1(inputs + attn_output)
        return self.layernorm2(out1 + self.dropout2(self.ffn(out1)))

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "ff_dim": self.ff_dim, "rate": self.rate}


@register
class PositionalEmbedding(L.Layer):  # nlp/neural_machine_translation_with_transformer
    def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_embeddings = L.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.position_embeddings = L.Embedding(input_dim=sequence_length, output_dim=embed_dim)
        self.sequence_length, self.vocab_size, self.embed_dim = sequence_length, vocab_size, embed_dim

    def call(self, inputs):
        positions = ops.arange(0, ops.shape(inputs)[-1], 1)
        return self.token_embeddings(inputs) + self.position_embeddings(positions)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "vocab_size": self.vocab_size, "embed_dim": self.embed_dim}


@register
class CCTTokenizer(L.Layer):  # vision/cct
    def __init__(self, kernel_size=3, stride=1, padding=1, pooling_kernel_size=3, pooling_stride=2,
                 num_conv_layers=2, num_output_channels=(64, 128), **kwargs):
        super().__init__(**kwargs)
        self.config_ = dict(kernel_size=kernel_size, stride=stride, padding=padding,
                            pooling_kernel_size=pooling_kernel_size, pooling_stride=pooling_stride,
                            num_conv_layers=num_conv_layers, num_output_channels=list(num_output_channels))
        self.conv_model = keras.Sequential()
        for i in range(num_conv_layers):
            self.conv_model.add(L.Conv2D(num_output_channels[i], kernel_size, stride, padding="valid",
                                         use_bias=False, activation="relu", kernel_initializer="he_normal"))
            self.conv_model.add(L.ZeroPadding2D(padding))
            self.conv_model.add(L.MaxPooling2D(pooling_kernel_size, pooling_stride, "same"))

    def call(self, images):
        outputs = self.conv_model(images)
        shape = ops.shape(outputs)
        return ops.reshape(outputs, (-1, shape[1] * shape[2], shape[-1]))

    def get_config(self):
        return {**super().get_config(), **self.config_}


@register
class ConvBN(L.Layer):  # a convolution followed by batch normalization and ReLU
    def __init__(self, filters, kernel_size, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.conv = L.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False)
        self.bn = L.BatchNormalization()

    def call(self, x, training=None):
        return ops.relu(self.bn(self.conv(x), training=training))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides}


@register
class DepthToSpace(L.Layer):  # vision/super_resolution_sub_pixel
    def __init__(self, block_size, **kwargs):
        super().__init__(**kwargs)
        self.block_size = block_size

    def call(self, input):
        batch, height, width, depth = ops.shape(input)
        depth = depth // (self.block_size**2)
        x = ops.reshape(input, [batch, height, width, self.block_size, self.block_size, depth])
        x = ops.transpose(x, [0, 1, 3, 2, 4, 5])
        return ops.reshape(x, [batch, height * self.block_size, width * self.block_size, depth])

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


@register
class PixelConvLayer(L.Layer):  # generative/pixelcnn
    def __init__(self, mask_type, **kwargs):
        super().__init__()
        self.mask_type = mask_type
        self.conv_kwargs = kwargs
        self.conv = L.Conv2D(**kwargs)

    def build(self, input_shape):
        self.conv.build(input_shape)
        kernel_shape = ops.shape(self.conv.kernel)
        self.mask = ops.zeros(shape=kernel_shape)

    def call(self, inputs):
        return self.conv(inputs)

    def get_config(self):
        return {**super().get_config(), "mask_type": self.mask_type, **self.conv_kwargs}


@register
class VectorQuantizer(L.Layer):  # generative/vq_vae
    def __init__(self, num_embeddings, embedding_dim, beta=0.25, **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim, self.num_embeddings, self.beta = embedding_dim, num_embeddings, beta
        self.embeddings = self.add_weight(shape=(embedding_dim, num_embeddings), initializer="random_uniform",
                                          trainable=True, name="embeddings_vqvae")

    def call(self, x):
        input_shape = ops.shape(x)
        flattened = ops.reshape(x, [-1, self.embedding_dim])
        indices = ops.argmin(ops.sum(flattened**2, axis=1, keepdims=True)
                             - 2 * ops.matmul(flattened, self.embeddings), axis=1)
        quantized = ops.matmul(ops.one_hot(indices, self.num_embeddings), ops.transpose(self.embeddings))
        return x + ops.stop_gradient(ops.reshape(quantized, input_shape) - x)

    def get_config(self):
        return {**super().get_config(), "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim, "beta": self.beta}


@register
class CTCLayer(L.Layer):  # vision/captcha_ocr
    def call(self, y_true, y_pred):
        return y_pred


@register
class Sampling(L.Layer):  # generative/vae
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


@register
class ReflectionPadding2D(L.Layer):  # generative/cyclegan
    def __init__(self, padding=(1, 1), **kwargs):
        self.padding = tuple(padding)
        super().__init__(**kwargs)

    def call(self, input_tensor, mask=None):
        pw, ph = self.padding
        return ops.pad(input_tensor, [[0, 0], [ph, ph], [pw, pw], [0, 0]], mode="reflect")

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding)}


@register
class VAE(keras.Model):  # a functional Model subclass that only adds a training step
    def train_step(self, data):
        return super().train_step(data)


# ------------------------------------------------------------------------ models
def fn(inputs, outputs, cls=keras.Model, name=None):
    return cls(inputs, outputs, name=name)


def cases():
    I = keras.Input
    c = {}

    def vit():
        x = I((32, 32, 3))
        p = Patches(4)(x)
        e = PatchEncoder(64, 32)(p)
        for _ in range(2):
            h = L.LayerNormalization(epsilon=1e-6)(e)
            a = L.MultiHeadAttention(num_heads=2, key_dim=32, dropout=0.1)(h, h)
            e2 = L.Add()([a, e])
            h = L.LayerNormalization(epsilon=1e-6)(e2)
            h = L.Dense(64, activation=keras.activations.gelu)(h)
            e = L.Add()([L.Dense(32)(h), e2])
        r = L.Flatten()(L.LayerNormalization(epsilon=1e-6)(e))
        return fn(x, L.Dense(10)(L.Dropout(0.5)(r)))
    c["vit_patches"] = vit

    def text_transformer():
        x = I((40,))
        e = TokenAndPositionEmbedding(40, 2000, 32)(x)
        e = TransformerBlock(32, 2, 32)(e)
        e = L.GlobalAveragePooling1D()(e)
        return fn(x, L.Dense(2, activation="softmax")(L.Dense(20, activation="relu")(e)))
    c["token_and_position_embedding"] = text_transformer

    def translation_encoder():
        x = I((None,), dtype="int64")
        e = PositionalEmbedding(20, 1500, 32)(x)
        h = L.MultiHeadAttention(num_heads=2, key_dim=32)(e, e)
        h = L.LayerNormalization()(L.Add()([e, h]))
        return fn(x, L.Dense(1500)(h))
    c["positional_embedding"] = translation_encoder

    def cct():
        x = I((32, 32, 3))
        t = CCTTokenizer()(x)
        n = L.Dense(1)(t)
        w = ops.softmax(n, axis=1)
        pooled = ops.squeeze(ops.matmul(ops.transpose(w, (0, 2, 1)), t), -2)
        return fn(x, L.Dense(10)(pooled))
    c["cct_tokenizer"] = cct

    def conv_bn():
        x = I((28, 28, 3))
        y = ConvBN(16, 3)(x)
        y = ConvBN(32, 3, strides=2)(y)
        return fn(x, L.Dense(5)(L.GlobalAveragePooling2D()(y)))
    c["conv_bn"] = conv_bn

    def super_resolution():
        x = I((None, None, 1))
        y = L.Conv2D(32, 5, padding="same", activation="relu")(x)
        y = L.Conv2D(9, 3, padding="same")(y)
        return fn(x, DepthToSpace(3)(y))
    c["depth_to_space"] = super_resolution

    def pixelcnn():
        x = I((28, 28, 1))
        y = PixelConvLayer(mask_type="A", filters=32, kernel_size=7, activation="relu", padding="same")(x)
        y = PixelConvLayer(mask_type="B", filters=32, kernel_size=1, strides=1, activation="relu", padding="valid")(y)
        return fn(x, L.Conv2D(1, 1, activation="sigmoid")(y))
    c["pixel_conv"] = pixelcnn

    def vqvae():
        x = I((28, 28, 1))
        y = L.Conv2D(16, 3, activation="relu", strides=2, padding="same")(x)
        y = L.Conv2D(8, 1, padding="same")(y)
        q = VectorQuantizer(32, 8, name="vector_quantizer")(y)
        y = L.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(q)
        return fn(x, L.Conv2DTranspose(1, 3, padding="same")(y))
    c["vector_quantizer"] = vqvae

    def captcha():
        img = I((200, 50, 1), name="image")
        labels = I((None,), name="label")
        y = L.Conv2D(8, 3, activation="relu", padding="same")(img)
        y = L.MaxPooling2D(4)(y)
        y = L.Reshape((50, 12 * 8))(y)
        y = L.Bidirectional(L.LSTM(16, return_sequences=True))(y)
        y = L.Dense(21, activation="softmax")(y)
        return fn([img, labels], CTCLayer(name="ctc_loss")(labels, y))
    c["ctc_layer"] = captcha

    def vae_encoder():
        x = I((28, 28, 1))
        y = L.Conv2D(8, 3, activation="relu", strides=2, padding="same")(x)
        y = L.Dense(16, activation="relu")(L.Flatten()(y))
        z_mean = L.Dense(2, name="z_mean")(y)
        z_log_var = L.Dense(2, name="z_log_var")(y)
        return fn(x, [z_mean, z_log_var, Sampling()([z_mean, z_log_var])], cls=VAE, name="encoder")
    c["sampling_vae_subclass"] = vae_encoder

    def cyclegan():
        x = I((32, 32, 3))
        y = ReflectionPadding2D(padding=(3, 3))(x)
        y = L.Conv2D(8, 7, use_bias=False)(y)
        y = L.GroupNormalization(groups=-1)(y)
        y = ReflectionPadding2D()(L.Activation("relu")(y))
        return fn(x, L.Conv2D(3, 3, activation="tanh")(y))
    c["reflection_padding"] = cyclegan

    def lambdas():
        x = I((10, 4))
        a = L.Lambda(lambda t: t * 2.0)(x)
        b = L.Lambda(lambda t: ops.mean(t, axis=1), output_shape=(4,))(a)
        d = L.Dense(3)(b)
        e = L.Lambda(lambda t: ops.expand_dims(t, 1))(d)
        f = L.Dense(5)(e)
        return fn(x, f)
    c["lambda_layers"] = lambdas

    def mobilenet_pre():
        x = I((64, 64, 3))
        y = keras.applications.mobilenet_v2.preprocess_input(x)
        y = L.Conv2D(8, 3)(y)
        return fn(x, L.Dense(2)(L.GlobalMaxPooling2D()(y)))
    c["preprocess_mobilenet"] = mobilenet_pre

    def resnet_pre():
        x = I((64, 64, 3))
        y = keras.applications.resnet50.preprocess_input(x)
        y = L.Conv2D(8, 3)(y)
        return fn(x, L.Dense(2)(L.GlobalAveragePooling2D()(y)))
    c["preprocess_resnet"] = resnet_pre

    def tensor_ops():
        x = I((6, 8))
        y = L.Dense(8)(x)
        a = x[:, 0]
        b = x[:, 1:4, ::2]
        c_ = ops.expand_dims(a, 1)
        d = ops.squeeze(c_, axis=1)
        e = ops.silu(y) / 3.0 - x * 2.0
        f = ops.reshape(e, (-1, 12, 4))
        g = ops.transpose(f, (0, 2, 1))
        h = ops.concatenate([g, g], axis=-1)
        k = ops.matmul(ops.transpose(y, (0, 2, 1)), x)
        m = ops.mean(y, axis=1)
        s = ops.sum(y, axis=-1, keepdims=True)
        n = ops.softmax(y, axis=-1)
        z = L.Dense(2)(d + m)
        return fn(x, [z, b, h, k, s, n])
    c["tensor_ops"] = tensor_ops

    def structured():
        # structured_data/structured_data_classification_with_feature_space style
        s = I((1,), dtype="string", name="thal")
        i = I((1,), dtype="int64", name="sex")
        f = I((1,), dtype="float32", name="age")
        t = I((), dtype="string", name="text")
        sl = L.StringLookup(vocabulary=["fixed", "normal", "reversible"], output_mode="one_hot")(s)
        il = L.IntegerLookup(vocabulary=[0, 1], output_mode="one_hot")(i)
        di = L.Discretization(bin_boundaries=[30.0, 45.0, 60.0])(f)
        ce = L.CategoryEncoding(num_tokens=4, output_mode="one_hot")(di)
        no = L.Normalization(mean=50.0, variance=100.0)(f)
        ha = L.Hashing(num_bins=8)(s)
        hc = L.CategoryEncoding(num_tokens=8, output_mode="multi_hot")(ha)
        tv = L.TextVectorization(max_tokens=20, output_sequence_length=6,
                                 vocabulary=["a", "b", "c"])(t)
        te = L.GlobalAveragePooling1D()(L.Embedding(20, 4)(tv))
        ad = L.Normalization(axis=-1)
        ad.adapt(keras.ops.convert_to_tensor([[1.0], [2.0], [3.0]]))
        na = ad(f)
        sc = L.Rescaling(1 / 100.0)(f)
        feats = L.Concatenate()([sl, il, ce, no, hc, te, na, sc])
        return fn([s, i, f, t], L.Dense(1, activation="sigmoid")(L.Dense(8, activation="relu")(feats)))
    c["preprocessing_layers"] = structured

    def lookup_sequence():
        x = I((None,), dtype="string")
        y = L.StringLookup(vocabulary=["a", "b", "c", "d"], num_oov_indices=2, mask_token="")(x)
        y = L.Embedding(7, 4)(y)
        z = L.IntegerLookup(max_tokens=10, vocabulary=[1, 2, 3], output_mode="multi_hot")(I((3,), dtype="int64"))
        return keras.Model([x, z._keras_history.operation.input], [L.LSTM(3)(y), z])
    c["lookup_sequence"] = lookup_sequence

    def subclass_train_step():
        x = I((16,))
        h = L.Dense(8, activation="relu")(x)
        return fn(x, L.Dense(1)(h), cls=VAE, name="regressor")
    c["model_subclass_train_step"] = subclass_train_step
    return c


def main():
    outfile = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_models_written.json.gz")
    os.makedirs(ARCHIVES, exist_ok=True)
    models = []
    for name, make in cases().items():
        model = make()
        models.append(describe(model, "written", name))
        model.save(os.path.join(ARCHIVES, f"{name}.keras"))
        print(name, models[-1]["total_params"], file=sys.stderr, flush=True)
        keras.backend.clear_session()
    data = dict(keras=keras.__version__, backend=keras.backend.backend(), models=models)
    with gzip.open(outfile, "wt", compresslevel=9) as f:
        json.dump(data, f)
    print(len(models), "models,", sum(len(m["layers"]) for m in models), "rows", file=sys.stderr)


if __name__ == "__main__":
    main()
