"""Generate tests/data/hf_text_more.json: bloom (the transformers twin of KerasHub's
BloomBackbone) as the real transformers builds and runs it.

rows: each case built on the meta device with AutoModel and AutoModelForCausalLM
(hf_fixture.count_rows): both totals and classes and, for small models, `modules`
({path: [class, params]}) so the Rust test checks the summary rows one by one.

flops: tiny configs measured with torch.utils.flop_counter on CPU under make_hf_flops.py's
protocol (train mode, fp32, batch 2, `model(ids, labels=ids).loss` or
`last_hidden_state.float().pow(2).mean()`); bloom's attention is its own eager code
whatever `attn` says.

    /work/scratch/hf/bin/python tests/data/make_hf_text_more.py
"""
import pathlib
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from hf_fixture import count, count_rows, forward_and_backward_flops, head_loss, write_records

BLOOM_TINY = dict(vocab_size=300, hidden_size=64, n_layer=2, n_head=4)
CASES = [
    ("bloom-default", "bloom", {}),
    # bigscience/bloom-560m
    ("bloom-560m", "bloom", dict(vocab_size=250880, hidden_size=1024, n_layer=24, n_head=16,
                                 attention_dropout=0.0, hidden_dropout=0.0)),
    ("bloom-tiny", "bloom", BLOOM_TINY),
    ("bloom-tiny-untied-n-embed", "bloom", dict(vocab_size=300, n_embed=48, n_layer=3, n_head=6,
                                                tie_word_embeddings=False)),
]

BATCH = 2
FLOP_CASES = [
    # (name, config, head, attention, seq)
    ("bloom-tiny", dict(BLOOM_TINY, model_type="bloom"), "causal_lm", "eager", 24),
    ("bloom-tiny-base", dict(BLOOM_TINY, model_type="bloom", n_layer=3), "base", "sdpa", 17),
    ("bloom-tiny-dropout", dict(BLOOM_TINY, model_type="bloom", attention_dropout=0.1, hidden_dropout=0.1),
     "causal_lm", "eager", 24),
]


def flop_rows():
    rows = []
    for name, config, head, attn, seq in FLOP_CASES:
        kw = dict(config)
        cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
        cfg._attn_implementation = "eager"
        torch.manual_seed(0)
        model = (AutoModel if head == "base" else AutoModelForCausalLM).from_config(cfg).train()
        torch.manual_seed(1)
        ids = torch.randint(0, cfg.vocab_size, (BATCH, seq))
        row = dict(name=name, config=config, head=head, attn=attn, batch=BATCH, seq=seq, params=count(model))
        row["flops_fwd"], row["flops_fwd_bwd"] = forward_and_backward_flops(lambda: head_loss(model, head, ids))
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_text_more.json"),
                  rows=count_rows(CASES, AutoModelForCausalLM), flops=flop_rows())


if __name__ == "__main__":
    main()
