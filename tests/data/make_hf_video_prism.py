"""Generate tests/data/hf_video_prism.json: keras-hub's VideoPrism video encoders (every
VideoPrismBackbone without a text encoder in tests/data/keras_hub_text2.json.gz and
keras_hub_mutants_av.json.gz) as their transformers twin, `VideoPrismVisionModel`
(transformers 5.24 `videoprism`), measured with the real transformers.
Each record: the fixture and model `name`, the twin's `config` (`VideoPrismVisionConfig`
keywords made from the keras-hub constructor arguments: tubelet `(1, p, p)`, keras-hub's
`attention_logit_soft_cap` as `attn_logit_softcapping`, gelu; the config takes no `None`
softcap, so a keras-hub model without one gets it switched off on each attention module), its parameter count on the
meta device, and in `train()`, fp32, on CPU, eager attention (the model declares no SDPA),
under torch.utils.flop_counter, the forward and forward+backward FLOPs of BATCH videos with
the loss `last_hidden_state.float().pow(2).mean()`.

    /work/scratch/hf/bin/python tests/data/make_hf_video_prism.py
"""
import gzip
import json
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import count, forward_and_backward_flops, write_records  # noqa: E402

HERE = pathlib.Path(__file__).parent
FIXTURES = ("keras_hub_text2", "keras_hub_mutants_av")
BATCH = 2


def twin_config(c):
    """`VideoPrismVisionConfig` keywords of a keras-hub VideoPrismBackbone config."""
    h, w, channels = c["image_shape"]
    if c.get("data_format") == "channels_first":
        channels, h, w = c["image_shape"]
    p = c["patch_size"]
    return dict(image_size=[h, w], num_frames=c["num_frames"], tubelet_size=[1, p, p], num_channels=channels,
                hidden_size=c["hidden_dim"], num_attention_heads=c["num_heads"],
                intermediate_size=c["intermediate_dim"], hidden_act="gelu",
                hidden_dropout_prob=c.get("dropout_rate", 0.0),
                attention_probs_dropout_prob=c.get("attention_dropout_rate", 0.0),
                layer_norm_eps=c.get("layer_norm_epsilon", 1e-6), qkv_bias=True,
                num_spatial_layers=c["num_spatial_layers"], num_temporal_layers=c["num_temporal_layers"],
                attn_logit_softcapping=c.get("attention_logit_soft_cap"))


def build(kw):
    softcap = kw["attn_logit_softcapping"]
    cfg = transformers.VideoPrismVisionConfig(**{k: v for k, v in kw.items() if v is not None})
    cfg._attn_implementation = "eager"
    model = transformers.VideoPrismVisionModel(cfg)
    for mod in model.modules():
        if hasattr(mod, "attn_logit_softcapping"):
            mod.attn_logit_softcapping = softcap
    return model


def video_encoders():
    for fixture in FIXTURES:
        data = json.load(gzip.open(HERE / f"{fixture}.json.gz"))
        for m in data["models"]:
            j = m["model_json"]
            if j["class_name"] == "VideoPrismBackbone" and not j["config"].get("num_text_layers"):
                yield fixture, m


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    records = []
    for fixture, m in video_encoders():
        kw = twin_config(m["model_json"]["config"])
        with torch.device("meta"):
            params = count(build(kw))
        model = build(kw)
        model.train()
        h, w = kw["image_size"]
        video = torch.randn(BATCH, kw["num_frames"], kw["num_channels"], h, w)
        fwd, fwd_bwd = forward_and_backward_flops(
            lambda: model(pixel_values_videos=video).last_hidden_state.float().pow(2).mean())
        records.append(dict(fixture=fixture, name=m["name"], config=kw, params=params,
                            keras_params=m["total_params"], batch=BATCH, flops_fwd=fwd, flops_fwd_bwd=fwd_bwd))
        print(m["name"], params, m["total_params"], fwd, fwd_bwd, file=sys.stderr)
    write_records(HERE / "hf_video_prism.json", video_encoders=records)


if __name__ == "__main__":
    main()
