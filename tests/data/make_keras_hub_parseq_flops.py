"""FLOPs of KerasHub PARSeq's memory model, by the layer-shape formula, for two small
PARSeq models of make_keras_hub_text3.py ("PARSeq"; "PARSeq_options": a class token, no
encoder biases, a head count that does not divide the width, one decoder layer).

No torch twin exists, so the figures are the formula of `torch.utils.flop_counter` (2 per
multiply-add of matrix products, convolutions and attention) applied to the shapes the
real keras-hub layers give, run on `BATCH` images and `max_label_length` tokens:
- the ViT encoder: the patch convolution (its kernel and output grid), each block's q,
  k, v and output projections (their kernels), attention over the memory's tokens (the
  encoder's output shape), the MLP (its kernels);
- one decoder pass (the decoder's output shape, its blocks' kernels): per stream (query
  and content in every block but the last, which runs the query stream alone)
  self-attention over the tokens, cross-attention onto the memory (its k and v projected
  from the memory's tokens), the MLP; the head's kernel;
- backward: a linear twice its forward (input and weight gradients), the patch
  convolution once (the pixels need no gradient), SDPA's attention 2.5 times (it
  recomputes the scores);
- `PARSeqCausalLM`'s training step: the forward (`y_pred = self(x)`, which backward never
  reaches), then `compute_loss`: the encoder again and one decoder pass and head per
  permutation, as many as keras-hub's own `generate_training_permutations` returns (also
  recorded over label lengths and the task's options, under `permutations`).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_parseq_flops.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_parseq_flops.json.gz.
"""
import gzip
import json
import math
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import keras_hub  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub_text3 import PARSEQ_SMALL, parseq, parseq_task  # noqa: E402

BATCH = 2
NAMES = ["PARSeq", "PARSeq_options"]


def linear(rows, inp, out):
    """A Dense or EinsumDense of `inp` features to `out` over `rows` rows."""
    return 2 * rows * inp * out


def dense(rows, layer):
    """A Dense by its (in, out) kernel."""
    return linear(rows, *layer.kernel.shape)


def attention(b, heads, q_len, kv_len, key_dim):
    """SDPA forward: q·kᵀ and scores·v."""
    return 4 * b * heads * q_len * kv_len * key_dim


def mha(layer, b, q_len, kv_len):
    """(projections' forward, attention's forward) of a keras MultiHeadAttention: q, k, v
    kernels (hidden, heads, key_dim), the output's (heads, key_dim, hidden)."""
    d, heads, key_dim = layer._query_dense.kernel.shape
    width = heads * key_dim
    assert tuple(layer._output_dense.kernel.shape) == (heads, key_dim, d)
    proj = 2 * linear(b * q_len, d, width) + 2 * linear(b * kv_len, d, width)
    return proj, attention(b, heads, q_len, kv_len, key_dim)


def encoder_flops(backbone, images):
    """(forward, backward) of the ViT image encoder on `images`."""
    enc = backbone.image_encoder
    embed = enc.get_layer("vit_patching_and_embedding")
    conv = embed.patch_embedding
    grid = conv.compute_output_shape(images.shape)  # (B, gh, gw, D)
    ph, pw, c, d = conv.kernel.shape
    conv_fwd = 2 * math.prod(grid) * ph * pw * c
    memory = enc(images)  # (B, M, D)
    b, m, _ = memory.shape
    lin, att = 0, 0
    for block in enc.get_layer("vit_encoder").encoder_layers:
        l, a = mha(block.mha, b, m, m)
        lin += l + dense(b * m, block.mlp.dense_1) + dense(b * m, block.mlp.dense_2)
        att += a
    fwd = conv_fwd + lin + att
    return fwd, conv_fwd + 2 * lin + att * 5 // 2, memory


def decoder_flops(backbone, tokens, memory):
    """(forward, backward) of one decoder pass and the head."""
    b, m, _ = memory.shape
    padding = np.ones(tokens.shape, "int32")
    out = backbone.decoder(tokens, memory, padding_mask=padding)  # (B, T, D)
    _, t, _ = out.shape
    layers = backbone.decoder.decoder_layers
    lin, att = 0, 0
    for i, block in enumerate(layers):
        streams = 1 if i == len(layers) - 1 else 2
        l_self, a_self = mha(block.self_attention, b, t, t)
        l_cross, a_cross = mha(block.cross_attention, b, t, m)
        mlp = dense(b * t, block.mlp.dense_1) + dense(b * t, block.mlp.dense_2)
        lin += streams * (l_self + l_cross + mlp)
        att += streams * (a_self + a_cross)
    lin += dense(b * t, backbone.head)
    assert tuple(backbone.head(out).shape) == (b, t, backbone.head.kernel.shape[1])
    return lin + att, 2 * lin + att * 5 // 2


def permutation_counts(task):
    """How many permutations keras-hub's own `generate_training_permutations` returns, over
    label lengths and the task's options (0: it fails, having none to stack)."""
    counts = []
    for max_label_length in (2, 3, 4, 6, 25):
        for num_perms in (1, 2, 3, 5, 6, 8):
            for forward in (True, False):
                for mirrored in (True, False):
                    task.num_perms, task.add_forward_perms = num_perms, forward
                    task.add_mirrored_perms = mirrored
                    try:
                        n = int(task.generate_training_permutations(max_label_length - 1).shape[0])
                    except Exception:
                        n = 0
                    counts.append(dict(max_label_length=max_label_length, num_perms=num_perms,
                                       add_forward_perms=forward, add_mirrored_perms=mirrored,
                                       count=n))
    return counts


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_parseq_flops.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name in NAMES:
        keras.backend.clear_session()
        encoder, config = PARSEQ_SMALL[name]
        backbone = parseq(encoder, config)
        task = parseq_task(backbone)
        images = np.zeros((BATCH, *backbone.image_encoder.input.shape[1:]), "float32")
        t = backbone.max_label_length
        tokens = np.ones((BATCH, t), "int32")
        enc_fwd, enc_bwd, memory = encoder_flops(backbone, images)
        dec_fwd, dec_bwd = decoder_flops(backbone, tokens, memory)
        perms = int(task.generate_training_permutations(t - 1).shape[0])
        forward = enc_fwd + dec_fwd
        for kind, model in (("backbone", backbone), ("task", task)):
            if kind == "backbone":
                train = forward + enc_bwd + dec_bwd
            else:
                train = forward + enc_fwd + perms * dec_fwd + enc_bwd + perms * dec_bwd
            cases.append(dict(name=name + ("CausalLM" if kind == "task" else ""), kind=kind,
                              model_json=json.loads(model.to_json()), permutations=perms,
                              infer_flops_fwd=forward, train_flops_fwd_bwd=train))
            print(cases[-1]["name"], perms, forward, train, flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, batch=BATCH,
                       models=cases, permutations=permutation_counts(task)), f, indent=1,
                  sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
