"""Generate tests/data/hf_masked_lm.json: distilbert's masked LM (`DistilBertForMaskedLM`,
the twin of KerasHub's DistilBertMaskedLM) as the real transformers runs it.

flops: tiny configs measured with torch.utils.flop_counter on CPU under make_hf_flops.py's
protocol (train mode, fp32, batch 2, `model(ids, labels=ids).loss`); with attention
dropout the CPU's SDPA takes its math path where CUDA runs a fused kernel, so dropout
cases are measured eager and SDPA ones without it.

    /work/scratch/hf/bin/python tests/data/make_hf_masked_lm.py
"""
import pathlib
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModelForMaskedLM

from hf_fixture import count, forward_and_backward_flops, head_loss, write_records

TINY = dict(vocab_size=300, dim=64, n_layers=2, n_heads=4, hidden_dim=96, max_position_embeddings=64)
BATCH = 2
FLOP_CASES = [
    # (name, config, attention, seq)
    ("distilbert-tiny-mlm", dict(TINY, model_type="distilbert", attention_dropout=0.0), "sdpa", 24),
    ("distilbert-tiny-mlm-eager", dict(TINY, model_type="distilbert"), "eager", 17),
    ("distilbert-tiny-mlm-untied-relu", dict(TINY, model_type="distilbert", activation="relu",
                                             tie_word_embeddings=False), "eager", 20),
]


def flop_rows():
    rows = []
    for name, config, attn, seq in FLOP_CASES:
        kw = dict(config)
        cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
        cfg._attn_implementation = attn
        torch.manual_seed(0)
        model = AutoModelForMaskedLM.from_config(cfg).train()
        torch.manual_seed(1)
        ids = torch.randint(0, cfg.vocab_size, (BATCH, seq))
        row = dict(name=name, config=config, head="causal_lm", attn=attn, batch=BATCH, seq=seq,
                   params=count(model), model_class=type(model).__name__)
        row["flops_fwd"], row["flops_fwd_bwd"] = forward_and_backward_flops(
            lambda: head_loss(model, "causal_lm", ids))
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_masked_lm.json"), flops=flop_rows())


if __name__ == "__main__":
    main()
