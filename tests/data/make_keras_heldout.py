"""A held-out set of Keras models as the keras-io examples write them, none of them used
by the other fixtures: vision, NLP, generative, audio, time series, structured data, RL
and graphs, with custom layers, Lambda, keras.ops nodes, preprocessing layers and
functional Model subclasses. Built by real Keras 3 and recorded in the oracle's
`describe()` format (make_keras_extra.py); each is also saved as a `.keras` archive under
tests/data/keras_heldout/ (its custom layers are counted from model.weights.h5).

usage: KERAS_BACKEND=jax python tests/data/make_keras_heldout.py [OUTFILE]
  OUTFILE defaults to tests/data/keras_models_heldout.json.gz
"""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
from keras import layers as L
from keras import ops

from make_keras_extra import describe as describe_one_output


def describe(model, kind, name):
    """describe(), with the shapes of layers returning several tensors (an LSTM's
    return_state) as model.summary() prints them: one shape per output."""
    d = describe_one_output(model, kind, name)
    for layer, row in zip(model.layers, d["layers"]):
        if row["output_shape"] == "None" and isinstance(layer.output, (list, tuple)):
            row["output_shape"] = str([list(t.shape) for t in layer.output])
    return d

HERE = os.path.dirname(os.path.abspath(__file__))
ARCHIVES = os.path.join(HERE, "keras_heldout")
register = keras.saving.register_keras_serializable(package="keras_io_heldout")
I = keras.Input


