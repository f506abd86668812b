"""Extra Keras ground truth beyond the dev oracle: hand-written models per layer class
with varied options, trainable / nested / shared-layer cases, the random generators of
the oracle's keras_cases.py with other seeds, and every keras.applications model built
with weights=None (with include_top=False / pooling variants).

Each model is recorded in the oracle's `describe()` format: model_json, totals and
per-layer rows (output_shape as str(list(shape)), or 'None' when `layer.output` is not
one tensor). The `summary` text is kept for a few models only, to keep the file small.

usage: KERAS_BACKEND=jax python tests/data/make_keras_extra.py [OUTFILE [SECTION ...]]
  OUTFILE defaults to tests/data/keras_models_extra.json.gz; SECTIONs are
  layers, trainable, random, apps (default: all, in that order). Also saves small
  .keras archives under tests/data/keras/.
"""
import contextlib
import gzip
import importlib.util
import io
import json
import math
import os
import random
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
from keras import layers as L

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE_CASES = os.environ.get("KERAS_CASES", os.path.join(HERE, "..", "..", "..", "shared", "oracle", "keras_cases.py"))
KEEP_SUMMARY = {"seq_lstm_states", "frozen_backbone_seq", "shared_dense", "MobileNetV3Large"}


def size(w):
    return int(math.prod(w.shape))


def describe(model, kind, name):
    """The oracle's describe(); sizes from shapes (equal to w.numpy().size, without
    copying hundreds of MB of random weights)."""
    rows = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
            shape = list(shape) if not isinstance(shape, list) else shape
        except Exception:
            shape = None
        rows.append(dict(name=layer.name, class_name=type(layer).__name__, output_shape=str(shape),
                         params=int(layer.count_params()),
                         trainable=sum(size(w) for w in layer.trainable_weights),
                         non_trainable=sum(size(w) for w in layer.non_trainable_weights)))
    tr = sum(size(w) for w in model.trainable_weights)
    nt = sum(size(w) for w in model.non_trainable_weights)
    d = dict(kind=kind, name=name, model_json=json.loads(model.to_json()),
             total_params=tr + nt, trainable_params=tr, non_trainable_params=nt, layers=rows)
    if name in KEEP_SUMMARY:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            model.summary(line_length=140)
        d["summary"] = buf.getvalue()
    return d


def seq(input_shape, *layers, dtype="float32"):
    return keras.Sequential([keras.Input(input_shape, dtype=dtype), *layers])


def fn(inputs, outputs):
    return keras.Model(inputs, outputs)


