"""MXFP4 storage of gpt-oss's experts as transformers holds it, for tests/data/mxfp4.json.

Run with torch and transformers installed (the scratch venv); no GPU or triton needed:
- `Mxfp4GptOssExperts(config)` (transformers integrations/mxfp4.py) built on the meta
  device: its packed FP4 values (uint8, two per byte) and fp32 biases per projection;
- `convert_moe_packed_tensors(blocks, scales)` run on CPU on a checkpoint-shaped pair
  (blocks [..., G, 16], scales [..., G]): how many weights one scale byte covers.
"""
import json
from pathlib import Path

import torch
import transformers
from transformers import GptOssConfig
from transformers.integrations.mxfp4 import Mxfp4GptOssExperts, convert_moe_packed_tensors

HERE = Path(__file__).parent
CONFIGS = {
    "gpt-oss-20b": dict(hidden_size=2880, intermediate_size=2880, num_local_experts=32),
    "gpt-oss-120b": dict(hidden_size=2880, intermediate_size=2880, num_local_experts=128),
    "tiny": dict(hidden_size=128, intermediate_size=64, num_local_experts=4),
}


def nbytes(t):
    return t.numel() * t.element_size()


def experts(name, sizes):
    config = GptOssConfig(**sizes)
    with torch.device("meta"):
        m = Mxfp4GptOssExperts(config)
    return dict(name=name, **sizes, tensors={n: dict(shape=list(p.shape), dtype=str(p.dtype).removeprefix("torch."),
                                                     bytes=nbytes(p)) for n, p in m.named_parameters()})


def weights_per_scale():
    groups = 3
    blocks = torch.randint(0, 255, (2, 5, groups, 16), dtype=torch.uint8)
    scales = torch.full((2, 5, groups), 127, dtype=torch.uint8)
    out = convert_moe_packed_tensors(blocks, scales, dtype=torch.bfloat16)
    return dict(blocks_shape=list(blocks.shape), scales_shape=list(scales.shape), dequantized_shape=list(out.shape),
                weights=out.numel(), packed_bytes=nbytes(blocks), scale_bytes=nbytes(scales))


def main():
    doc = dict(env=dict(torch=torch.__version__, transformers=transformers.__version__),
               experts=[experts(n, s) for n, s in CONFIGS.items()], packing=weights_per_scale())
    (HERE / "mxfp4.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc["packing"]), [e["tensors"]["gate_up_proj"] for e in doc["experts"]])


if __name__ == "__main__":
    main()
