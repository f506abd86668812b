"""Generate tests/data/hf_keras_hub_vision_twins.json: the PyTorch equivalents of KerasHub
vision models whose transformers twin differs from keras-hub in a module, measured with the
real transformers (5.24): the twin with that module replaced as keras-hub builds it.
Each record: the KerasHub model (`fixture`, `name`), the twin's `config` (what archbudget
makes of the KerasHub model), what was changed (`edit`), the changed model's parameter
count and, in `train()`, fp32, under torch.utils.flop_counter on CPU (BATCH images or texts
of SEQ tokens), the forward and forward+backward FLOPs of the loss
`output.float().pow(2).mean()` on what keras-hub's model returns.

- MetaCLIP2VisionEncoder: `MetaClip2VisionModel` without `post_layernorm` (keras-hub's
  encoder ends at its last block; transformers' norm on the class token is then an
  identity), the loss on `last_hidden_state`;
- MetaCLIP2TextEncoder: `MetaClip2TextModel` as it is, the loss on `last_hidden_state`;
- swin_options (SwinTransformerBackbone with `patch_norm=False`): `SwinModel` with
  `embeddings.norm` an identity; eager attention (on the CPU, SDPA with swin's bias takes
  the math path and counts as eager does).

`decoders`: keras-hub's SegFormer models of tests/data/keras_hub_vision_more.json.gz as
`SegformerForSemanticSegmentation` (the MiT twin's `config`, `decoder_hidden_size` =
`projection_filters`), SDPA: a SegFormerBackbone without the classifier, the loss on the
fused map (`decode_head` up to its ReLU); a SegFormerImageSegmenter whole, its own loss
(cross-entropy of the upsampled logits against random labels).

    /work/scratch/hf/bin/python tests/data/make_hf_keras_hub_vision_twins.py
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import count, forward_and_backward_flops, write_records  # noqa: E402
from make_hf_segformer import keras_hub_twin as mit_twin  # noqa: E402
from make_hf_swin import keras_hub_twin  # noqa: E402

BATCH, SEQ = 2, 16


def metaclip_2_vision():
    config = dict(model_type="clip_vision_model", hidden_size=16, num_attention_heads=2, num_hidden_layers=2,
                  intermediate_size=24, image_size=16, patch_size=4, num_channels=3, hidden_act="quick_gelu")
    kw = {k: v for k, v in config.items() if k != "model_type"}
    model = transformers.MetaClip2VisionModel(transformers.MetaClip2VisionConfig(**kw, attn_implementation="sdpa"))
    model.post_layernorm = torch.nn.Identity()
    pixels = torch.randn(BATCH, 3, 16, 16)
    return dict(fixture="keras_hub_new", name="MetaCLIP2VisionEncoder", config=config, attn="sdpa",
                edit="post_layernorm = Identity()", model=model,
                loss=lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())


def metaclip_2_text():
    config = dict(model_type="clip_text_model", vocab_size=64, hidden_size=12, num_attention_heads=3,
                  num_hidden_layers=3, intermediate_size=20, max_position_embeddings=24, hidden_act="gelu")
    kw = {k: v for k, v in config.items() if k != "model_type"}
    model = transformers.MetaClip2TextModel(transformers.MetaClip2TextConfig(**kw, attn_implementation="sdpa"))
    ids = torch.randint(0, 64, (BATCH, SEQ))
    return dict(fixture="keras_hub_new", name="MetaCLIP2TextEncoder", config=config, attn="sdpa", edit="",
                model=model, loss=lambda: model(input_ids=ids).last_hidden_state.float().pow(2).mean())


def swin_without_patch_norm():
    kw = keras_hub_twin((40, 24, 1), 2, 16, [1, 2, 1], [1, 2, 2], 3, drop_path=0.0)
    kw.update(mlp_ratio=2.5, qkv_bias=False)
    cfg = AutoConfig.for_model("swin", **kw)
    cfg._attn_implementation = "eager"
    model = AutoModel.from_config(cfg)
    model.embeddings.norm = torch.nn.Identity()
    pixels = torch.randn(BATCH, 1, 40, 24)
    return dict(fixture="keras_hub_vision_more", name="swin_options", config=dict(model_type="swin", **kw),
                attn="eager", edit="embeddings.norm = Identity()", model=model,
                loss=lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())


MIT_SMALL = mit_twin((32, 32, 3), [1, 2], [8, 16], [1, 2], [2, 1], [7, 3], [4, 2])
MIT_B0_512 = mit_twin((512, 512, 3), [2, 2, 2, 2], [32, 64, 160, 256], [1, 2, 5, 8], [8, 4, 2, 1], [7, 3, 3, 3],
                      [4, 2, 2, 2])
DECODERS = [("segformer_small", MIT_SMALL, 12, None), ("segformer_b0_ade20k_512", MIT_B0_512, 256, None),
            ("segformer_image_segmenter", MIT_SMALL, 12, 4)]


def fused_map(model, pixels):
    """`SegformerDecodeHead.forward` up to its ReLU: what keras-hub's SegFormerBackbone returns."""
    head = model.decode_head
    states = model.segformer(pixels, output_hidden_states=True).hidden_states
    b, maps = pixels.shape[0], []
    for state, proj in zip(states, head.linear_projections):
        h, w = state.shape[2], state.shape[3]
        x = proj(state).transpose(1, 2).reshape(b, -1, h, w)
        maps.append(torch.nn.functional.interpolate(x, size=states[0].size()[2:], mode="bilinear",
                                                    align_corners=False))
    return head.activation(head.batch_norm(head.linear_fuse(torch.cat(maps[::-1], dim=1))))


def segformer_decoder(name, mit, width, classes):
    cfg = AutoConfig.for_model("segformer", **mit, decoder_hidden_size=width, num_labels=classes or 2)
    cfg._attn_implementation = "sdpa"
    model = transformers.SegformerForSemanticSegmentation(cfg)
    h, w = mit["image_size"]
    pixels = torch.randn(BATCH, mit["num_channels"], h, w)
    if classes is None:
        model.decode_head.classifier = None

        def loss():
            return fused_map(model, pixels).float().pow(2).mean()
    else:
        labels = torch.randint(0, classes, (BATCH, h, w))

        def loss():
            return model(pixel_values=pixels, labels=labels).loss
    model.train()
    fwd, fwd_bwd = forward_and_backward_flops(loss)
    return dict(fixture="keras_hub_vision_more", name=name, config=dict(model_type="segformer", **mit),
                decoder_hidden_size=width, num_labels=classes, attn="sdpa", params=count(model), batch=BATCH,
                flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    records = []
    for make in (metaclip_2_vision, metaclip_2_text, swin_without_patch_norm):
        r = make()
        model, loss = r.pop("model"), r.pop("loss")
        model.train()
        fwd, fwd_bwd = forward_and_backward_flops(loss)
        r.update(params=count(model), batch=BATCH, seq=SEQ, flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)
        print(r["name"], r["params"], fwd, fwd_bwd, file=sys.stderr)
        records.append(r)
    decoders = [segformer_decoder(*case) for case in DECODERS]
    for r in decoders:
        print(r["name"], r["params"], r["flops_fwd"], r["flops_fwd_bwd"], file=sys.stderr)
    write_records(pathlib.Path(__file__).parent / "hf_keras_hub_vision_twins.json", twins=records,
                  decoders=decoders)


if __name__ == "__main__":
    main()