# ------------------------------------------------------------------ per layer class
def layer_cases():
    I = keras.Input
    c = {}
    # convolutions
    c["conv1d_variants"] = lambda: seq((50, 6), L.Conv1D(8, 3, strides=2, padding="same"),
                                       L.Conv1D(8, 5, dilation_rate=2, padding="causal", use_bias=False),
                                       L.Conv1D(4, 3, groups=2, padding="valid"))
    c["conv1d_channels_first"] = lambda: seq((6, 40), L.Conv1D(8, 3, strides=3, data_format="channels_first"),
                                             L.Conv1D(5, 2, padding="same", data_format="channels_first"))
    c["conv2d_variants"] = lambda: seq((33, 31, 4), L.Conv2D(8, (3, 5), strides=(2, 1), padding="valid"),
                                       L.Conv2D(8, 3, dilation_rate=2, padding="same"),
                                       L.Conv2D(16, 1, groups=4), L.Conv2D(6, (2, 2), strides=2, padding="same"))
    c["conv2d_channels_first"] = lambda: seq((3, 28, 30), L.Conv2D(8, 3, strides=2, data_format="channels_first"),
                                             L.Conv2D(4, (1, 3), padding="same", data_format="channels_first"))
    c["conv3d_variants"] = lambda: seq((10, 12, 14, 2), L.Conv3D(4, 3, padding="same"),
                                       L.Conv3D(6, (1, 3, 2), strides=(1, 2, 2), use_bias=False),
                                       L.Conv3D(2, 2, dilation_rate=(2, 1, 1)))
    c["conv3d_channels_first"] = lambda: seq((2, 9, 10, 11), L.Conv3D(4, 3, strides=2, data_format="channels_first"))
    c["conv1d_transpose"] = lambda: seq((20, 3), L.Conv1DTranspose(8, 3, strides=2),
                                        L.Conv1DTranspose(4, 4, strides=3, padding="same", output_padding=1),
                                        L.Conv1DTranspose(2, 3, dilation_rate=2, padding="valid", use_bias=False))
    c["conv2d_transpose"] = lambda: seq((7, 9, 5), L.Conv2DTranspose(8, 3, strides=2, padding="valid"),
                                        L.Conv2DTranspose(4, (3, 5), strides=(2, 3), padding="same", output_padding=(1, 2)),
                                        L.Conv2DTranspose(3, 3, strides=2, padding="valid", output_padding=1),
                                        L.Conv2DTranspose(2, 3, dilation_rate=2))
    c["conv2d_transpose_cf"] = lambda: seq((5, 7, 9), L.Conv2DTranspose(6, 4, strides=2, padding="same", data_format="channels_first"))
    c["conv3d_transpose"] = lambda: seq((4, 5, 6, 3), L.Conv3DTranspose(4, 3, strides=2, padding="same"),
                                        L.Conv3DTranspose(2, (2, 3, 3), strides=(1, 2, 2), output_padding=(0, 1, 1)))
    c["separable"] = lambda: seq((30, 5), L.SeparableConv1D(8, 3, depth_multiplier=2, padding="same"),
                                 L.SeparableConv1D(4, 5, strides=2, use_bias=False),
                                 L.DepthwiseConv1D(3, depth_multiplier=3, strides=2, padding="same"),
                                 L.DepthwiseConv1D(2, use_bias=False))
    c["separable2d"] = lambda: seq((20, 21, 3), L.SeparableConv2D(8, 3, strides=2, depth_multiplier=3),
                                   L.SeparableConv2D(4, (3, 1), dilation_rate=2, padding="same", use_bias=False),
                                   L.DepthwiseConv2D((3, 2), strides=(2, 1), depth_multiplier=2),
                                   L.DepthwiseConv2D(3, dilation_rate=2, padding="same", use_bias=False))
    c["separable2d_cf"] = lambda: seq((3, 20, 21), L.SeparableConv2D(8, 3, data_format="channels_first"),
                                      L.DepthwiseConv2D(3, depth_multiplier=2, data_format="channels_first"))
    # pooling
    for dim, shape, shape_cf in [(1, (30, 4), (4, 30)), (2, (17, 19, 3), (3, 17, 19)), (3, (9, 10, 11, 2), (2, 9, 10, 11))]:
        def pools(dim=dim, shape=shape):
            mx, av = getattr(L, f"MaxPooling{dim}D"), getattr(L, f"AveragePooling{dim}D")
            return seq(shape, mx(2), av(2, strides=1, padding="same"), mx(3, strides=2, padding="same"),
                       av(pool_size=2, strides=1))
        c[f"pooling{dim}d"] = pools

        def pools_cf(dim=dim, shape_cf=shape_cf):
            mx, av = getattr(L, f"MaxPooling{dim}D"), getattr(L, f"AveragePooling{dim}D")
            return seq(shape_cf, mx(2, data_format="channels_first"),
                       av(2, strides=1, padding="same", data_format="channels_first"))
        c[f"pooling{dim}d_cf"] = pools_cf

        def gpools(dim=dim, shape=shape, shape_cf=shape_cf):
            x = I(shape)
            y = I(shape_cf)
            gm, ga = getattr(L, f"GlobalMaxPooling{dim}D"), getattr(L, f"GlobalAveragePooling{dim}D")
            outs = [gm()(x), ga(keepdims=True)(x), gm(keepdims=True, data_format="channels_first")(y),
                    ga(data_format="channels_first")(y)]
            return fn([x, y], outs)
        c[f"global_pooling{dim}d"] = gpools
    # cropping, padding, upsampling
    c["crop_pad_up_1d"] = lambda: seq((20, 3), L.Cropping1D((2, 3)), L.ZeroPadding1D(2), L.ZeroPadding1D((1, 4)),
                                      L.Cropping1D(1), L.UpSampling1D(3))
    c["crop_pad_up_2d"] = lambda: seq((20, 22, 3), L.Cropping2D(((1, 2), (3, 4))), L.ZeroPadding2D(((2, 0), (1, 3))),
                                      L.Cropping2D(2), L.ZeroPadding2D((1, 2)), L.Cropping2D((3, 1)),
                                      L.UpSampling2D((2, 3)), L.UpSampling2D(2, interpolation="bilinear"))
    c["crop_pad_up_2d_cf"] = lambda: seq((3, 20, 22), L.Cropping2D(((1, 2), (3, 4)), data_format="channels_first"),
                                         L.ZeroPadding2D(((2, 0), (1, 3)), data_format="channels_first"),
                                         L.UpSampling2D((2, 1), data_format="channels_first"))
    c["crop_pad_up_3d"] = lambda: seq((8, 9, 10, 2), L.Cropping3D(((1, 0), (2, 1), (0, 3))), L.ZeroPadding3D(1),
                                      L.ZeroPadding3D(((1, 2), (0, 1), (3, 0))), L.Cropping3D(1), L.UpSampling3D((1, 2, 3)))
    c["crop_pad_up_3d_cf"] = lambda: seq((2, 8, 9, 10), L.Cropping3D(1, data_format="channels_first"),
                                         L.ZeroPadding3D((1, 2, 3), data_format="channels_first"),
                                         L.UpSampling3D(2, data_format="channels_first"))
    # recurrent
    c["simple_rnn_variants"] = lambda: seq((12, 5), L.SimpleRNN(7, return_sequences=True),
                                           L.SimpleRNN(3, use_bias=False, return_sequences=True), L.SimpleRNN(4))
    c["gru_variants"] = lambda: seq((12, 5), L.GRU(7, return_sequences=True, reset_after=False),
                                    L.GRU(6, return_sequences=True), L.GRU(3, use_bias=False))
    c["lstm_variants"] = lambda: seq((None, 5), L.LSTM(7, return_sequences=True, use_bias=False),
                                     L.LSTM(6, return_sequences=True, unit_forget_bias=False), L.LSTM(3))

    def seq_lstm_states():
        x = I((9, 4))
        o, h, cst = L.LSTM(5, return_state=True)(x)
        s, h2 = L.GRU(5, return_sequences=True, return_state=True)(x, initial_state=[h])
        r, h3 = L.SimpleRNN(6, return_state=True)(s)
        d = L.LSTM(5)(x, initial_state=[h, cst])
        return fn(x, [o, s, r, h3, d])
    c["seq_lstm_states"] = seq_lstm_states
    c["conv_lstm1d"] = lambda: seq((5, 20, 3), L.ConvLSTM1D(4, 3, padding="same", return_sequences=True),
                                   L.ConvLSTM1D(2, 3, strides=2, use_bias=False))
    c["conv_lstm2d"] = lambda: seq((4, 16, 17, 3), L.ConvLSTM2D(4, 3, return_sequences=True),
                                   L.ConvLSTM2D(2, (3, 1), strides=2, padding="same", dilation_rate=1))
    c["conv_lstm2d_cf"] = lambda: seq((4, 3, 16, 17), L.ConvLSTM2D(4, 3, data_format="channels_first", return_sequences=True))
    c["conv_lstm3d"] = lambda: seq((3, 6, 7, 8, 2), L.ConvLSTM3D(3, 2, padding="same"))

    def conv_lstm_state():
        x = I((4, 10, 10, 3))
        o, h, s = L.ConvLSTM2D(4, 3, return_state=True)(x)
        return fn(x, [o, h, s])
    c["conv_lstm_state"] = conv_lstm_state
    for mode in ["concat", "sum", "ave", "mul", None]:
        def bidi(mode=mode):
            x = I((10, 6))
            y = L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode=mode)(x)
            if mode is None:
                y = L.Concatenate()(y)
            z = L.Bidirectional(L.GRU(4), merge_mode=mode)(y)
            if mode is None:
                z = L.Add()(z)
            return fn(x, z)
        c[f"bidirectional_{mode}"] = bidi

    def bidi_state():
        x = I((10, 6))
        outs = L.Bidirectional(L.LSTM(5, return_state=True))(x)
        outs2 = L.Bidirectional(L.GRU(3, return_state=True, return_sequences=True), merge_mode=None)(x)
        outs3 = L.Bidirectional(L.SimpleRNN(2, return_state=True), merge_mode="sum")(x)
        return fn(x, list(outs) + list(outs2) + list(outs3))
    c["bidirectional_state"] = bidi_state
    c["bidirectional_backward_layer"] = lambda: seq(
        (10, 6), L.Bidirectional(L.LSTM(5, return_sequences=True),
                                 backward_layer=L.GRU(5, return_sequences=True, go_backwards=True)),
        L.Bidirectional(L.SimpleRNN(3), backward_layer=L.SimpleRNN(3, go_backwards=True, use_bias=False), merge_mode="ave"))
    c["time_distributed"] = lambda: seq((6, 16, 16, 3), L.TimeDistributed(L.Conv2D(4, 3)),
                                        L.TimeDistributed(L.MaxPooling2D(2)), L.TimeDistributed(L.Flatten()),
                                        L.TimeDistributed(L.Dense(5)), L.LSTM(3))
    c["time_distributed_dense"] = lambda: seq((7, 9), L.TimeDistributed(L.Dense(4, use_bias=False)),
                                              L.TimeDistributed(L.BatchNormalization()))

    # attention
    def mha(**kw):
        def make():
            q = I((6, 8))
            v = I((5, 10))
            k = I((5, 12))
            call = kw.pop("call", {})
            with_key = kw.pop("with_key", False)
            layer = L.MultiHeadAttention(**kw)
            out = layer(q, v, key=k, **call) if with_key else layer(q, v, **call)
            outs = list(out) if isinstance(out, tuple) else [out]
            return fn([q, v, k], outs)
        return make
    c["mha_basic"] = mha(num_heads=2, key_dim=4)
    c["mha_value_dim"] = mha(num_heads=3, key_dim=4, value_dim=7)
    c["mha_output_int"] = mha(num_heads=2, key_dim=4, output_shape=11)
    c["mha_output_tuple"] = mha(num_heads=2, key_dim=4, output_shape=(3, 5))
    c["mha_no_bias"] = mha(num_heads=4, key_dim=2, use_bias=False, value_dim=3)
    c["mha_gate"] = mha(num_heads=2, key_dim=4, value_dim=6, use_gate=True)
    c["mha_key"] = mha(num_heads=2, key_dim=4, with_key=True)
    c["mha_key_gate_nobias"] = mha(num_heads=2, key_dim=3, with_key=True, use_gate=True, use_bias=False)
    c["mha_scores"] = mha(num_heads=2, key_dim=4, call=dict(return_attention_scores=True))
    c["mha_key_scores"] = mha(num_heads=5, key_dim=4, with_key=True, call=dict(return_attention_scores=True))

    def mha_axes(axes, scores):
        def make():
            x = I((4, 5, 6))
            layer = L.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=axes)
            out = layer(x, x, return_attention_scores=scores)
            return fn(x, list(out) if scores else out)
        return make
    c["mha_axes_12"] = mha_axes((1, 2), False)
    c["mha_axes_12_scores"] = mha_axes((1, 2), True)
    c["mha_axes_2_scores"] = mha_axes(2, True)
    c["mha_axes_1_scores"] = mha_axes([1], True)

    def self_attention():
        x = I((7, 16))
        y = L.MultiHeadAttention(2, 8)(x, x, x)
        y = L.MultiHeadAttention(4, 4, value_dim=2, output_shape=(4, 4))(y, x)
        return fn(x, y)
    c["mha_self"] = self_attention

    def dot_attention():
        q = I((6, 8))
        v = I((5, 8))
        k = I((5, 8))
        a = L.Attention()([q, v])
        b = L.Attention(use_scale=True)([q, v, k])
        cc = L.Attention(score_mode="concat", use_scale=True)([q, v])
        d, s = L.Attention(use_scale=True)([q, v], return_attention_scores=True)
        e = L.AdditiveAttention()([q, v])
        f = L.AdditiveAttention(use_scale=False)([q, v, k])
        g, s2 = L.AdditiveAttention()([q, v, k], return_attention_scores=True)
        return fn([q, v, k], [a, b, cc, d, s, e, f, g, s2])
    c["dot_attention"] = dot_attention
    c["attention_dim_change"] = lambda: (lambda q, v: fn([q, v], L.Attention()([q, v])))(I((4, 6)), I((9, 6)))

    # normalization
    c["group_norm"] = lambda: seq((8, 8, 12), L.GroupNormalization(groups=3), L.GroupNormalization(groups=4, center=False),
                                  L.GroupNormalization(groups=-1, scale=False), L.GroupNormalization(groups=2, axis=1))
    c["unit_rms_norm"] = lambda: seq((5, 12), L.UnitNormalization(), L.RMSNormalization(),
                                     L.RMSNormalization(axis=[1, 2]), L.UnitNormalization(axis=[1, 2]))
    c["layer_norm_axes"] = lambda: seq((5, 6, 7), L.LayerNormalization(axis=[1, 2, 3]), L.LayerNormalization(axis=1),
                                       L.LayerNormalization(axis=(-2, -1), center=False), L.LayerNormalization(rms_scaling=True))
    c["batch_norm_axes"] = lambda: seq((4, 6, 7), L.BatchNormalization(axis=1),
                                       L.BatchNormalization(center=False, scale=False), L.BatchNormalization(axis=-2))
    c["embedding_variants"] = lambda: seq((None,), L.Embedding(500, 16, mask_zero=True), L.LSTM(4), dtype="int32")
    c["embedding_2d"] = lambda: seq((3, 7), L.Embedding(50, 4), L.Reshape((21, 4)), L.GlobalAveragePooling1D(), dtype="int32")

    def normalizations():
        x = I((5, 6))
        z = I((4, 4, 3))
        a = L.Normalization()(x)
        b = L.Normalization(mean=0.5, variance=2.0)(x)
        cc = L.Normalization(axis=None)(x)
        d = L.Normalization(axis=(1, 2))(x)
        e = L.Normalization(axis=1, invert=True)(x)
        f = L.Normalization(axis=-1, mean=[1.0, 2.0, 3.0], variance=[1.0, 1.0, 1.0])(z)
        g = L.Normalization(axis=(1, 3))(z)
        h = L.Normalization(axis=-2)(z)
        return fn([x, z], [a, b, cc, d, e, f, g, h])
    c["normalization_variants"] = normalizations
    c["image_preprocessing"] = lambda: seq((40, 50, 3), L.Rescaling(1 / 255.0), L.Rescaling(2.0, offset=-1.0),
                                           L.Resizing(32, 24), L.CenterCrop(20, 18), L.Resizing(10, 12, interpolation="nearest"),
                                           L.RandomFlip(), L.RandomRotation(0.1), L.RandomZoom(0.1), L.RandomContrast(0.1),
                                           L.RandomTranslation(0.1, 0.1), L.RandomBrightness(0.1), L.RandomCrop(8, 9))
    c["resizing_cf"] = lambda: seq((3, 40, 50), L.Resizing(32, 24, data_format="channels_first"),
                                   L.CenterCrop(20, 18, data_format="channels_first"))
    # reshaping
    c["reshape_family"] = lambda: seq((4, 6, 10), L.Permute((3, 1, 2)), L.Reshape((-1, 12)), L.Reshape((5, -1, 2)),
                                      L.Flatten(), L.RepeatVector(3), L.Permute((2, 1)), L.Reshape((4, 3, -1)))
    c["flatten_cf"] = lambda: seq((3, 4, 5), L.Flatten(data_format="channels_first"), L.Dense(2))
    c["activations"] = lambda: seq((10,), L.Dense(6), L.ReLU(max_value=6.0), L.LeakyReLU(negative_slope=0.2), L.ELU(),
                                   L.Softmax(), L.Activation("gelu"), L.PReLU(), L.Dropout(0.2), L.GaussianNoise(0.1),
                                   L.GaussianDropout(0.1), L.AlphaDropout(0.1), L.ActivityRegularization(l1=0.01),
                                   L.Identity())
    c["prelu_shared"] = lambda: seq((6, 7, 3), L.PReLU(shared_axes=[1, 2]), L.PReLU(shared_axes=[3]), L.PReLU(shared_axes=1),
                                    L.SpatialDropout2D(0.1))
    c["masking_spatial"] = lambda: seq((6, 5), L.Masking(), L.SpatialDropout1D(0.1), L.LSTM(3))

    # merging
    def merges():
        a = I((4, 8))
        b = I((4, 8))
        one = I((1, 8))
        row = I((8,))
        outs = [cls()([a, b]) for cls in (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum)]
        outs += [L.Add()([a, one]), L.Multiply()([one, a]), L.Maximum()([a, b, one]), L.Average()([a, one, b])]
        outs += [L.Add()([a, row]), L.Minimum()([row, a])]
        return fn([a, b, one, row], outs)
    c["merge_elementwise"] = merges

    def concats():
        a = I((4, 8))
        b = I((4, 3))
        d = I((2, 8))
        e = I((4, 8, 2))
        return fn([a, b, d, e], [L.Concatenate()([a, b]), L.Concatenate(axis=1)([a, d]), L.Concatenate(axis=-2)([a, d, a]),
                                 L.Concatenate(axis=2)([e, e]), L.Concatenate(axis=1)([e, e])])
    c["concatenate_axes"] = concats

    def dots():
        a = I((8,))
        b = I((8,))
        s = I((5, 8))
        t = I((6, 8))
        u = I((8, 6))
        return fn([a, b, s, t, u], [L.Dot(axes=1)([a, b]), L.Dot(axes=1, normalize=True)([a, b]),
                                    L.Dot(axes=(2, 2))([s, t]), L.Dot(axes=(2, 1))([s, u]), L.Dot(axes=-1)([s, t]),
                                    L.Dot(axes=[1, 1], normalize=True)([s, s])])
    c["dot_axes"] = dots

    # einsum
    def einsums():
        x = I((5, 8))
        y = I((8,))
        z = I((3, 4, 6))
        outs = [
            L.EinsumDense("ab,bc->ac", output_shape=7, bias_axes="c")(y),
            L.EinsumDense("abc,cd->abd", output_shape=(None, 9))(x),
            L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de")(x),
            L.EinsumDense("abc,bcd->ad", output_shape=4, bias_axes="d")(x),
            L.EinsumDense("...b,bc->...c", output_shape=5, bias_axes="c")(z),
            L.EinsumDense("...c,cd->...d", output_shape=3)(x),
            L.EinsumDense("ab...,bc->ac...", output_shape=(7, None, 6))(z),
            L.EinsumDense("abcd,de->abce", output_shape=(None, 4, 2), bias_axes="e")(z),
            L.EinsumDense("abcd,cde->abe", output_shape=(3, 5), bias_axes="e")(z),
            L.EinsumDense("...cd,cde->...e", output_shape=5, bias_axes="e")(z),
        ]
        return fn([x, y, z], outs)
    c["einsum_dense"] = einsums
    c["dense_nd"] = lambda: seq((3, 4, 5), L.Dense(6), L.Dense(2, use_bias=False))

    # graph structure
    def shared_dense():
        a = I((10,))
        b = I((10,))
        d = L.Dense(6, name="shared")
        e = L.Dense(10)
        x = d(a)
        y = d(b)
        z = d(e(d(a)))
        return fn([a, b], [L.Concatenate()([x, y]), z])
    c["shared_dense"] = shared_dense

    def siamese_conv():
        a = I((16, 16, 3))
        b = I((16, 16, 3))
        tower = keras.Sequential([L.Conv2D(4, 3), L.BatchNormalization(), L.GlobalAveragePooling2D()], name="tower")
        return fn([a, b], L.Dense(1)(L.Subtract()([tower(a), tower(b)])))
    c["siamese_nested_sequential"] = siamese_conv

    def multi_io():
        img = I((16, 16, 3), name="img")
        txt = I((12,), dtype="int32", name="txt")
        meta = I((4,), name="meta")
        x = L.GlobalMaxPooling2D()(L.Conv2D(8, 3)(img))
        t = L.LSTM(6)(L.Embedding(100, 8)(txt))
        h = L.Concatenate()([x, t, meta])
        return fn([img, txt, meta], [L.Dense(3, name="cls")(h), L.Dense(1, name="reg")(h), t])
    c["multi_io"] = multi_io

    def functional_in_sequential():
        inner_in = I((12,))
        inner = fn(inner_in, L.Dense(4)(L.Dense(8, activation="relu")(inner_in)))
        return seq((12,), inner, L.Dense(2))
    c["functional_in_sequential"] = functional_in_sequential

    def nested_deep():
        block = keras.Sequential([keras.Input((8,)), L.Dense(8), L.LayerNormalization()], name="block")
        x_in = I((8,))
        mid = fn(x_in, block(block(x_in)))
        outer_in = I((8,))
        y = mid(outer_in)
        y = keras.Sequential([L.Dense(3), L.Dense(2)], name="head")(y)
        return fn(outer_in, y)
    c["nested_deep_shared"] = nested_deep

    def dict_io():
        a = I((6,), name="a")
        b = I((4, 3), name="b")
        x = L.Concatenate()([a, L.Flatten()(b)])
        return keras.Model({"a": a, "b": b}, {"y": L.Dense(2, name="y")(x), "z": L.Dense(3, name="z")(x)})
    c["dict_inputs_outputs"] = dict_io

    def nested_dict_model():
        a = I((6,), name="za")
        b = I((3,), name="ab")
        inner = keras.Model({"z": a, "a": b}, L.Concatenate()([L.Dense(4)(a), b]), name="dict_inner")
        x = I((6,))
        y = I((3,))
        return fn([x, y], L.Dense(1)(inner({"z": x, "a": y})))
    c["nested_dict_model"] = nested_dict_model

    def mha_masks():
        q = I((6, 8))
        v = I((5, 8))
        mask = I((6, 5), dtype="bool")
        y = L.MultiHeadAttention(2, 4)(q, v, attention_mask=mask)
        z = L.MultiHeadAttention(2, 4)(y, y, use_causal_mask=True)
        return fn([q, v, mask], z)
    c["mha_masks"] = mha_masks

    def shared_conv_two_sizes():
        a = I((32, 32, 3))
        b = I((16, 16, 3))
        conv = L.Conv2D(4, 3)
        pool = L.GlobalAveragePooling2D()
        return fn([a, b], L.Add()([pool(conv(a)), pool(conv(b))]))
    c["shared_conv_two_sizes"] = shared_conv_two_sizes

    def nested_multi_output():
        x = I((8,))
        inner = fn(x, [L.Dense(3)(x), L.Dense(4)(x)])
        y = I((8,))
        p, q = inner(y)
        return fn(y, L.Concatenate()([p, q]))
    c["nested_multi_output"] = nested_multi_output

    def rnn_cells():
        x = I((7, 5))
        a = L.RNN(L.LSTMCell(4), return_sequences=True)(x)
        b = L.RNN(L.GRUCell(3, reset_after=False))(a)
        c2 = L.RNN([L.SimpleRNNCell(3), L.LSTMCell(2)], return_sequences=True)(x)
        d = L.RNN(L.GRUCell(2), return_state=True)(x)
        return fn(x, [b, c2, *d])
    c["rnn_cells"] = rnn_cells
    c["fixed_batch"] = lambda: keras.Sequential([keras.Input((5, 6), batch_size=4), L.LSTM(3, return_sequences=True),
                                                 L.Reshape((-1,)), L.Dense(2)])
    c["unknown_dims"] = lambda: seq((None, None, 3), L.Conv2D(4, 3, strides=2), L.MaxPooling2D(), L.UpSampling2D(),
                                    L.ZeroPadding2D(1), L.Cropping2D(1), L.Conv2DTranspose(2, 3, strides=2),
                                    L.GlobalMaxPooling2D())
    c["nested_unbuilt_sequential"] = lambda: seq((9,), keras.Sequential([L.Dense(4), L.Dense(3)]), L.Dense(1))
    c["time_distributed_bidirectional"] = lambda: seq((3, 6, 4), L.TimeDistributed(L.Bidirectional(L.GRU(2))),
                                                      L.TimeDistributed(L.Dense(2)))

    def seq_without_input():
        m = keras.Sequential([L.Dense(5), L.Dense(3)])
        m.build((None, 7))
        return m
    c["sequential_built_no_input"] = seq_without_input
    return c