# ------------------------------------------------------------- keras-io custom layers
@register
class Involution(L.Layer):  # vision/involution
    def __init__(self, channel, group_number, kernel_size, stride, reduction_ratio, **kwargs):
        super().__init__(**kwargs)
        self.channel, self.group_number, self.kernel_size = channel, group_number, kernel_size
        self.stride, self.reduction_ratio = stride, reduction_ratio

    def build(self, input_shape):
        (_, height, width, num_channels) = input_shape
        self.height, self.width = height // self.stride, width // self.stride
        self.kernel_gen = keras.Sequential([
            L.Conv2D(self.channel // self.reduction_ratio, 1),
            L.BatchNormalization(),
            L.ReLU(),
            L.Conv2D(self.kernel_size * self.kernel_size * self.group_number, 1),
        ])
        self.kernel_gen.build((None, self.height, self.width, num_channels))

    def call(self, x):
        kernel = self.kernel_gen(x)
        return x + ops.mean(kernel, axis=-1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "channel": self.channel, "group_number": self.group_number,
                "kernel_size": self.kernel_size, "stride": self.stride, "reduction_ratio": self.reduction_ratio}


@register
class ExternalAttention(L.Layer):  # vision/eanet
    def __init__(self, dim, num_heads, k=16, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.num_heads, self.k = dim, num_heads, k
        self.q = L.Dense(dim)
        self.mk = L.Dense(k, use_bias=False)
        self.mv = L.Dense(dim // num_heads, use_bias=False)
        self.proj = L.Dense(dim)

    def call(self, x):
        a = ops.softmax(self.mk(self.q(x)), axis=1)
        return self.proj(ops.tile(self.mv(a), [1, 1, self.num_heads]))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_heads": self.num_heads, "k": self.k}


@register
class PositionalEmbedding(L.Layer):  # nlp/neural_machine_translation_with_transformer
    def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length, self.vocab_size, self.embed_dim = sequence_length, vocab_size, embed_dim
        self.token_embeddings = L.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.position_embeddings = L.Embedding(input_dim=sequence_length, output_dim=embed_dim)

    def call(self, inputs):
        positions = ops.arange(0, ops.shape(inputs)[-1], 1)
        return self.token_embeddings(inputs) + self.position_embeddings(positions)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "vocab_size": self.vocab_size, "embed_dim": self.embed_dim}


@register
class TransformerEncoder(L.Layer):  # nlp/neural_machine_translation_with_transformer
    def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.dense_dim, self.num_heads = embed_dim, dense_dim, num_heads
        self.attention = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.dense_proj = keras.Sequential([L.Dense(dense_dim, activation="relu"), L.Dense(embed_dim)])
        self.layernorm_1 = L.LayerNormalization()
        self.layernorm_2 = L.LayerNormalization()

    def call(self, inputs):
        proj_input = self.layernorm_1(inputs + self.attention(inputs, inputs))
        return self.layernorm_2(proj_input + self.dense_proj(proj_input))

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim, "dense_dim": self.dense_dim,
                "num_heads": self.num_heads}


@register
class GraphConvLayer(L.Layer):  # graph/gnn_citations (features of a fixed graph)
    def __init__(self, hidden_units, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.ffn_prepare = keras.Sequential([L.BatchNormalization(), L.Dense(hidden_units, activation="gelu")])
        self.update_fn = keras.Sequential([L.BatchNormalization(), L.Dense(hidden_units, activation="gelu")])

    def call(self, node_repesentations):
        messages = self.ffn_prepare(node_repesentations)
        aggregated = ops.mean(messages, axis=1, keepdims=True) + messages
        return self.update_fn(ops.concatenate([node_repesentations, aggregated], axis=-1))

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}


@register
class GatedLinearUnit(L.Layer):  # structured_data/classification_with_grn_and_vsn
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.linear = L.Dense(units)
        self.sigmoid = L.Dense(units, activation="sigmoid")

    def call(self, inputs):
        return self.linear(inputs) * self.sigmoid(inputs)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@register
class CrossLayer(L.Layer):  # recommendation: deep & cross network
    def build(self, input_shape):
        d = input_shape[-1]
        self.w = self.add_weight(shape=(d, d), name="kernel")
        self.b = self.add_weight(shape=(d,), name="bias", initializer="zeros")

    def call(self, x):
        return x * (ops.matmul(x, self.w) + self.b) + x


@register
class ContrastiveModel(keras.Model):  # a functional model that only adds a train_step
    def train_step(self, data):
        return super().train_step(data)


@register
class Sampler(keras.Model):  # generative: a functional GAN generator with its own class
    pass


def euclidean_distance(vects):
    x, y = vects
    return ops.sqrt(ops.maximum(ops.sum(ops.square(x - y), axis=1, keepdims=True), keras.backend.epsilon()))


# ------------------------------------------------------------------- the models
def cases():
    c = {}

    def image_classification_from_scratch():  # vision/image_classification_from_scratch
        x = I((64, 64, 3))
        y = L.RandomFlip("horizontal")(x)
        y = L.RandomRotation(0.1)(y)
        y = L.Rescaling(1.0 / 255)(y)
        y = L.Conv2D(32, 3, strides=2, padding="same")(y)
        y = L.BatchNormalization()(y)
        y = L.Activation("relu")(y)
        previous = y
        for size in [64, 128]:
            y = L.Activation("relu")(y)
            y = L.SeparableConv2D(size, 3, padding="same")(y)
            y = L.BatchNormalization()(y)
            y = L.Activation("relu")(y)
            y = L.SeparableConv2D(size, 3, padding="same")(y)
            y = L.BatchNormalization()(y)
            y = L.MaxPooling2D(3, strides=2, padding="same")(y)
            residual = L.Conv2D(size, 1, strides=2, padding="same")(previous)
            y = L.add([y, residual])
            previous = y
        y = L.GlobalAveragePooling2D()(y)
        y = L.Dropout(0.25)(y)
        return keras.Model(x, L.Dense(1, activation=None)(y))
    c["image_classification_from_scratch"] = image_classification_from_scratch

    def convmixer():  # vision/convmixer
        x = I((32, 32, 3))
        y = L.Rescaling(scale=1.0 / 255)(x)
        y = L.Conv2D(64, kernel_size=2, strides=2)(y)
        y = L.Activation("gelu")(y)
        y = L.BatchNormalization()(y)
        for _ in range(3):
            x0 = y
            y = L.DepthwiseConv2D(kernel_size=5, padding="same")(y)
            y = L.Add()([L.BatchNormalization()(L.Activation("gelu")(y)), x0])
            y = L.Conv2D(64, kernel_size=1)(y)
            y = L.BatchNormalization()(L.Activation("gelu")(y))
        y = L.GlobalAvgPool2D()(y)
        return keras.Model(x, L.Dense(10, activation="softmax")(y))
    c["convmixer"] = convmixer

    def involution_net():  # vision/involution
        x = I((32, 32, 3))
        y = Involution(channel=3, group_number=1, kernel_size=3, stride=1, reduction_ratio=2, name="inv_1")(x)
        y = L.ReLU()(y)
        y = L.MaxPooling2D((2, 2))(y)
        y = Involution(channel=3, group_number=1, kernel_size=3, stride=1, reduction_ratio=2, name="inv_2")(y)
        y = L.ReLU()(y)
        y = L.Flatten()(y)
        y = L.Dense(64, activation="relu")(y)
        return keras.Model(x, L.Dense(10)(y))
    c["involution_net"] = involution_net

    def eanet():  # vision/eanet
        x = I((64, 48))
        y = L.Dense(48)(x)
        y = L.LayerNormalization(epsilon=1e-5)(y)
        y = ExternalAttention(48, 4, name="external_attention")(y) + y
        y = L.LayerNormalization(epsilon=1e-5)(y)
        y = L.GlobalAveragePooling1D()(y)
        return keras.Model(x, L.Dense(10, activation="softmax")(y))
    c["eanet"] = eanet

    def siamese_contrastive():  # vision/siamese_contrastive
        inp = I((28, 28, 1))
        y = L.BatchNormalization()(inp)
        y = L.Conv2D(4, (5, 5), activation="tanh")(y)
        y = L.AveragePooling2D(pool_size=(2, 2))(y)
        y = L.Conv2D(16, (5, 5), activation="tanh")(y)
        y = L.AveragePooling2D(pool_size=(2, 2))(y)
        y = L.Flatten()(y)
        y = L.BatchNormalization()(y)
        y = L.Dense(10, activation="tanh")(y)
        embedding = keras.Model(inp, y, name="embedding")
        a, b = I((28, 28, 1)), I((28, 28, 1))
        merge = L.Lambda(euclidean_distance, output_shape=(1,))([embedding(a), embedding(b)])
        out = L.Dense(1, activation="sigmoid")(L.BatchNormalization()(merge))
        return keras.Model([a, b], out, name="siamese")
    c["siamese_contrastive"] = siamese_contrastive

    def oxford_pets_segmentation():  # vision/oxford_pets_image_segmentation
        x = I((64, 64, 3))
        y = L.Conv2D(32, 3, strides=2, padding="same")(x)
        y = L.BatchNormalization()(y)
        y = L.Activation("relu")(y)
        previous = y
        for filters in [64, 128]:
            y = L.Activation("relu")(y)
            y = L.SeparableConv2D(filters, 3, padding="same")(y)
            y = L.BatchNormalization()(y)
            y = L.MaxPooling2D(3, strides=2, padding="same")(y)
            residual = L.Conv2D(filters, 1, strides=2, padding="same")(previous)
            y = L.add([y, residual])
            previous = y
        for filters in [128, 64, 32]:
            y = L.Activation("relu")(y)
            y = L.Conv2DTranspose(filters, 3, padding="same")(y)
            y = L.BatchNormalization()(y)
            y = L.UpSampling2D(2)(y)
            residual = L.UpSampling2D(2)(previous)
            residual = L.Conv2D(filters, 1, padding="same")(residual)
            y = L.add([y, residual])
            previous = y
        return keras.Model(x, L.Conv2D(3, 3, activation="softmax", padding="same")(y))
    c["oxford_pets_segmentation"] = oxford_pets_segmentation

    def pointnet():  # vision/pointnet: the T-net's transform applied by Dot
        def conv_bn(t, filters):
            return L.Activation("relu")(L.BatchNormalization(momentum=0.0)(L.Conv1D(filters, kernel_size=1, padding="valid")(t)))

        def dense_bn(t, filters):
            return L.Activation("relu")(L.BatchNormalization(momentum=0.0)(L.Dense(filters)(t)))

        def tnet(t, k):
            y = conv_bn(t, 16)
            y = conv_bn(y, 32)
            y = L.GlobalMaxPooling1D()(y)
            y = dense_bn(y, 16)
            y = L.Dense(k * k, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(0.0))(y)
            return L.Dot(axes=(2, 1))([t, L.Reshape((k, k))(y)])

        x = I((64, 3))
        y = tnet(x, 3)
        y = conv_bn(y, 16)
        y = tnet(y, 16)
        y = conv_bn(y, 32)
        y = L.GlobalMaxPooling1D()(y)
        y = L.Dropout(0.3)(dense_bn(y, 32))
        return keras.Model(x, L.Dense(10, activation="softmax")(y), name="pointnet")
    c["pointnet"] = pointnet

    def conv3d_ct():  # vision/3D_image_classification
        x = I((32, 32, 16, 1))
        y = L.Conv3D(filters=8, kernel_size=3, activation="relu")(x)
        y = L.MaxPool3D(pool_size=2)(y)
        y = L.BatchNormalization()(y)
        y = L.Conv3D(filters=16, kernel_size=3, activation="relu")(y)
        y = L.MaxPool3D(pool_size=2)(y)
        y = L.BatchNormalization()(y)
        y = L.GlobalAveragePooling3D()(y)
        y = L.Dense(units=32, activation="relu")(y)
        y = L.Dropout(0.3)(y)
        return keras.Model(x, L.Dense(units=1, activation="sigmoid")(y), name="3dcnn")
    c["conv3d_ct"] = conv3d_ct

    def conv_lstm_next_frame():  # vision/conv_lstm
        x = I((5, 16, 16, 1))
        y = L.ConvLSTM2D(filters=8, kernel_size=(5, 5), padding="same", return_sequences=True, activation="relu")(x)
        y = L.BatchNormalization()(y)
        y = L.ConvLSTM2D(filters=8, kernel_size=(3, 3), padding="same", return_sequences=True, activation="relu")(y)
        y = L.BatchNormalization()(y)
        y = L.ConvLSTM2D(filters=8, kernel_size=(1, 1), padding="same", return_sequences=True, activation="relu")(y)
        return keras.Model(x, L.Conv3D(filters=1, kernel_size=(3, 3, 3), activation="sigmoid", padding="same")(y))
    c["conv_lstm_next_frame"] = conv_lstm_next_frame

    def text_classification_from_scratch():  # nlp/text_classification_from_scratch
        x = I((None,), dtype="int64")
        y = L.Embedding(2000, 32)(x)
        y = L.Dropout(0.5)(y)
        y = L.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(y)
        y = L.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(y)
        y = L.GlobalMaxPooling1D()(y)
        y = L.Dense(32, activation="relu")(y)
        y = L.Dropout(0.5)(y)
        return keras.Model(x, L.Dense(1, activation="sigmoid", name="predictions")(y))
    c["text_classification_from_scratch"] = text_classification_from_scratch

    def lstm_seq2seq():  # nlp/lstm_seq2seq: the decoder starts from the encoder's states
        encoder_inputs = I((None, 30))
        _, state_h, state_c = L.LSTM(64, return_state=True)(encoder_inputs)
        decoder_inputs = I((None, 40))
        decoder_outputs, _, _ = L.LSTM(64, return_sequences=True, return_state=True)(
            decoder_inputs, initial_state=[state_h, state_c])
        return keras.Model([encoder_inputs, decoder_inputs], L.Dense(40, activation="softmax")(decoder_outputs))
    c["lstm_seq2seq"] = lstm_seq2seq

    def addition_rnn():  # nlp/addition_rnn
        return keras.Sequential([
            I((7, 12)),
            L.LSTM(64),
            L.RepeatVector(4),
            L.LSTM(64, return_sequences=True),
            L.Dense(12, activation="softmax"),
        ])
    c["addition_rnn"] = addition_rnn

    def nmt_transformer_encoder():  # nlp/neural_machine_translation_with_transformer
        x = I((20,), dtype="int64", name="encoder_inputs")
        y = PositionalEmbedding(20, 500, 32, name="positional_embedding")(x)
        y = TransformerEncoder(32, 64, 2, name="transformer_encoder")(y)
        y = L.GlobalAveragePooling1D()(y)
        return keras.Model(x, L.Dense(500, activation="softmax")(L.Dropout(0.5)(y)))
    c["nmt_transformer_encoder"] = nmt_transformer_encoder

    def mlm_bert():  # nlp/masked_language_modeling: attention written functionally
        x = I((16,), dtype="int64")
        word = L.Embedding(300, 32, name="word_embedding")(x)
        pos = L.Embedding(16, 32, name="position_embedding")(ops.arange(16))
        y = word + pos
        att = L.MultiHeadAttention(num_heads=2, key_dim=16, name="encoder_0_multiheadattention")(y, y, y)
        att = L.Dropout(0.1)(att)
        att = L.LayerNormalization(epsilon=1e-6)(y + att)
        ffn = keras.Sequential([L.Dense(64, activation="relu"), L.Dense(32)], name="encoder_0_ffn")
        out = L.LayerNormalization(epsilon=1e-6)(att + L.Dropout(0.1)(ffn(att)))
        return keras.Model(x, L.Dense(300, name="mlm_cls", activation="softmax")(out), name="masked_bert_model")
    c["mlm_bert"] = mlm_bert

    def bilstm_ops():  # nlp/bidirectional_lstm_imdb with the mean of the sequence by ops
        x = I((None,), dtype="int32")
        y = L.Embedding(1000, 32)(x)
        y = L.Bidirectional(L.LSTM(32, return_sequences=True))(y)
        y = ops.mean(y, axis=1)
        y = ops.silu(y) / 2.0
        return keras.Model(x, L.Dense(1, activation="sigmoid")(y))
    c["bilstm_ops"] = bilstm_ops

    def dcgan():  # generative/dcgan_overriding_train_step: generator and discriminator
        z = I((32,))
        y = L.Dense(4 * 4 * 32)(z)
        y = L.Reshape((4, 4, 32))(y)
        y = L.Conv2DTranspose(32, kernel_size=4, strides=2, padding="same")(y)
        y = L.LeakyReLU(negative_slope=0.2)(y)
        y = L.Conv2DTranspose(16, kernel_size=4, strides=2, padding="same")(y)
        y = L.LeakyReLU(negative_slope=0.2)(y)
        img = L.Conv2D(3, kernel_size=5, padding="same", activation="sigmoid")(y)
        generator = Sampler(z, img, name="generator")
        image = I((16, 16, 3))
        d = L.Conv2D(16, kernel_size=4, strides=2, padding="same")(image)
        d = L.LeakyReLU(negative_slope=0.2)(d)
        d = L.Conv2D(32, kernel_size=4, strides=2, padding="same")(d)
        d = L.LeakyReLU(negative_slope=0.2)(d)
        d = L.Dense(1, activation="sigmoid")(L.Dropout(0.2)(L.Flatten()(d)))
        discriminator = keras.Model(image, d, name="discriminator")
        z2 = I((32,))
        return keras.Model(z2, discriminator(generator(z2)), name="gan")
    c["dcgan"] = dcgan

    def wgan_generator():  # generative/wgan_gp: upsample and crop to 28x28
        z = I((32,))
        y = L.Dense(4 * 4 * 64, use_bias=False)(z)
        y = L.BatchNormalization()(y)
        y = L.LeakyReLU(0.2)(y)
        y = L.Reshape((4, 4, 64))(y)
        for filters in (32, 16):
            y = L.UpSampling2D((2, 2))(y)
            y = L.Conv2D(filters, (3, 3), padding="same", use_bias=False)(y)
            y = L.BatchNormalization()(y)
            y = L.LeakyReLU(0.2)(y)
        y = L.UpSampling2D((2, 2))(y)
        y = L.Conv2D(1, (3, 3), padding="same", use_bias=False, activation="tanh")(y)
        y = L.Cropping2D((2, 2))(y)
        return keras.Model(z, y, name="generator")
    c["wgan_generator"] = wgan_generator

    def vae_decoder_ops():  # generative/vae: a decoder whose output is rescaled by ops
        z = I((2,))
        y = L.Dense(7 * 7 * 16, activation="relu")(z)
        y = L.Reshape((7, 7, 16))(y)
        y = L.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(y)
        y = L.Conv2DTranspose(8, 3, activation="relu", strides=2, padding="same")(y)
        y = L.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(y)
        y = ops.squeeze(y, axis=-1)
        y = ops.expand_dims(y, axis=-1) * 2.0 - 1.0
        return keras.Model(z, y, name="decoder")
    c["vae_decoder_ops"] = vae_decoder_ops

    def ctc_asr():  # audio/ctc_asr (DeepSpeech2-like)
        x = I((64, 33), name="input")
        y = L.Reshape((-1, 33, 1), name="expand_dim")(x)
        y = L.Conv2D(8, kernel_size=[11, 41], strides=[2, 2], padding="same", use_bias=False, name="conv_1")(y)
        y = L.BatchNormalization(name="conv_1_bn")(y)
        y = L.ReLU(name="conv_1_relu")(y)
        y = L.Conv2D(8, kernel_size=[11, 21], strides=[1, 2], padding="same", use_bias=False, name="conv_2")(y)
        y = L.BatchNormalization(name="conv_2_bn")(y)
        y = L.ReLU(name="conv_2_relu")(y)
        y = L.Reshape((-1, y.shape[-2] * y.shape[-1]))(y)
        for i in range(2):
            y = L.Bidirectional(L.GRU(units=32, activation="tanh", recurrent_activation="sigmoid",
                                      use_bias=True, return_sequences=True, reset_after=True), name=f"bidirectional_{i + 1}",
                                merge_mode="concat")(y)
            if i < 1:
                y = L.Dropout(rate=0.5)(y)
        y = L.Dense(units=64, name="dense_1")(y)
        y = L.ReLU(name="dense_1_relu")(y)
        y = L.Dropout(rate=0.5)(y)
        return keras.Model(x, L.Dense(units=32, activation="softmax")(y), name="DeepSpeech_2")
    c["ctc_asr"] = ctc_asr

    def speaker_recognition():  # audio/speaker_recognition_using_cnn
        def residual_block(t, filters, conv_num=3):
            s = L.Conv1D(filters, 1, padding="same")(t)
            for _ in range(conv_num - 1):
                t = L.Conv1D(filters, 3, padding="same")(t)
                t = L.Activation("relu")(t)
            t = L.Conv1D(filters, 3, padding="same")(t)
            t = L.Add()([t, s])
            t = L.Activation("relu")(t)
            return L.MaxPool1D(pool_size=2, strides=2)(t)

        x = I((256, 1), name="input")
        y = residual_block(x, 8, 2)
        y = residual_block(y, 16, 2)
        y = residual_block(y, 32, 3)
        y = L.AveragePooling1D(pool_size=3, strides=3)(y)
        y = L.Flatten()(y)
        y = L.Dense(64, activation="relu")(y)
        return keras.Model(x, L.Dense(5, activation="softmax", name="output")(y))
    c["speaker_recognition"] = speaker_recognition

    def timeseries_fcn():  # timeseries/timeseries_classification_from_scratch
        x = I((128, 1))
        y = x
        for _ in range(3):
            y = L.ReLU()(L.BatchNormalization()(L.Conv1D(filters=16, kernel_size=3, padding="same")(y)))
        y = L.GlobalAveragePooling1D()(y)
        return keras.Model(x, L.Dense(2, activation="softmax")(y))
    c["timeseries_fcn"] = timeseries_fcn

    def timeseries_transformer():  # timeseries/timeseries_classification_transformer
        x = I((64, 1))
        y = x
        for _ in range(2):
            h = L.MultiHeadAttention(key_dim=16, num_heads=2, dropout=0.25)(y, y)
            h = L.Dropout(0.25)(h)
            h = L.LayerNormalization(epsilon=1e-6)(h)
            res = h + y
            h = L.Conv1D(filters=4, kernel_size=1, activation="relu")(res)
            h = L.Dropout(0.25)(h)
            h = L.Conv1D(filters=1, kernel_size=1)(h)
            y = L.LayerNormalization(epsilon=1e-6)(h) + res
        y = L.GlobalAveragePooling1D(data_format="channels_first")(y)
        y = L.Dropout(0.4)(L.Dense(32, activation="relu")(y))
        return keras.Model(x, L.Dense(2, activation="softmax")(y))
    c["timeseries_transformer"] = timeseries_transformer

    def timeseries_anomaly():  # timeseries/timeseries_anomaly_detection
        return keras.Sequential([
            I((96, 1)),
            L.Conv1D(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
            L.Dropout(rate=0.2),
            L.Conv1D(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
            L.Conv1DTranspose(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
            L.Dropout(rate=0.2),
            L.Conv1DTranspose(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
            L.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
        ])
    c["timeseries_anomaly"] = timeseries_anomaly

    def weather_lstm():  # timeseries/timeseries_weather_forecasting
        x = I((120, 7))
        return keras.Model(x, L.Dense(1)(L.LSTM(32)(x)))
    c["weather_lstm"] = weather_lstm

    def grn_vsn_structured():  # structured_data/classification_with_grn_and_vsn (GLU blocks)
        age = I((1,), dtype="float32", name="age")
        job = I((1,), dtype="string", name="job")
        enc_job = L.Embedding(6, 8)(L.StringLookup(vocabulary=["a", "b", "c", "d"])(job))
        enc_job = ops.squeeze(enc_job, axis=1)
        enc_age = L.Dense(8)(L.Normalization(mean=40.0, variance=100.0)(age))
        y = L.Concatenate()([enc_job, enc_age])
        y = GatedLinearUnit(16, name="glu")(y)
        y = L.LayerNormalization()(y)
        return keras.Model([age, job], L.Dense(1, activation="sigmoid")(y))
    c["grn_vsn_structured"] = grn_vsn_structured

    def deep_cross_network():  # structured_data / recommendation: deep & cross
        x = I((20,))
        cross = CrossLayer(name="cross_1")(x)
        cross = CrossLayer(name="cross_2")(cross)
        deep = L.Dense(32, activation="relu")(x)
        deep = L.Dense(32, activation="relu")(deep)
        y = L.concatenate([cross, deep])
        return keras.Model(x, L.Dense(1, activation="sigmoid")(y))
    c["deep_cross_network"] = deep_cross_network

    def collaborative_filtering():  # structured_data/collaborative_filtering_movielens
        users, movies = I((1,), dtype="int64", name="user"), I((1,), dtype="int64", name="movie")
        u = L.Embedding(50, 16)(users)
        ub = L.Embedding(50, 1)(users)
        m = L.Embedding(80, 16)(movies)
        mb = L.Embedding(80, 1)(movies)
        dot = L.Dot(axes=2)([u, m])
        y = L.Add()([dot, ub, mb])
        y = L.Flatten()(y)
        return keras.Model([users, movies], L.Activation("sigmoid")(y))
    c["collaborative_filtering"] = collaborative_filtering

    def actor_critic():  # rl/actor_critic_cartpole: two outputs
        x = I((4,))
        common = L.Dense(64, activation="relu")(x)
        action = L.Dense(2, activation="softmax")(common)
        critic = L.Dense(1)(common)
        return keras.Model(inputs=x, outputs=[action, critic])
    c["actor_critic"] = actor_critic

    def dqn_atari():  # rl/deep_q_network_breakout
        x = I((84, 84, 4))
        y = L.Conv2D(32, 8, strides=4, activation="relu")(x)
        y = L.Conv2D(64, 4, strides=2, activation="relu")(y)
        y = L.Conv2D(64, 3, strides=1, activation="relu")(y)
        y = L.Flatten()(y)
        y = L.Dense(64, activation="relu")(y)  # 512 in the example: a 6.7 MB archive
        return keras.Model(x, L.Dense(4, activation="linear")(y))
    c["dqn_atari"] = dqn_atari

    def ddpg_critic():  # rl/ddpg_pendulum: the critic's two inputs; the actor's scaled output
        state = I((3,))
        s = L.Dense(16, activation="relu")(state)
        s = L.Dense(32, activation="relu")(s)
        action = I((1,))
        a = L.Dense(32, activation="relu")(action)
        y = L.Concatenate()([s, a])
        y = L.Dense(64, activation="relu")(y)
        y = L.Dense(64, activation="relu")(y)
        q = L.Dense(1)(y)
        actor_out = ops.tanh(L.Dense(1)(s)) * 2.0
        return keras.Model([state, action], [q, actor_out])
    c["ddpg_critic"] = ddpg_critic

    def gnn_node_classifier():  # graph/gnn_citations: node features through graph convs
        x = I((32, 24), name="node_features")
        y = keras.Sequential([L.BatchNormalization(), L.Dense(32, activation="gelu")], name="preprocess")(x)
        y1 = GraphConvLayer(32, name="graph_conv1")(y)
        y = y1 + y
        y2 = GraphConvLayer(32, name="graph_conv2")(y)
        y = y2 + y
        y = L.Dense(32, activation="gelu", name="postprocess")(y)
        return keras.Model(x, L.Dense(7, name="logits")(y), name="gnn_model")
    c["gnn_node_classifier"] = gnn_node_classifier

    def contrastive_subclass():  # a functional keras.Model subclass with a train_step
        x = I((32, 32, 3))
        y = L.Conv2D(16, 3, activation="relu")(x)
        y = L.GlobalMaxPooling2D()(y)
        y = L.Dense(16)(y)
        y = L.UnitNormalization()(y)
        return ContrastiveModel(x, L.Dense(10)(y), name="contrastive")
    c["contrastive_subclass"] = contrastive_subclass

    def mobilevit_block():  # vision/mobilevit: unfold to patches, attend, fold back
        x = I((16, 16, 16))
        y = L.Conv2D(16, 3, padding="same", activation="swish")(x)
        y = L.Conv2D(32, 1, padding="same", activation="swish")(y)
        patches = L.Reshape((4, 64, 32))(y)
        h = L.LayerNormalization(epsilon=1e-6)(patches)
        h = L.MultiHeadAttention(num_heads=2, key_dim=32, dropout=0.1)(h, h)
        h = L.Add()([h, patches])
        f = L.LayerNormalization(epsilon=1e-6)(h)
        f = L.Dense(64, activation="swish")(f)
        f = L.Dense(32, activation="swish")(f)
        h = L.Add()([f, h])
        y = L.Reshape((16, 16, 32))(h)
        y = L.Conv2D(16, 1, padding="same", activation="swish")(y)
        y = L.Concatenate(axis=-1)([x, y])
        y = L.Conv2D(16, 3, padding="same", activation="swish")(y)
        y = L.GlobalAvgPool2D()(y)
        return keras.Model(x, L.Dense(5, activation="softmax")(y))
    c["mobilevit_block"] = mobilevit_block

    def lambda_preprocess():  # a Lambda scaling the image, as older keras-io examples do
        x = I((28, 28))
        y = L.Lambda(lambda t: ops.expand_dims(t, -1) / 255.0, output_shape=(28, 28, 1))(x)
        y = L.Conv2D(8, 3, activation="relu")(y)
        y = L.MaxPooling2D()(y)
        y = L.Flatten()(y)
        return keras.Model(x, L.Dense(10, activation="softmax")(y))
    c["lambda_preprocess"] = lambda_preprocess
    return c


def main():
    outfile = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_models_heldout.json.gz")
    os.makedirs(ARCHIVES, exist_ok=True)
    models = []
    for name, make in cases().items():
        model = make()
        models.append(describe(model, "heldout", name))
        model.save(os.path.join(ARCHIVES, f"{name}.keras"))
        print(name, models[-1]["total_params"], file=sys.stderr, flush=True)
        keras.backend.clear_session()
    data = dict(keras=keras.__version__, backend=keras.backend.backend(), models=models)
    with gzip.open(outfile, "wt", compresslevel=9) as f:
        json.dump(data, f)
    print(len(models), "models,", sum(len(m["layers"]) for m in models), "rows", file=sys.stderr)


if __name__ == "__main__":
    main()
