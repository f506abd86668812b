"""Generate tests/data/hf_buffers.json: the buffer elements (`model.named_buffers()`) of
small transformers models, which `memory` reports as `buffers`: rotary tables (one pair
per distinct layer type where the type builds its rotary embedding per layer type:
gemma3_text, olmo3), gemma's `embed_scale`, the encoders' `position_ids` and
`token_type_ids`.

    /work/scratch/hf/bin/python tests/data/make_hf_buffers.py
"""
import json
import pathlib
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

SMALL = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64)
CASES = [
    ("llama", dict(SMALL)),
    ("gemma", dict(SMALL, head_dim=16)),
    ("gemma2", dict(SMALL, head_dim=16)),
    ("gemma3_text", dict(SMALL, head_dim=16, sliding_window=8)),
    ("gemma3_text", dict(SMALL, head_dim=32, sliding_window=8, layer_types=["full_attention"] * 4)),
    ("gemma3_text", dict(SMALL, head_dim=16, sliding_window=8,
                         layer_types=["sliding_attention"] * 3 + ["full_attention"])),
    ("olmo3", dict(SMALL, sliding_window=8)),
    ("bert", dict(SMALL, num_key_value_heads=None)),
    ("albert", dict(SMALL, num_key_value_heads=None, embedding_size=32)),
    ("electra", dict(SMALL, num_key_value_heads=None, embedding_size=32)),
    ("fnet", dict(SMALL, num_key_value_heads=None, num_attention_heads=None)),
    ("deberta-v2", dict(SMALL, num_key_value_heads=None, relative_attention=True, position_buckets=8,
                        norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type="p2c|c2p",
                        position_biased_input=False)),
]
MASKED = {"albert", "fnet", "deberta-v2"}


def buffers(model):
    return sum(b.numel() for _, b in model.named_buffers())


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    rows = []
    for model_type, kwargs in CASES:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        cfg = AutoConfig.for_model(model_type, **kwargs)
        with torch.device("meta"):
            base = AutoModel.from_config(cfg)
            lm = (AutoModelForMaskedLM if model_type in MASKED else AutoModelForCausalLM).from_config(cfg)
        rows.append(dict(model_type=model_type, config=dict(model_type=model_type, **kwargs),
                         base_buffers=buffers(base), lm_buffers=buffers(lm)))
        print(model_type, rows[-1]["base_buffers"], rows[-1]["lm_buffers"], flush=True)
    out = pathlib.Path(__file__).with_name("hf_buffers.json")
    env = dict(torch=torch.__version__, transformers=transformers.__version__)
    dump = ",\n".join(json.dumps(r, separators=(",", ":")) for r in rows)
    out.write_text(f'{{"env":{json.dumps(env)},\n"rows":[\n{dump}\n]}}\n')


if __name__ == "__main__":
    main()
