"""Ground truth for the Keras → PyTorch lowering of `memory`: small Keras models using
the lowered layer classes, each beside the PyTorch module a PyTorch user would write for
it, with that module's parameter and buffer counts and its FLOPs as
torch.utils.flop_counter counts them (forward, and forward + cross-entropy + backward in
train mode, as ../shared/oracle/gpu_memory.py measures them), at batch BATCH on CPU.

Two stages, since Keras (jax backend) and torch live in different environments:
  KERAS_BACKEND=jax python tests/data/make_keras_memory.py keras   # writes model_json
  python tests/data/make_keras_memory.py torch                     # adds the measurements
Each stage skips cleanly when its framework is absent. Output: keras_memory.json.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "keras_memory.json")
BATCH = 2


def keras_models():
    """name -> Keras model (inputs channels-last; the torch twins are channels-first)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    from keras import layers as L

    def seq(name, shape, *layers, dtype="float32"):
        return keras.Sequential([keras.Input(shape, dtype=dtype), *layers], name=name)

    m = {}
    m["conv1d"] = seq("conv1d", (32, 8), L.Conv1D(16, 3, padding="same", activation="relu"),
                      L.Conv1D(16, 5, strides=2, dilation_rate=1), L.MaxPooling1D(2),
                      L.AveragePooling1D(2), L.GlobalAveragePooling1D(), L.Dense(10))
    m["conv3d"] = seq("conv3d", (8, 8, 8, 3), L.Conv3D(8, 3, padding="same", activation="relu"),
                      L.MaxPooling3D(2), L.Conv3D(16, (3, 3, 3), use_bias=False),
                      L.AveragePooling3D(2, padding="same"), L.GlobalMaxPooling3D(), L.Dense(5))
    m["conv_transpose"] = seq("conv_transpose", (8, 8, 4),
                              L.Conv2DTranspose(6, 3, strides=2, padding="same"),
                              L.Conv2DTranspose(4, (2, 3), strides=(2, 1)), L.AveragePooling2D(2),
                              L.GlobalMaxPooling2D(), L.Dense(3))
    m["conv_transpose_1d_3d"] = seq("conv_transpose_1d_3d", (4, 4, 4, 2),
                                    L.Conv3DTranspose(3, 3, strides=2, padding="same"),
                                    L.Reshape((8 * 8 * 8, 3)), L.Conv1DTranspose(5, 4, strides=2),
                                    L.GlobalAveragePooling1D(), L.Dense(4))
    m["depthwise_separable_1d"] = seq("depthwise_separable_1d", (20, 6),
                                      L.DepthwiseConv1D(3, depth_multiplier=2, padding="same"),
                                      L.SeparableConv1D(8, 3, activation="relu"),
                                      L.GlobalMaxPooling1D(), L.Dense(4))
    m["gru_stack"] = seq("gru_stack", (12,), L.Embedding(50, 16), L.GRU(24, return_sequences=True),
                         L.GRU(24), L.Dense(6), dtype="int32")
    m["simple_rnn"] = seq("simple_rnn", (10, 8), L.SimpleRNN(12, return_sequences=True),
                          L.SimpleRNN(12), L.Dense(3))
    m["bidirectional_lstm"] = seq("bidirectional_lstm", (9, 7),
                                  L.Bidirectional(L.LSTM(10, return_sequences=True)),
                                  L.Bidirectional(L.LSTM(10)), L.Dense(4))
    m["bidirectional_gru"] = seq("bidirectional_gru", (9, 7),
                                 L.Bidirectional(L.GRU(6, return_sequences=True)),
                                 L.GlobalAveragePooling1D(), L.Dense(4))
    x = keras.Input((10, 32))
    h = L.MultiHeadAttention(num_heads=4, key_dim=8)(x, x)
    h = L.LayerNormalization()(L.Add()([x, h]))
    m["mha_self"] = keras.Model(x, L.Dense(5)(L.GlobalAveragePooling1D()(h)), name="mha_self")
    q, kv = keras.Input((6, 16)), keras.Input((11, 24))
    h = L.MultiHeadAttention(num_heads=2, key_dim=12, output_shape=20, use_bias=False)(q, kv)
    m["mha_cross"] = keras.Model([q, kv], L.Dense(3)(L.Flatten()(h)), name="mha_cross")
    q, v = keras.Input((6, 16)), keras.Input((9, 16))
    h = L.Attention()([q, v])
    m["dot_attention"] = keras.Model([q, v], L.Dense(3)(L.Flatten()(h)), name="dot_attention")
    m["activations"] = seq("activations", (12, 12, 4), L.Conv2D(8, 3), L.LeakyReLU(0.2),
                           L.Conv2D(8, 3), L.ELU(), L.PReLU(shared_axes=[1, 2]), L.Conv2D(8, 3),
                           L.PReLU(), L.Flatten(), L.Dense(6), L.Softmax())
    a, c = keras.Input((16,)), keras.Input((16,))
    d1, d2 = L.Dense(16)(a), L.Dense(16)(c)
    merged = L.Concatenate()([L.Subtract()([d1, d2]), L.Average()([d1, d2]),
                              L.Maximum()([d1, d2]), L.Minimum()([d1, d2])])
    m["merges"] = keras.Model([a, c], L.Dense(4)(merged), name="merges")
    m["norms"] = seq("norms", (10, 16), L.Dense(16), L.GroupNormalization(groups=4),
                     L.RMSNormalization(), L.UnitNormalization(), L.Dense(8),
                     L.GlobalAveragePooling1D(), L.Dense(3))
    m["reshaping"] = seq("reshaping", (8, 8, 3), L.ZeroPadding2D(1), L.Conv2D(4, 3),
                         L.UpSampling2D(2), L.Cropping2D(((1, 1), (2, 0))), L.Permute((2, 1, 3)),
                         L.Flatten(), L.RepeatVector(3), L.ZeroPadding1D(2), L.UpSampling1D(2),
                         L.Cropping1D((1, 2)), L.Conv1D(4, 3), L.Flatten(), L.Dense(3))
    m["reshaping_3d"] = seq("reshaping_3d", (4, 4, 4, 2), L.ZeroPadding3D(1), L.UpSampling3D(2),
                            L.Cropping3D(1), L.Conv3D(3, 3), L.Flatten(), L.Dense(3))
    m["noise"] = seq("noise", (10, 8), L.Dense(8), L.SpatialDropout1D(0.2), L.GaussianNoise(0.1),
                     L.GaussianDropout(0.2), L.AlphaDropout(0.1), L.Masking(),
                     L.ActivityRegularization(l1=0.01), L.Identity(), L.Flatten(), L.Dense(3))
    m["noise_2d"] = seq("noise_2d", (8, 8, 3), L.RandomFlip(), L.RandomRotation(0.1),
                        L.Conv2D(4, 3), L.SpatialDropout2D(0.2), L.Flatten(), L.Dense(3))
    m["time_distributed"] = seq("time_distributed", (5, 8, 8, 3),
                                L.TimeDistributed(L.Conv2D(4, 3, activation="relu")),
                                L.TimeDistributed(L.Flatten()), L.TimeDistributed(L.Dense(6)),
                                L.LSTM(7), L.Dense(3))
    m["einsum_dense"] = seq("einsum_dense", (10, 12),
                            L.EinsumDense("abc,cd->abd", output_shape=(10, 16), bias_axes="d"),
                            L.EinsumDense("abc,cde->abde", output_shape=(10, 4, 5)),
                            L.Reshape((10, 20)), L.EinsumDense("...b,bc->...c", output_shape=3,
                                                               activation="relu"),
                            L.Flatten(), L.Dense(2))
    x = keras.Input((10, 32))
    h = L.MultiHeadAttention(num_heads=4, key_dim=8, value_dim=6)(x, x)
    h = L.LayerNormalization()(L.Add()([x, h]))
    m["mha_value_dim"] = keras.Model(x, L.Dense(5)(L.GlobalAveragePooling1D()(h)),
                                     name="mha_value_dim")
    q, kv = keras.Input((6, 16)), keras.Input((11, 24))
    h = L.MultiHeadAttention(num_heads=2, key_dim=12, value_dim=5, output_shape=20)(q, kv)
    m["mha_cross_value_dim"] = keras.Model([q, kv], L.Dense(3)(L.Flatten()(h)),
                                           name="mha_cross_value_dim")
    m["bidirectional_merges"] = seq(
        "bidirectional_merges", (9, 7),
        L.Bidirectional(L.LSTM(10, return_sequences=True), merge_mode="sum"),
        L.Bidirectional(L.LSTM(8, return_sequences=True), merge_mode="ave"),
        L.Bidirectional(L.GRU(6), merge_mode="mul"), L.Dense(4))
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    x = keras.Input((6, 6, 8))
    h = LayerScale(1e-6, 8)(L.Dense(8)(x))
    h = CustomScaleLayer(0.17)([x, L.Conv2D(8, 3, padding="same")(h)])
    m["layer_scales"] = keras.Model(x, L.Dense(3)(L.Flatten()(h)), name="layer_scales")
    x = keras.Input((10, 8))
    h = L.LSTM(12, go_backwards=True, return_sequences=True)(x)
    h, _, _ = L.LSTM(12, return_state=True)(h)
    m["rnn_backwards_state"] = keras.Model(x, L.Dense(3)(h), name="rnn_backwards_state")
    x = keras.Input((10, 32))
    h = L.MultiHeadAttention(num_heads=4, key_dim=8, value_dim=6, use_gate=True)(x, x)
    m["mha_gate"] = keras.Model(x, L.Dense(5)(L.GlobalAveragePooling1D()(h)), name="mha_gate")
    q, v = keras.Input((6, 16)), keras.Input((9, 16))
    h = L.Attention(use_scale=True)([q, v])
    m["scaled_dot_attention"] = keras.Model([q, v], L.Dense(3)(L.Flatten()(h)),
                                            name="scaled_dot_attention")
    return m


