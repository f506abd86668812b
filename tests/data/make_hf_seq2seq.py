"""Generate tests/data/hf_seq2seq.json: transformers' bart as the real library builds it,
in the two shapes the other transformers fixtures have.

- `rows`: make_hf_extra.py's rows (counts on the meta device, per-module counts of the
  small models) for the default, facebook/bart-base and facebook/bart-large sizes,
  asymmetric and random small configs. archbudget's `causal_lm` head for bart is its
  seq2seq LM class (`BartForConditionalGeneration`, as for t5), recorded as `lm_params`;
  transformers' decoder-only `BartForCausalLM` is not read and not recorded.
- `flops`: make_hf_flops.py's cases (torch.utils.flop_counter on CPU, its protocol) for
  tiny configs, base and seq2seq heads.
- `cache`: make_hf_types.py's generate-cache rows (the bytes of the cache tensors
  `generate` leaves: the decoder's self-attention and cross-attention caches).

    /work/scratch/hf/bin/python tests/data/make_hf_seq2seq.py   # torch + transformers
"""
import json
import pathlib
import random
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

from hf_fixture import build, count, module_counts
import make_hf_flops
import make_hf_types

TINY = dict(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48, max_position_embeddings=64)
CASES = [
    ("bart-default", "bart", {}),
    ("bart-base", "bart", dict(vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6,
                               encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
                               decoder_ffn_dim=3072, max_position_embeddings=1024)),
    ("bart-large", "bart", dict(vocab_size=50265, d_model=1024, encoder_layers=12, decoder_layers=12,
                                encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096,
                                decoder_ffn_dim=4096, max_position_embeddings=1024)),
    ("bart-tiny", "bart", TINY),
    ("bart-tiny-asym", "bart", dict(TINY, decoder_layers=3, scale_embedding=True)),
    ("bart-tiny-untied", "bart", dict(TINY, tie_word_embeddings=False)),
]


def random_cases(seed=0, n=4):
    rnd = random.Random(seed)
    cases = []
    for i in range(n):
        heads = rnd.choice([1, 2, 4])
        ffn = rnd.randint(8, 200)
        cases.append((f"bart-random-{i}", "bart", dict(
            vocab_size=rnd.randint(50, 3000), d_model=heads * rnd.choice([8, 16]),
            encoder_layers=rnd.randint(1, 3), decoder_layers=rnd.randint(1, 3),
            encoder_attention_heads=heads, decoder_attention_heads=heads,
            encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, max_position_embeddings=rnd.randint(8, 300),
            scale_embedding=rnd.random() < 0.5, tie_word_embeddings=rnd.random() < 0.5)))
    return cases


CASES += random_cases()

FLOPS = [
    ("bart-tiny", dict(model_type="bart", **TINY), "seq2seq"),
    ("bart-tiny-base", dict(model_type="bart", **TINY), "base"),
    ("bart-tiny-asym", dict(model_type="bart", **dict(TINY, decoder_layers=3, scale_embedding=True)), "seq2seq"),
]


CACHE = [("bart-cache", dict(model_type="bart", **dict(TINY, decoder_layers=3)))]


def rows():
    out = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base = build(AutoModel, cfg)
        lm = build(AutoModelForSeq2SeqLM, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__,
                   lm_params=count(lm), lm_class=type(lm).__name__)
        if sum(1 for _ in base.modules()) < 200:
            row["modules"] = {"base": module_counts(base), "lm": module_counts(lm)}
        out.append(row)
        print(name, row["base_params"], row["lm_params"], flush=True)
    return out


def flops():
    torch.manual_seed(0)
    out = []
    for name, config, head in FLOPS:
        model, cfg = make_hf_flops.build(config, head)
        row = {"name": name, "config": config, "head": head, "attn": "sdpa",
               "batch": make_hf_flops.BATCH, "seq": make_hf_flops.SEQ,
               "params": sum(p.numel() for p in model.parameters())}
        row["flops_fwd"], row["flops_fwd_bwd"] = make_hf_flops.flops(model, cfg, head)
        out.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return out


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    env = dict(torch=torch.__version__, transformers=transformers.__version__)
    # make_hf_types.cache_rows() generates what its module's CACHE lists
    make_hf_types.CACHE = CACHE
    data = dict(env=env, rows=rows(), flops=flops(), cache=make_hf_types.cache_rows())
    out = pathlib.Path(__file__).with_name("hf_seq2seq.json")
    out.write_text(json.dumps(data, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
