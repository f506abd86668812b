//! What the KerasHub readers cover: the classes `summary` reads and the families `memory`
//! lowers, for the errors that name them.

use serde_json::Value;

use crate::error::Error;

use super::registered_class;

/// Every keras-hub class read, for the error on one that is not: a family per entry,
/// joined by "; " (an entry per line, so that adding one touches one line).
pub const SUPPORTED: &[&str] = &[
    "GPT2, OPT, GPTNeoX, Llama, Llama3, Mistral, Mixtral, Qwen, Qwen3, QwenMoe, Qwen3Moe, Phi3, Gemma, Gemma3, SmolLM3, GptOss, Falcon, Bloom, PaliGemma, Qwen3_5, Qwen3_5Moe (Backbone, CausalLM; Qwen3_5 text only)",
    "Bert, Roberta, XLMRoberta, DistilBert, Albert, DebertaV3, FNet, RoformerV2 (Backbone, TextClassifier, MaskedLM)",
    "Bert, XLMRoberta, Gemma3, Qwen3 TextEmbedder",
    "Gemma3VisionEncoder (alone or in a Gemma3Backbone)",
    "Gemma3n (Backbone, CausalLM; text only: with a vision or audio encoder, from its .keras archive)",
    "Gemma4 (Backbone, CausalLM)",
    "Gemma4VisionEncoder (alone or in a Gemma4Backbone)",
    "ESM (Backbone, MaskedPLM, ProteinClassifier)",
    "ElectraBackbone",
    "XLNetBackbone",
    "RWKV7 (Backbone, CausalLM)",
    "T5, Bart (Backbone, Seq2SeqLM)",
    "T5Gemma, T5Gemma2 (Backbone, Seq2SeqLM; T5Gemma2 text only: with a vision encoder, from its .keras archive)",
    "WhisperBackbone",
    "Moonshine (Backbone, AudioToText)",
    "ViT, DeiT, SwinTransformer (Backbone, ImageClassifier)",
    "DINOV2Backbone",
    "VideoPrismBackbone (the video encoder: with a text encoder, from its .keras archive)",
    "DINOV3Backbone",
    "VideoPrismBackbone (the video encoder)",
    "ViTDetBackbone",
    "SAM (Backbone, ImageSegmenter)",
    "DepthAnything (Backbone, DepthEstimator)",
    "MiT (Backbone, ImageClassifier)",
    "SegFormer (Backbone, ImageSegmenter)",
    "CLIP, SigLIP, MetaCLIP2 (Backbone, VisionEncoder, TextEncoder)",
    "ResNet, VGG, DenseNet, EfficientNet, MobileNet, Xception (Backbone, ImageClassifier)",
    "CSPNet (Backbone, ImageClassifier)",
    "HGNetV2 (Backbone, ImageClassifier)",
    "DeepLabV3 (Backbone, ImageSegmenter; over a ResNet image encoder)",
    "RetinaNetBackbone (over a ResNet image encoder)",
    "RetinaNetObjectDetector (on a RetinaNetBackbone)",
    "BASNet (Backbone, ImageSegmenter; over a ResNet v1 image encoder)",
    "StableDiffusion3 (Backbone, TextToImage, ImageToImage, Inpaint)",
    "Flux (Backbone, TextToImage)",
    "PARSeq (Backbone, CausalLM)",
    "BLIP2 (Backbone with a vision encoder, CausalLM on OPT, Seq2SeqLM on Flan-T5)",
    "DFine (Backbone on an HGNetV2Backbone, ObjectDetector)",
];
/// The families `memory` lowers (those with a transformers twin; RoformerV2, XLNet, RWKV7,
/// PARSeq, the diffusion denoisers and D-FINE, lowered from the same ops), joined by ", ".
pub(super) const MEMORY: &[&str] = &[
    "GPT2",
    "OPT",
    "GPTNeoX",
    "Llama",
    "Llama3",
    "Mistral",
    "Mixtral",
    "Qwen",
    "Qwen3",
    "QwenMoe",
    "Qwen3Moe",
    "Qwen3_5",
    "Qwen3_5Moe",
    "Phi3",
    "Gemma",
    "Gemma3",
    "Gemma3n (text only)",
    "Gemma4 (text only: no vision or audio encoder)",
    "SmolLM3",
    "GptOss",
    "Falcon",
    "Bloom",
    "Bert",
    "Roberta",
    "XLMRoberta",
    "DistilBert",
    "Albert",
    "Electra",
    "DebertaV3",
    "FNet",
    "ESM (with GELU, as transformers builds it)",
    "RoformerV2",
    "XLNet",
    "RWKV7 (Backbone, CausalLM)",
    "T5",
    "T5Gemma",
    "T5Gemma2 (text only)",
    "Bart",
    "Whisper",
    "Moonshine",
    "ViT",
    "DeiT",
    "SwinTransformer",
    "MiT",
    "SegFormer",
    "CLIP",
    "SigLIP and MetaCLIP2 backbones",
    "CLIPVisionEncoder",
    "SigLIPVisionEncoder",
    "CLIPTextEncoder",
    "SigLIPTextEncoder",
    "MetaCLIP2VisionEncoder",
    "MetaCLIP2TextEncoder",
    "Gemma3VisionEncoder",
    "Gemma4VisionEncoder",
    "DINOV2Backbone",
    "DINOV3Backbone",
    "VideoPrismBackbone (the video encoder)",
    "ViTDetBackbone",
    "SAM (Backbone, ImageSegmenter; prompted with one point and one box per image)",
    "DepthAnything (Backbone, DepthEstimator)",
    "PaliGemma (a text-only prompt, as for the transformers wrappers)",
    "BLIP2 (Backbone, CausalLM on OPT, Seq2SeqLM on Flan-T5)",
    "PARSeq (Backbone, CausalLM; a ViT image encoder)",
    "StableDiffusion3 and Flux (their denoiser's step)",
    "DFine (Backbone on an HGNetV2Backbone, ObjectDetector)",
];

/// The keras-hub class of `value` if no reader knows it.
pub fn unknown_class(value: &Value) -> Option<&str> {
    if crate::formats::keras_hub_vision::handles(value) {
        return None;
    }
    registered_class(value)
}

/// The error for a keras-hub class no reader knows, given as JSON alone.
pub fn unsupported(value: &Value, location: &str) -> Option<Error> {
    let class = unknown_class(value)?;
    Some(Error::invalid(
        location,
        format!("KerasHub class '{class}' is not supported from its JSON alone; supported: {}; any other KerasHub model is counted from its .keras archive (model.save('model.keras'): its model.weights.h5 holds every weight's shape)", SUPPORTED.join("; ")),
    ))
}