# ------------------------------------------------------------------ trainable semantics
def trainable_cases():
    I = keras.Input
    c = {}

    def frozen_layers():
        m = seq((10,), L.Dense(8), L.BatchNormalization(), L.Dense(4), L.Dense(3))
        m.layers[0].trainable = False
        m.layers[1].trainable = False
        return m
    c["frozen_dense_bn"] = frozen_layers

    def backbone():
        return keras.applications.MobileNetV2(weights=None, include_top=False, alpha=0.35, input_shape=(96, 96, 3), pooling="avg")

    def frozen_backbone_seq():
        base = backbone()
        base.trainable = False
        return keras.Sequential([keras.Input((96, 96, 3)), base, L.Dense(10)])
    c["frozen_backbone_seq"] = frozen_backbone_seq

    def frozen_backbone_fn():
        base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
        base.trainable = False
        x = I((64, 64, 3))
        y = L.GlobalAveragePooling2D()(base(x))
        return fn(x, L.Dense(5)(L.Dropout(0.2)(y)))
    c["frozen_backbone_fn"] = frozen_backbone_fn

    def partly_frozen_backbone():
        base = keras.applications.MobileNet(weights=None, include_top=False, alpha=0.25, input_shape=(64, 64, 3))
        for layer in base.layers[:30]:
            layer.trainable = False
        x = I((64, 64, 3))
        return fn(x, L.Dense(2)(L.GlobalAveragePooling2D()(base(x))))
    c["partly_frozen_backbone"] = partly_frozen_backbone

    def frozen_nested_sequential():
        inner = keras.Sequential([keras.Input((6,)), L.Dense(5), L.BatchNormalization(), L.Dense(4)], name="inner")
        inner.trainable = False
        x = I((6,))
        return fn(x, L.Dense(1)(inner(x)))
    c["frozen_nested_sequential"] = frozen_nested_sequential

    def frozen_shared():
        a = I((5,))
        b = I((5,))
        d = L.Dense(3)
        d.trainable = False
        return fn([a, b], L.Add()([d(a), d(b)]))
    c["frozen_shared"] = frozen_shared

    def frozen_rnn_wrappers():
        m = seq((8, 4), L.Bidirectional(L.LSTM(3, return_sequences=True)), L.TimeDistributed(L.Dense(2)), L.GRU(2))
        m.layers[0].trainable = False
        m.layers[1].trainable = False
        return m
    c["frozen_rnn_wrappers"] = frozen_rnn_wrappers

    def frozen_mha():
        # Frozen once built, as users freeze: a MultiHeadAttention frozen before it is
        # built creates trainable sublayers in build(), which its own row hides.
        x = I((5, 8))
        layer = L.MultiHeadAttention(2, 4)
        m = fn(x, L.LayerNormalization(trainable=False)(layer(x, x)))
        layer.trainable = False
        return m
    c["frozen_mha"] = frozen_mha

    def frozen_outer_model():
        inner = keras.Sequential([keras.Input((6,)), L.Dense(5), L.BatchNormalization()], name="inner2")
        x = I((6,))
        m = fn(x, L.Dense(1)(inner(x)))
        m.trainable = False
        return m
    c["frozen_whole_model"] = frozen_outer_model

    def nested_frozen_inside_trainable():
        inner = keras.Sequential([keras.Input((6,)), L.Dense(5)], name="frozen_core")
        inner.trainable = False
        mid = keras.Sequential([keras.Input((6,)), inner, L.Dense(4)], name="mid")
        return seq((6,), mid, L.Dense(2))
    c["nested_frozen_inside_trainable"] = nested_frozen_inside_trainable
    return c


