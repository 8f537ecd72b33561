"""Tiny models built from configs (random weights) and frames from the real shared video.

Everything is saved to a folder and loaded back through drivelake's registry, exactly like a
user's local model, so the real loading and inference code runs without any download.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

CLASSES = {0: "car", 1: "truck", 2: "person"}
_CORPUS = ["a car on a road", "a truck at night", "pedestrian crossing in the rain"] * 5


def require_torch() -> None:
    pytest.importorskip("torch", reason="models extra not installed: pip install -e '.[models]'")
    pytest.importorskip("transformers", reason="models extra not installed")


def _bpe(folder: Path, special: list[str]) -> Path:
    """A byte-level BPE vocabulary trained on a few driving phrases, saved in ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=special[-1]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(_CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=special))
    tok.save(str(folder / "bpe.json"))
    return folder / "bpe.json"


def tiny_tokenizer(folder: Path):
    from transformers import CLIPTokenizerFast

    special = ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizerFast(
        tokenizer_file=str(_bpe(folder, special)),
        bos_token=special[0],
        eos_token=special[1],
        unk_token=special[1],
        pad_token=special[1],
    )


def _towers(vocab: int) -> dict:
    text = {
        "vocab_size": vocab,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 32,
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
    }
    return {"text_config": text, "vision_config": vision}


def tiny_clip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(folder)
    CLIPModel(CLIPConfig(**_towers(len(tokenizer)), projection_dim=16)).save_pretrained(folder)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    CLIPProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def tiny_siglip(folder: Path) -> Path:
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(folder)
    towers = _towers(len(tokenizer))
    towers["text_config"]["max_position_embeddings"] = 16
    SiglipModel(SiglipConfig(**towers)).save_pretrained(folder)
    processor = SiglipImageProcessor(size={"height": 32, "width": 32})
    SiglipProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def tiny_detr(folder: Path) -> Path:
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    backbone = ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], out_features=["stage2"]
    )
    config = DetrConfig(
        use_timm_backbone=False,
        backbone_config=backbone,
        use_pretrained_backbone=False,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=10,
        id2label=CLASSES,
        label2id={v: k for k, v in CLASSES.items()},
    )
    DetrForObjectDetection(config).save_pretrained(folder)
    DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(folder)
    return folder


def tiny_captioner(folder: Path, seed: int = 0) -> Path:
    """A VisionEncoderDecoder captioner (tiny ViT encoder, tiny GPT-2 decoder), random weights.

    Weights drawn wide (``initializer_range=1``) so that different frames give different
    captions, and at least a few tokens before end-of-text, so every caption has words.
    """
    import torch
    from transformers import (
        GPT2Config,
        GPT2TokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessorPil,
    )

    folder.mkdir(parents=True, exist_ok=True)
    end = "<|endoftext|>"
    tokenizer = GPT2TokenizerFast(
        tokenizer_file=str(_bpe(folder, [end])), bos_token=end, eos_token=end, pad_token=end
    )
    vision = {**_towers(len(tokenizer))["vision_config"], "initializer_range": 1.0}
    decoder = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=64,
        initializer_range=1.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(ViTConfig(**vision), decoder)
    config.decoder_start_token_id = config.pad_token_id = tokenizer.bos_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config)
    model.generation_config.min_new_tokens = 3
    model.save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_yolo_onnx(path: Path, boxes: int = 64) -> Path:
    """A YOLOv8-layout ONNX export ([1, 4 + classes, N]) made of one strided convolution."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    channels = 4 + len(CLASSES)
    weight = rng.normal(0, 1e-4, (channels, 3, 80, 80)).astype(np.float32)
    bias = np.array([320, 320, 100, 80, 0.3, 0.0, -1.0], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["images", "w", "b"], ["c"], strides=[80, 80]),
            helper.make_node("Reshape", ["c", "shape"], ["output0"]),
        ],
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, channels, boxes])],
        [
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(bias, "b"),
            numpy_helper.from_array(np.array([1, channels, boxes], dtype=np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": str(CLASSES)})
    onnx.save(model, str(path))
    return path


def video_frames(video: Path, drive_id: str = "drive-a", every: int = 10, count: int = 24):
    """Frames rows from the real video: every ``every``-th frame, JPEG thumbnails ~320 px."""
    import av

    from drivelake import schema

    rows = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            if index % every:
                continue
            image = frame.to_image()
            image.thumbnail((320, 320))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=80)
            t_s = float(frame.time)
            rows.append(
                {
                    "frame_id": f"{drive_id}-{index}",
                    "drive_id": drive_id,
                    "video_id": "video-1",
                    "frame_index": index,
                    "pts": frame.pts,
                    "t_s": t_s,
                    "width": image.width,
                    "height": image.height,
                    "thumbnail": buffer.getvalue(),
                    "speed_mps": 5.0 + t_s,  # a speed profile rising through the drive
                    "lat": 37.0,
                    "lon": -122.0,
                }
            )
            if len(rows) == count:
                break
    frames_schema = schema.TABLES.get("frames")
    if frames_schema is not None:
        return pa.Table.from_pylist(rows, schema=frames_schema)
    return pa.Table.from_pylist(rows)
