"""Generate tests/data/hf_esm.json: esm (the transformers twin of KerasHub's ESMBackbone,
ESMMaskedPLM and ESMProteinClassifier) as the real transformers builds and runs it.

rows: each case built on the meta device with AutoModel and AutoModelForMaskedLM
(hf_fixture.count_rows; esm has no causal-LM class, its `causal_lm` head is the masked
LM): totals, classes and, for small models, `modules` ({path: [class, params]}).

flops: tiny configs measured with torch.utils.flop_counter on CPU under make_hf_flops.py's
protocol (train mode, fp32, batch 2, `model(ids, labels=ids).loss` or
`last_hidden_state.float().pow(2).mean()`).

    /work/scratch/hf/bin/python tests/data/make_hf_esm.py
"""
import pathlib
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

from hf_fixture import count, count_rows, forward_and_backward_flops, head_loss, write_records

# esm needs a vocabulary and a padding id (its position ids are counted from it)
TINY = dict(vocab_size=33, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=96, pad_token_id=1, mask_token_id=32)
ROTARY = dict(TINY, position_embedding_type="rotary")
ABSOLUTE_PRENORM = dict(TINY, position_embedding_type="absolute", emb_layer_norm_before=True,
                        max_position_embeddings=64)
CASES = [
    # facebook/esm2_t6_8M_UR50D
    ("esm2-t6-8m", "esm", dict(vocab_size=33, hidden_size=320, num_hidden_layers=6,
                               num_attention_heads=20, intermediate_size=1280,
                               max_position_embeddings=1026, position_embedding_type="rotary",
                               token_dropout=True, pad_token_id=1, mask_token_id=32,
                               layer_norm_eps=1e-5)),
    ("esm-tiny-rotary", "esm", ROTARY),
    ("esm-tiny-absolute-prenorm", "esm", ABSOLUTE_PRENORM),
    ("esm-tiny-untied", "esm", dict(ROTARY, tie_word_embeddings=False, num_hidden_layers=3)),
]

BATCH = 2
# with attention dropout the CPU's SDPA takes its math path where CUDA runs a fused kernel
# (make_hf_flops.py): dropout cases are measured eager, SDPA ones without it
NO_ATTENTION_DROPOUT = dict(attention_probs_dropout_prob=0.0)
FLOP_CASES = [
    # (name, config, head, attention, seq)
    ("esm-tiny-rotary", dict(ROTARY, model_type="esm", **NO_ATTENTION_DROPOUT), "causal_lm", "sdpa", 24),
    ("esm-tiny-rotary-base", dict(ROTARY, model_type="esm"), "base", "eager", 17),
    ("esm-tiny-absolute-prenorm", dict(ABSOLUTE_PRENORM, model_type="esm", **NO_ATTENTION_DROPOUT),
     "causal_lm", "sdpa", 20),
    ("esm-tiny-absolute-eager", dict(ABSOLUTE_PRENORM, model_type="esm"), "causal_lm", "eager", 20),
]


def flop_rows():
    rows = []
    for name, config, head, attn, seq in FLOP_CASES:
        kw = dict(config)
        cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
        cfg._attn_implementation = attn
        torch.manual_seed(0)
        model = (AutoModel if head == "base" else AutoModelForMaskedLM).from_config(cfg).train()
        torch.manual_seed(1)
        # token ids away from the padding id, as the positions count from it
        ids = torch.randint(4, cfg.vocab_size - 1, (BATCH, seq))
        row = dict(name=name, config=config, head=head, attn=attn, batch=BATCH, seq=seq, params=count(model))
        row["flops_fwd"], row["flops_fwd_bwd"] = forward_and_backward_flops(lambda: head_loss(model, head, ids))
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_esm.json"),
                  rows=count_rows(CASES, AutoModelForMaskedLM), flops=flop_rows())


if __name__ == "__main__":
    main()