# ------------------------------------------------------------------ random generators
def random_cases():
    spec = importlib.util.spec_from_file_location("keras_cases", ORACLE_CASES)
    kc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kc)
    out = []
    for seed, n in [(101, 30), (202, 30), (303, 30), (404, 30), (505, 30)]:
        r = random.Random(seed)
        made = tries = 0
        while made < n and tries < n * 5:
            tries += 1
            maker = kc.MAKERS[made % len(kc.MAKERS)]
            try:
                model = maker(r)
                out.append(describe(model, maker.__name__, f"seed{seed}_{made}"))
                made += 1
            except Exception as e:
                print("skip", maker.__name__, repr(e)[:120], file=sys.stderr)
            keras.backend.clear_session()
    return out


# ------------------------------------------------------------------ applications
def app_cases():
    A = keras.applications
    names = ["ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2", "VGG16", "VGG19",
             "Xception", "InceptionV3", "InceptionResNetV2", "MobileNet", "MobileNetV2", "MobileNetV3Small",
             "MobileNetV3Large", "DenseNet121", "DenseNet169", "DenseNet201", "NASNetMobile", "NASNetLarge",
             *[f"EfficientNetB{i}" for i in range(8)],
             *[f"EfficientNetV2{s}" for s in ["B0", "B1", "B2", "B3", "S", "M", "L"]],
             *[f"ConvNeXt{s}" for s in ["Tiny", "Small", "Base", "Large", "XLarge"]]]
    c = {n: (lambda n=n: getattr(A, n)(weights=None)) for n in names}
    c.update({
        "ResNet101_notop_max": lambda: A.ResNet101(weights=None, include_top=False, input_shape=(96, 96, 3), pooling="max"),
        "ResNet50V2_notop": lambda: A.ResNet50V2(weights=None, include_top=False, input_shape=(100, 120, 3)),
        "VGG16_notop_avg": lambda: A.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3), pooling="avg"),
        "VGG19_classes10": lambda: A.VGG19(weights=None, classes=10, classifier_activation=None),
        "Xception_notop_max": lambda: A.Xception(weights=None, include_top=False, input_shape=(96, 96, 3), pooling="max"),
        "InceptionV3_notop_none": lambda: A.InceptionV3(weights=None, include_top=False, input_shape=(None, None, 3)),
        "InceptionResNetV2_notop_avg": lambda: A.InceptionResNetV2(weights=None, include_top=False, input_shape=(150, 150, 3), pooling="avg"),
        "MobileNet_a0.75_d2": lambda: A.MobileNet(weights=None, alpha=0.75, depth_multiplier=2, input_shape=(128, 128, 3), classes=7),
        "MobileNet_notop_avg": lambda: A.MobileNet(weights=None, include_top=False, alpha=0.5, input_shape=(160, 160, 3), pooling="avg"),
        "MobileNetV2_a1.4": lambda: A.MobileNetV2(weights=None, alpha=1.4),
        "MobileNetV2_notop_max": lambda: A.MobileNetV2(weights=None, include_top=False, alpha=0.75, input_shape=(128, 128, 3), pooling="max"),
        "MobileNetV3Small_min": lambda: A.MobileNetV3Small(weights=None, minimalistic=True, alpha=0.75),
        "MobileNetV3Large_notop": lambda: A.MobileNetV3Large(weights=None, include_top=False, input_shape=(160, 160, 3), pooling="avg", include_preprocessing=False),
        "MobileNetV3Large_min_classes": lambda: A.MobileNetV3Large(weights=None, minimalistic=True, classes=10, dropout_rate=0.0),
        "DenseNet169_notop_max": lambda: A.DenseNet169(weights=None, include_top=False, input_shape=(96, 96, 3), pooling="max"),
        "NASNetMobile_notop_avg": lambda: A.NASNetMobile(weights=None, include_top=False, input_shape=(224, 224, 3), pooling="avg"),
        "EfficientNetB3_notop": lambda: A.EfficientNetB3(weights=None, include_top=False, input_shape=(160, 160, 3), pooling="avg"),
        "EfficientNetB1_classes5": lambda: A.EfficientNetB1(weights=None, classes=5, classifier_activation=None),
        "EfficientNetV2S_notop_max": lambda: A.EfficientNetV2S(weights=None, include_top=False, input_shape=(128, 128, 3), pooling="max"),
        "EfficientNetV2B1_nopre": lambda: A.EfficientNetV2B1(weights=None, include_preprocessing=False),
        "ConvNeXtSmall_notop_avg": lambda: A.ConvNeXtSmall(weights=None, include_top=False, input_shape=(96, 96, 3), pooling="avg"),
        "ConvNeXtTiny_nopre_classes": lambda: A.ConvNeXtTiny(weights=None, include_preprocessing=False, classes=3),
    })
    out = []
    for name, make in c.items():
        t = time.time()
        model = make()
        out.append(describe(model, "application", name))
        print(name, out[-1]["total_params"], f"{time.time() - t:.1f}s", file=sys.stderr, flush=True)
        keras.backend.clear_session()
    return out


