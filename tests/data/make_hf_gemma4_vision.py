"""Generate tests/data/hf_gemma4_vision.json: transformers' gemma4_vision (Gemma 4's vision
tower alone, `Gemma4VisionModel`) measured with the real transformers (5.24).
- `rows`: parameters, buffer elements and class of AutoModel on the meta device and, for
  small models, `modules` {path: [class, params]};
- `flops`: tiny configs' forward and forward+backward FLOPs of
  `last_hidden_state.float().pow(2).mean()` in `train()`, fp32, under
  torch.utils.flop_counter on CPU: BATCH images of `max_soft_tokens` soft tokens, each
  `max_soft_tokens * pooling_kernel_size**2` patches on a grid (`max_soft_tokens` is the
  image processor's key, which archbudget reads from the config). Attention is SDPA, but
  eager where kv heads are grouped: on a GPU fp32 SDPA then takes its math path (eager's
  products), while on the CPU the counter sees the fused kernel's;
- `keras_hub_twins`: the tower of each keras-hub Gemma4VisionEncoder of
  tests/data/keras_hub_gemma4.json.gz and keras_hub_mutants_gemma4.json.gz (the config
  archbudget makes of it) with gemma4's `Gemma4MultimodalEmbedder` after it (the model
  keras-hub's encoder is): their parameters and buffers, and the FLOPs of
  `embed_vision(tower(...).last_hidden_state).float().pow(2).mean()` on BATCH images of
  the encoder's `image_size` (attention as for `flops`).

    /work/scratch/hf/bin/python tests/data/make_hf_gemma4_vision.py   # needs torch, transformers
"""
import gzip
import pathlib
import sys
import json
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel
    from transformers.models.gemma4.modeling_gemma4 import Gemma4MultimodalEmbedder
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, count, forward_and_backward_flops, module_counts, write_records  # noqa: E402

DATA = pathlib.Path(__file__).parent
T = "gemma4_vision"
SMALL = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=4, head_dim=8, patch_size=4, position_embedding_size=16, pooling_kernel_size=2,
             max_soft_tokens=9)
CASES = [
    ("gemma4-vision-default", T, {}),
    ("gemma4-vision-small", T, SMALL),
    ("gemma4-vision-small-clipped-standardized", T, dict(SMALL, use_clipped_linears=True, standardize=True)),
    ("gemma4-vision-small-gqa-wide-heads", T, dict(SMALL, num_key_value_heads=2, head_dim=12, num_hidden_layers=3)),
    ("gemma4-vision-large", T, dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                  num_attention_heads=16, num_key_value_heads=16, head_dim=72)),
]
FLOPS = [
    ("gemma4-vision-flops-small", T, SMALL),
    ("gemma4-vision-flops-clipped-gqa", T, dict(SMALL, num_key_value_heads=2, use_clipped_linears=True,
                                                standardize=True, max_soft_tokens=4, pooling_kernel_size=3)),
    ("gemma4-vision-flops-odd", T, dict(SMALL, hidden_size=24, num_attention_heads=3, num_key_value_heads=1,
                                        head_dim=12, intermediate_size=40, num_hidden_layers=1, patch_size=3)),
]
BATCH = 2


def buffers(*modules):
    return sum(b.numel() for m in modules for b in m.buffers())


def config(kwargs):
    return AutoConfig.for_model(T, **kwargs)


def images(cfg, side=None):
    """BATCH images of pre-cut patches on a grid (`side` patches a side, else a grid of
    `max_soft_tokens` soft tokens `pooling_kernel_size` patches apart), and their positions."""
    k = cfg.pooling_kernel_size
    if side is None:
        patches = cfg.max_soft_tokens * k * k
        width = k * next(w for w in range(int(cfg.max_soft_tokens ** 0.5), 0, -1) if cfg.max_soft_tokens % w == 0)
    else:
        patches, width = side * side, side
    ids = torch.tensor([[i % width, i // width] for i in range(patches)]).expand(BATCH, -1, -1)
    pixels = torch.rand(BATCH, patches, 3 * cfg.patch_size ** 2)
    return pixels, ids


def attention(cfg):
    return "eager" if cfg.num_key_value_heads < cfg.num_attention_heads else "sdpa"


def tower_flops(name, kwargs):
    cfg = config(kwargs)
    cfg._attn_implementation = attn = attention(cfg)
    model = AutoModel.from_config(cfg)
    model.train()
    pixels, ids = images(cfg)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels, pixel_position_ids=ids).last_hidden_state.float().pow(2).mean())
    return dict(name=name, config=dict(model_type=T, **kwargs), head="base", attn=attn, batch=BATCH, seq=1,
                params=count(model), buffers=buffers(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def keras_hub_encoders():
    for fixture in ("keras_hub_gemma4", "keras_hub_mutants_gemma4"):
        with gzip.open(DATA / f"{fixture}.json.gz", "rt") as f:
            for m in json.load(f)["models"]:
                if m["model_json"]["registered_name"] == "keras_hub>Gemma4VisionEncoder":
                    yield fixture, m


def twin_config(c):
    """The gemma4_vision config archbudget makes of a keras-hub Gemma4VisionEncoder's
    arguments (formats/keras_hub/gemma4_vision.rs)."""
    side = c["image_size"] // c["patch_size"]
    return dict(model_type=T, hidden_size=c["hidden_dim"], intermediate_size=c["intermediate_dim"],
                num_hidden_layers=c["num_layers"], num_attention_heads=c["num_heads"],
                num_key_value_heads=c["num_key_value_heads"] or c["num_heads"], head_dim=c["head_dim"],
                patch_size=c["patch_size"], position_embedding_size=c["position_embedding_size"],
                pooling_kernel_size=c["pool_size"], max_soft_tokens=(side // c["pool_size"]) ** 2,
                use_clipped_linears=c["use_clipped_linears"], standardize=c["standardize"],
                rms_norm_eps=c["layer_norm_epsilon"], hidden_activation="gelu_pytorch_tanh",
                rope_parameters=dict(rope_type="axial", rope_theta=c["rope_max_wavelength"]))


def keras_hub_twin(fixture, m):
    c = m["model_json"]["config"]
    twin = twin_config(c)
    kw = dict(twin)
    kw.pop("model_type")
    cfg = config(kw)
    cfg._attn_implementation = attn = attention(cfg)
    tower = AutoModel.from_config(cfg)
    text = AutoConfig.for_model("gemma4_text", hidden_size=c["output_dim"])
    embedder = Gemma4MultimodalEmbedder(cfg, text)
    tower.train()
    embedder.train()
    pixels, ids = images(cfg, side=c["image_size"] // c["patch_size"])
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: embedder(tower(pixel_values=pixels, pixel_position_ids=ids).last_hidden_state).float().pow(2).mean())
    return dict(name=m["name"], fixture=fixture, config=twin, output_dim=c["output_dim"], batch=BATCH, attn=attn,
                params=count(tower) + count(embedder), buffers=buffers(tower, embedder), flops_fwd=fwd,
                flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, model_type, kwargs in CASES:
        model = build(AutoModel, config(kwargs))
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs),
                   base_params=count(model), base_buffers=buffers(model), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,} params, {row['base_buffers']:,} buffer elements", file=sys.stderr)
    measured = [tower_flops(name, kwargs) for name, _, kwargs in FLOPS]
    twins = [keras_hub_twin(fixture, m) for fixture, m in keras_hub_encoders()]
    write_records(DATA / "hf_gemma4_vision.json", rows=rows, flops=measured, keras_hub_twins=twins)


if __name__ == "__main__":
    main()