def torch_models():
    """name -> (module, [input shapes with the batch], input dtype): the PyTorch equivalents."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Fn(nn.Module):
        def __init__(self, f):
            super().__init__()
            self.f = f

        def forward(self, *x):
            return self.f(*x)

    class Last(nn.Module):
        """An RNN's output sequence (batch_first), or its last step."""

        def __init__(self, rnn, last=True):
            super().__init__()
            self.rnn, self.last = rnn, last

        def forward(self, x):
            y = self.rnn(x)[0]
            return y[:, -1] if self.last else y

    class ChannelsLast(nn.Module):
        """A channels-first 1-d module applied to a (batch, steps, channels) tensor."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.transpose(1, 2)).transpose(1, 2)

    B = BATCH
    S = nn.Sequential
    cl = ChannelsLast
    m = {}
    m["conv1d"] = (S(Fn(lambda x: x.transpose(1, 2)), nn.Conv1d(8, 16, 3, padding=1), nn.ReLU(),
                     nn.Conv1d(16, 16, 5, stride=2), nn.MaxPool1d(2), nn.AvgPool1d(2),
                     nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, 10)), [(B, 32, 8)])
    m["conv3d"] = (S(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
                     nn.Conv3d(8, 16, 3, bias=False), nn.AvgPool3d(2, padding=1),
                     nn.AdaptiveMaxPool3d(1), nn.Flatten(), nn.Linear(16, 5)), [(B, 3, 8, 8, 8)])
    m["conv_transpose"] = (S(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1),
                             nn.ConvTranspose2d(6, 4, (2, 3), stride=(2, 1)), nn.AvgPool2d(2),
                             nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4, 3)),
                           [(B, 4, 8, 8)])
    m["conv_transpose_1d_3d"] = (S(nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1, output_padding=1),
                                   nn.Flatten(2), nn.ConvTranspose1d(3, 5, 4, stride=2),
                                   nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(5, 4)),
                                 [(B, 2, 4, 4, 4)])
    m["depthwise_separable_1d"] = (S(nn.Conv1d(6, 12, 3, padding=1, groups=6),
                                     nn.Conv1d(12, 12, 3, groups=12, bias=False),
                                     nn.Conv1d(12, 8, 1), nn.ReLU(), nn.AdaptiveMaxPool1d(1),
                                     nn.Flatten(), nn.Linear(8, 4)), [(B, 6, 20)])
    m["gru_stack"] = (S(nn.Embedding(50, 16), Last(nn.GRU(16, 24, 2, batch_first=True)),
                        nn.Linear(24, 6)), [(B, 12)], "int")
    m["simple_rnn"] = (S(Last(nn.RNN(8, 12, 2, batch_first=True)), nn.Linear(12, 3)), [(B, 10, 8)])
    m["bidirectional_lstm"] = (S(Last(nn.LSTM(7, 10, 2, batch_first=True, bidirectional=True)),
                                 nn.Linear(20, 4)), [(B, 9, 7)])
    m["bidirectional_gru"] = (S(Last(nn.GRU(7, 6, batch_first=True, bidirectional=True), last=False),
                                Fn(lambda x: x.mean(1)), nn.Linear(12, 4)), [(B, 9, 7)])

    class BiMerge(nn.Module):
        """A bidirectional RNN's two directions (out[..., :H], out[..., H:]) combined."""

        def __init__(self, rnn, merge, last=False):
            super().__init__()
            self.rnn, self.merge, self.last = rnn, merge, last

        def forward(self, x):
            y = self.rnn(x)[0]
            y = y[:, -1] if self.last else y
            h = y.shape[-1] // 2
            return self.merge(y[..., :h], y[..., h:])

    m["rnn_backwards_state"] = (S(Fn(lambda x: x.flip(1)), Last(nn.LSTM(8, 12, 2, batch_first=True)),
                                  nn.Linear(12, 3)), [(B, 10, 8)])
    m["bidirectional_merges"] = (S(BiMerge(nn.LSTM(7, 10, batch_first=True, bidirectional=True),
                                           lambda a, b: a + b),
                                   BiMerge(nn.LSTM(10, 8, batch_first=True, bidirectional=True),
                                           lambda a, b: (a + b) / 2),
                                   BiMerge(nn.GRU(8, 6, batch_first=True, bidirectional=True),
                                           lambda a, b: a * b, last=True),
                                   nn.Linear(6, 4)), [(B, 9, 7)])

    class LayerScales(nn.Module):
        """ConvNeXt's `x * gamma` and InceptionResNetV2's `x + r * scale`."""

        def __init__(self):
            super().__init__()
            self.dense, self.gamma = nn.Linear(8, 8), nn.Parameter(torch.full((8,), 1e-6))
            self.conv, self.head = nn.Conv2d(8, 8, 3, padding=1), nn.Linear(6 * 6 * 8, 3)

        def forward(self, x):
            h = self.dense(x.permute(0, 2, 3, 1)) * self.gamma
            r = self.conv(h.permute(0, 3, 1, 2))
            return self.head((x + r * 0.17).flatten(1))

    m["layer_scales"] = (LayerScales(), [(B, 8, 6, 6)])

    class Mha(nn.Module):
        def __init__(self, dq, dk, dv, heads, key_dim, out, bias=True, value_dim=None, gate=False):
            super().__init__()
            self.h, self.d, self.dv = heads, key_dim, value_dim or key_dim
            self.gate = nn.Linear(dq, heads * self.dv, bias=bias) if gate else None
            self.q = nn.Linear(dq, heads * key_dim, bias=bias)
            self.k = nn.Linear(dk, heads * key_dim, bias=bias)
            self.v = nn.Linear(dv, heads * self.dv, bias=bias)
            self.o = nn.Linear(heads * self.dv, out, bias=bias)

        def forward(self, q, v, k=None, scale=None):
            k = v if k is None else k
            split = lambda t, d: t.view(t.shape[0], t.shape[1], self.h, d).transpose(1, 2)
            a = F.scaled_dot_product_attention(split(self.q(q), self.d), split(self.k(k), self.d),
                                               split(self.v(v), self.dv), scale=scale)
            a = a.transpose(1, 2).reshape(q.shape[0], q.shape[1], -1)
            if self.gate is not None:
                a = a * torch.sigmoid(self.gate(q))
            return self.o(a)

    class MhaSelf(nn.Module):
        def __init__(self, value_dim=None):
            super().__init__()
            self.att = Mha(32, 32, 32, 4, 8, 32, value_dim=value_dim)
            self.ln, self.head = nn.LayerNorm(32), nn.Linear(32, 5)

        def forward(self, x):
            return self.head(self.ln(x + self.att(x, x)).mean(1))

    m["mha_self"] = (MhaSelf(), [(B, 10, 32)])
    m["mha_value_dim"] = (MhaSelf(value_dim=6), [(B, 10, 32)])

    class MhaGate(nn.Module):
        def __init__(self):
            super().__init__()
            self.att = Mha(32, 32, 32, 4, 8, 32, value_dim=6, gate=True)
            self.head = nn.Linear(32, 5)

        def forward(self, x):
            return self.head(self.att(x, x).mean(1))

    m["mha_gate"] = (MhaGate(), [(B, 10, 32)])

    class MhaCross(nn.Module):
        def __init__(self, bias=False, value_dim=None):
            super().__init__()
            self.att = Mha(16, 24, 24, 2, 12, 20, bias=bias, value_dim=value_dim)
            self.head = nn.Linear(6 * 20, 3)

        def forward(self, q, kv):
            return self.head(self.att(q, kv).flatten(1))

    m["mha_cross"] = (MhaCross(), [(B, 6, 16), (B, 11, 24)])
    m["mha_cross_value_dim"] = (MhaCross(bias=True, value_dim=5), [(B, 6, 16), (B, 11, 24)])

    class DotAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(6 * 16, 3)

        def forward(self, q, v):
            a = F.scaled_dot_product_attention(q[:, None], v[:, None], v[:, None], scale=1.0)
            return self.head(a[:, 0].flatten(1))

    m["dot_attention"] = (DotAttention(), [(B, 6, 16), (B, 9, 16)])

    class ScaledDotAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale, self.head = nn.Parameter(torch.ones(())), nn.Linear(6 * 16, 3)

        def forward(self, q, v):
            q = q * self.scale
            a = F.scaled_dot_product_attention(q[:, None], v[:, None], v[:, None], scale=1.0)
            return self.head(a[:, 0].flatten(1))

    m["scaled_dot_attention"] = (ScaledDotAttention(), [(B, 6, 16), (B, 9, 16)])

    class FullPrelu(nn.Module):
        """Keras PReLU's default: one slope per input element."""

        def __init__(self, shape):
            super().__init__()
            self.alpha = nn.Parameter(torch.zeros(shape))

        def forward(self, x):
            return torch.where(x >= 0, x, self.alpha * x)

    m["activations"] = (S(nn.Conv2d(4, 8, 3), nn.LeakyReLU(0.2), nn.Conv2d(8, 8, 3), nn.ELU(),
                          nn.PReLU(8), nn.Conv2d(8, 8, 3), FullPrelu((8, 6, 6)), nn.Flatten(),
                          nn.Linear(288, 6), nn.Softmax(-1)), [(B, 4, 12, 12)])

    class Merges(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.c, self.head = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(64, 4)

        def forward(self, a, c):
            a, c = self.a(a), self.c(c)
            return self.head(torch.cat([a - c, (a + c) / 2, torch.maximum(a, c), torch.minimum(a, c)], 1))

    m["merges"] = (Merges(), [(B, 16), (B, 16)])
    m["norms"] = (S(nn.Linear(16, 16), cl(nn.GroupNorm(4, 16)), nn.RMSNorm(16),
                    Fn(lambda x: F.normalize(x, dim=-1)), nn.Linear(16, 8), Fn(lambda x: x.mean(1)),
                    nn.Linear(8, 3)), [(B, 10, 16)])
    m["reshaping"] = (S(nn.ZeroPad2d(1), nn.Conv2d(3, 4, 3), nn.Upsample(scale_factor=2),
                        Fn(lambda x: x[:, :, 1:-1, 2:]), Fn(lambda x: x.transpose(2, 3)),
                        nn.Flatten(), Fn(lambda x: x.unsqueeze(1).repeat(1, 3, 1)),
                        cl(nn.ZeroPad1d(2)), cl(nn.Upsample(scale_factor=2)),
                        Fn(lambda x: x[:, 1:-2]), cl(nn.Conv1d(14 * 14 * 4, 4, 3)), nn.Flatten(),
                        nn.Linear(4 * 9, 3)), [(B, 3, 8, 8)])
    m["reshaping_3d"] = (S(nn.ConstantPad3d(1, 0.0), nn.Upsample(scale_factor=2),
                           Fn(lambda x: x[:, :, 1:-1, 1:-1, 1:-1]), nn.Conv3d(2, 3, 3), nn.Flatten(),
                           nn.Linear(3 * 8 * 8 * 8, 3)), [(B, 2, 4, 4, 4)])
    m["noise"] = (S(nn.Linear(8, 8), cl(nn.Dropout1d(0.2)),
                    Fn(lambda x: x + torch.randn_like(x) * 0.1),
                    Fn(lambda x: x * (torch.randn_like(x) * 0.5 + 1)), nn.AlphaDropout(0.1),
                    nn.Flatten(), nn.Linear(80, 3)), [(B, 10, 8)])
    m["noise_2d"] = (S(nn.Conv2d(3, 4, 3), nn.Dropout2d(0.2), nn.Flatten(), nn.Linear(144, 3)),
                     [(B, 3, 8, 8)])

    class TimeDistributed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.dense = nn.Conv2d(3, 4, 3), nn.Linear(144, 6)
            self.rnn, self.head = Last(nn.LSTM(6, 7, batch_first=True)), nn.Linear(7, 3)

        def forward(self, x):
            b, t = x.shape[:2]
            h = F.relu(self.conv(x.flatten(0, 1))).flatten(1)
            return self.head(self.rnn(self.dense(h).view(b, t, -1)))

    m["time_distributed"] = (TimeDistributed(), [(B, 5, 3, 8, 8)])
    m["einsum_dense"] = (S(nn.Linear(12, 16), nn.Linear(16, 20, bias=False), nn.Linear(20, 3, bias=False),
                           nn.ReLU(), nn.Flatten(), nn.Linear(30, 2)), [(B, 10, 12)])
    return m


def measure(module, shapes, kind="float"):
    """Counts of `module`; its RNNs run decomposed (oneDNN off), so the counter sees their
    gate matmuls, and `rnn_initial_state_flops` is what cuDNN adds backward: the gradient
    into the zero initial state (2·B·G·H·H per layer and direction), which autograd on
    the decomposed RNN skips."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    if kind == "int":
        xs = [torch.randint(0, 50, s) for s in shapes]
    else:
        xs = [torch.randn(*s) for s in shapes]
    module.train()
    with torch.backends.mkldnn.flags(enabled=False):
        labels = torch.zeros(module(*xs).shape[0], dtype=torch.long)
        with FlopCounterMode(display=False) as fwd:
            module(*xs)
        with FlopCounterMode(display=False) as both:
            F.cross_entropy(module(*xs), labels).backward()
    gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1}
    h0 = sum(2 * BATCH * gates[r.mode] * r.hidden_size ** 2 * r.num_layers * (1 + r.bidirectional)
             for r in module.modules() if isinstance(r, torch.nn.RNNBase))
    return dict(
        rnn_initial_state_flops=h0,
        params=sum(p.numel() for p in module.parameters()),
        buffers=sum(b.numel() for b in module.buffers()),
        flops_fwd=fwd.get_total_flops(),
        flops_fwd_bwd=both.get_total_flops(),
    )


def main(stage):
    data = json.load(open(OUT)) if os.path.exists(OUT) else {"batch": BATCH, "models": {}}
    if stage == "keras":
        try:
            models = keras_models()
        except ImportError:
            print("keras is not installed: nothing done")
            return
        for name, model in models.items():
            entry = data["models"].setdefault(name, {})
            entry["model_json"] = json.loads(model.to_json())
            entry["keras_params"] = int(model.count_params())
    elif stage == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch is not installed: nothing done")
            return
        for name, (module, shapes, *kind) in torch_models().items():
            data["models"].setdefault(name, {})["torch"] = measure(module, shapes, *kind)
    else:
        sys.exit(f"unknown stage {stage!r}: keras or torch")
    with open(OUT, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "keras")