def hand_cases(cases, kind):
    out = []
    for name, make in cases.items():
        try:
            out.append(describe(make(), kind, name))
        except Exception as e:
            print("FAILED", name, repr(e)[:300], file=sys.stderr)
        keras.backend.clear_session()
    return out


def save_archives():
    """Small `.keras` archives (zip with config.json and weights) for the archive reader."""
    os.makedirs(os.path.join(HERE, "keras"), exist_ok=True)
    m = seq((12,), L.Dense(8, activation="relu"), L.BatchNormalization(), L.Dense(3))
    m.save(os.path.join(HERE, "keras", "mlp_bn.keras"))
    x = keras.Input((6, 5))
    y = L.Bidirectional(L.GRU(4))(x)
    fn(x, L.Dense(2)(y)).save(os.path.join(HERE, "keras", "bigru.keras"))
    keras.backend.clear_session()


SECTIONS = {
    "layers": lambda: hand_cases(layer_cases(), "layers"),
    "trainable": lambda: hand_cases(trainable_cases(), "trainable"),
    "random": random_cases,
    "apps": app_cases,
}


def main():
    outfile = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_models_extra.json.gz")
    sections = sys.argv[2:] or list(SECTIONS)
    models = []
    for s in sections:
        models += SECTIONS[s]()
    if sections == list(SECTIONS):
        save_archives()
    data = dict(keras=keras.__version__, backend=keras.backend.backend(), models=models)
    with gzip.open(outfile, "wt", compresslevel=9) as f:
        json.dump(data, f)
    print(len(models), "models,", sum(len(m["layers"]) for m in models), "rows", file=sys.stderr)


if __name__ == "__main__":
    main()
