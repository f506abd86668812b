"""Generate tests/data/hf_d_fine.json: keras-hub's D-FINE fixtures (tests/data/keras_hub_det.json.gz)
as transformers 5.24's `DFineForObjectDetection` of the same configuration, for the FLOPs of one
training step. transformers is no exact twin of keras-hub here (it shares one box head across
the decoder layers and may freeze the extractor's BatchNorms; built with
`freeze_backbone_batch_norms=False`), so only the FLOPs are recorded: in `train()`, fp32, under
torch.utils.flop_counter on CPU, BATCH images of SIDE x SIDE pixels, the forward and
forward+backward FLOPs of the loss archbudget models (a cross-entropy on the last layer's class
logits and one on its boxes, against random labels), and the parameter count for the record.

    /work/scratch/hf/bin/python tests/data/make_hf_d_fine.py
"""
import gzip
import json
import pathlib
import sys

try:
    import torch
    import transformers
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import count, forward_and_backward_flops, write_records  # noqa: E402

HERE = pathlib.Path(__file__).parent
BATCH, SIDE = 2, 64
NAMES = ["d_fine_tiny", "d_fine_identity_levels", "d_fine_discrete", "d_fine_three_levels"]


def hf_config(k):
    """transformers' DFineConfig of a keras-hub DFineBackbone config `k`."""
    b = k["backbone"]["config"]
    stages = b["stackwise_stage_filters"]
    backbone = transformers.HGNetV2Config(
        embedding_size=b["embedding_size"], depths=b["depths"], hidden_sizes=b["hidden_sizes"],
        hidden_act=b["hidden_act"], stem_channels=b["stem_channels"],
        stage_in_channels=[s[0] for s in stages], stage_mid_channels=[s[1] for s in stages],
        stage_out_channels=[s[2] for s in stages], stage_num_blocks=[s[3] for s in stages],
        stage_numb_of_layers=[s[4] for s in stages], stage_kernel_size=[s[5] for s in stages],
        stage_downsample=b["apply_downsample"], stage_light_block=b["use_lightweight_conv_block"],
        use_learnable_affine_block=b["use_learnable_affine_block"],
        out_features=k["out_features"])
    return transformers.DFineConfig(
        backbone_config=backbone, freeze_backbone_batch_norms=False,
        encoder_hidden_dim=k["encoder_hidden_dim"], encoder_in_channels=k["encoder_in_channels"],
        feat_strides=k["feat_strides"], encode_proj_layers=k["encode_proj_layers"],
        encoder_layers=k["num_encoder_layers"], encoder_ffn_dim=k["encoder_ffn_dim"],
        encoder_attention_heads=k["num_attention_heads"], hidden_expansion=k["hidden_expansion"],
        depth_mult=k["depth_multiplier"], d_model=k["hidden_dim"], num_queries=k["num_queries"],
        decoder_in_channels=k["decoder_in_channels"], decoder_ffn_dim=k["decoder_ffn_dim"],
        num_feature_levels=k["num_feature_levels"], decoder_n_points=k["decoder_n_points"],
        decoder_layers=k["num_decoder_layers"], decoder_attention_heads=k["decoder_attention_heads"],
        num_denoising=k["num_denoising"], learn_initial_query=k["learn_initial_query"],
        anchor_image_size=None, eval_idx=k["eval_idx"], lqe_hidden_dim=k["lqe_hidden_dim"],
        lqe_layers=k["num_lqe_layers"], decoder_method=k["decoder_method"],
        num_labels=k["num_labels"], dropout=0.0)


def record(m):
    k = m["model_json"]["config"]
    torch.manual_seed(0)
    model = transformers.DFineForObjectDetection(hf_config(k)).train()
    pixels = torch.randn(BATCH, 3, SIDE, SIDE)
    queries, labels = k["num_queries"], k["num_labels"]
    classes = torch.randint(0, labels, (BATCH * queries,))
    boxes = torch.randint(0, 4, (BATCH * queries,))

    def loss():
        out = model(pixel_values=pixels)
        ce = torch.nn.functional.cross_entropy
        return ce(out.logits.reshape(-1, labels), classes) + ce(out.pred_boxes.reshape(-1, 4), boxes)

    assert model.config._attn_implementation == "sdpa", model.config._attn_implementation
    fwd, fwd_bwd = forward_and_backward_flops(loss)
    return dict(name=m["name"], batch=BATCH, seq=SIDE, hf_params=count(model), flops_fwd=fwd,
                flops_fwd_bwd=fwd_bwd)


def main():
    with gzip.open(HERE / "keras_hub_det.json.gz", "rt") as f:
        models = {m["name"]: m for m in json.load(f)["models"]}
    records = [record(models[n]) for n in NAMES]
    write_records(HERE / "hf_d_fine.json", models=records)
    for r in records:
        print(r)


if __name__ == "__main__":
    main()
