"""What the transformers fixture generators (make_hf_*.py) share: building a model on the
meta device, counting its parameters (all, per module, active per token), tiny models'
FLOPs under torch.utils.flop_counter, and writing a fixture one record per line.
Imported by the generators and by the tests that compare with transformers live; needs
torch and transformers."""
import json

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModel


def count(model):
    return sum(p.numel() for p in model.parameters())


def active(model, cfg):
    """Parameters one token uses: all but the routed experts it is not sent to."""
    top_k = getattr(cfg.get_text_config(), "num_experts_per_tok", None) or 0
    idle = 0
    for mod in model.modules():
        if type(mod).__name__.endswith("Experts"):
            idle += count(mod) * (mod.num_experts - top_k) // mod.num_experts
    return count(model) - idle


def build(auto, cfg):
    with torch.device("meta"):
        return auto.from_config(cfg)


def module_counts(model):
    return {name: [type(mod).__name__, count(mod)] for name, mod in model.named_modules() if name}


def config_of(config):
    kw = dict(config)
    return AutoConfig.for_model(kw.pop("model_type"), **kw)


def count_rows(cases, lm_auto):
    """Both heads' totals and classes of each `(name, model_type, kwargs)`, and per-module
    counts of the small ones."""
    rows = []
    for name, model_type, kwargs in cases:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base = build(AutoModel, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__)
        small = sum(1 for _ in base.modules()) < 200
        modules = {"base": module_counts(base)} if small else None
        lm = build(lm_auto, cfg)
        row.update(causal_lm_params=count(lm), causal_lm_class=type(lm).__name__)
        if small:
            modules["lm"] = module_counts(lm)
            row["modules"] = modules
        rows.append(row)
        print(name, row["base_params"], row["causal_lm_params"], flush=True)
    return rows


def head_loss(model, head, ids):
    """The protocol's loss: the LM's own, or the base model's `last_hidden_state` squared."""
    if head == "base":
        return model(input_ids=ids).last_hidden_state.float().pow(2).mean()
    return model(input_ids=ids, labels=ids).loss


def forward_and_backward_flops(loss_of):
    """FLOPs of `loss_of()` alone, and with its backward."""
    counts = []
    for backward in (False, True):
        fc = FlopCounterMode(display=False)
        with fc:
            loss = loss_of()
            if backward:
                loss.backward()
        counts.append(fc.get_total_flops())
    return counts


def write_records(path, **sections):
    """`{"env": versions, section: [records]}`, one record per line: compact, and a
    regenerated file diffs record by record."""
    env = dict(torch=torch.__version__, transformers=transformers.__version__)
    parts = [f'"env":{json.dumps(env)}']
    for key, records in sections.items():
        lines = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
        parts.append(f'"{key}":[\n{lines}\n]')
    path.write_text("{" + ",\n".join(parts) + "}\n")
