"""Generate tests/data/hf_clip_text.json: clip_text_model and siglip_text_model (the
transformers twins of KerasHub's CLIPTextEncoder and SigLIPTextEncoder) as the real
transformers builds and runs them.

rows: each case built on the meta device as `CLIPTextModel` (AutoModel's class for
clip_text_model) or `SiglipTextModel` (which AutoModel does not map; the class of
siglip_text_model): total, class and `modules` ({path: [class, params]}). Neither has a
language-model head.

flops: tiny configs measured with torch.utils.flop_counter on CPU under make_hf_flops.py's
protocol (train mode, fp32, batch 2, `last_hidden_state.float().pow(2).mean()`).

    /work/scratch/hf/bin/python tests/data/make_hf_clip_text.py
"""
import pathlib
import warnings

import torch
import transformers
from transformers import AutoConfig, CLIPTextModel, SiglipTextModel

from hf_fixture import count, forward_and_backward_flops, head_loss, module_counts, write_records

CLIP_TINY = dict(vocab_size=100, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                 num_attention_heads=3, max_position_embeddings=16)
SIGLIP_TINY = dict(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                   num_attention_heads=4, max_position_embeddings=16, projection_size=20)
CASES = [
    ("clip-text-default", "clip_text_model", {}),
    ("clip-text-tiny", "clip_text_model", CLIP_TINY),
    ("siglip-text-default", "siglip_text_model", {}),
    ("siglip-text-tiny", "siglip_text_model", SIGLIP_TINY),
    ("siglip-text-tiny-no-projection-size", "siglip_text_model",
     {k: v for k, v in SIGLIP_TINY.items() if k != "projection_size"}),
]

MODEL_CLASS = {"clip_text_model": CLIPTextModel, "siglip_text_model": SiglipTextModel}
BATCH = 2
FLOP_CASES = [
    # (name, config, attention, seq)
    ("clip-text-tiny", dict(CLIP_TINY, model_type="clip_text_model"), "sdpa", 12),
    ("clip-text-tiny-eager", dict(CLIP_TINY, model_type="clip_text_model"), "eager", 16),
    ("siglip-text-tiny", dict(SIGLIP_TINY, model_type="siglip_text_model"), "sdpa", 16),
]


def rows():
    out = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        with torch.device("meta"):
            model = MODEL_CLASS[model_type](cfg)
        small = sum(1 for _ in model.modules()) < 200
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs),
                   base_params=count(model), base_class=type(model).__name__)
        if small:
            row["modules"] = {"base": module_counts(model)}
        out.append(row)
        print(name, row["base_params"], row["base_class"], flush=True)
    return out


def flop_rows():
    out = []
    for name, config, attn, seq in FLOP_CASES:
        kw = dict(config)
        model_type = kw.pop("model_type")
        cfg = AutoConfig.for_model(model_type, **kw)
        cfg._attn_implementation = attn
        torch.manual_seed(0)
        model = MODEL_CLASS[model_type](cfg).train()
        torch.manual_seed(1)
        ids = torch.randint(0, cfg.vocab_size, (BATCH, seq))
        row = dict(name=name, config=config, head="base", attn=attn, batch=BATCH, seq=seq, params=count(model))
        row["flops_fwd"], row["flops_fwd_bwd"] = forward_and_backward_flops(lambda: head_loss(model, "base", ids))
        out.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return out


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_clip_text.json"), rows=rows(), flops=flop_rows())


if __name__ == "__main__":
    main()
