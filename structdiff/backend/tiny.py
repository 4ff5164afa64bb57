"""Built-in tiny DiffusionGemma configurations (random weights, for tests and benchmarks)."""

from __future__ import annotations

from typing import Any

__all__ = ["tiny_config"]


def tiny_config(
    vocab_size: int,
    *,
    canvas_length: int = 64,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_experts: int = 4,
    top_k_experts: int = 2,
    max_position_embeddings: int = 4096,
    num_key_value_heads: int = 1,
) -> Any:
    """A small ``DiffusionGemmaConfig``: same class and layout as the real model, MoE included.

    The vision tower is shrunk to one 16-wide layer (transformers always builds one).
    Layer types alternate sliding/full, the last being full, as in the real model.
    """
    from transformers import DiffusionGemmaConfig
    from transformers.models.diffusion_gemma.configuration_diffusion_gemma import DiffusionGemmaTextConfig

    heads = max(1, hidden_size // 32)
    layer_types = ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(num_layers)]
    layer_types[-1] = "full_attention"
    text = DiffusionGemmaTextConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        num_key_value_heads=num_key_value_heads,
        head_dim=32,
        global_head_dim=32,
        sliding_window=128,
        max_position_embeddings=max_position_embeddings,
        num_experts=num_experts,
        top_k_experts=top_k_experts,
        moe_intermediate_size=hidden_size,
        enable_moe_block=True,
        layer_types=layer_types,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    vision = {
        "model_type": "gemma4_vision",
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 1,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "position_embedding_size": 64,
    }
    return DiffusionGemmaConfig(
        text_config=text.to_dict(),
        vision_config=vision,
        canvas_length=canvas_length,
        # keep special image ids inside the small vocabulary's range without colliding with text
        boi_token_id=vocab_size - 1,
        eoi_token_id=vocab_size - 1,
        image_token_id=vocab_size - 1,
    )
