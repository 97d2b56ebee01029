"""Activation checkpointing on the long micro-batches only.

A training step's peak memory is set by its longest micro-batch: SmolLM2 with LoRA keeps ~32 MB of
activations per layer per 1,000 tokens for the backward pass (the quickstart's longest micro-batch, 4 × 384
tokens, added 2.6 GB; its median one, 4 × 140, 1.0 GB). Checkpointing every micro-batch
(``train.gradient_checkpointing``) bounds the peak but recomputes the short ones too, where it costs a
quarter of their time. Here a micro-batch of n tokens (rows × width, padding included) above the
budget B recomputes just enough layers, ⌈L · (1 − B/n)⌉ of L spread evenly, to keep the stored
activations near B tokens' worth; shorter ones run as usual (benchmarks/README.md has the measurements).

Written here: transformers checkpoints all layers or every n-th, fixed for the whole run; its layers read
their ``gradient_checkpointing`` flag on every forward, so a forward pre-hook sets the flags per micro-batch.
"""

from __future__ import annotations

from typing import Any

from lingotune.core.errors import RecipeError


def layers_to_checkpoint(tokens: int, budget: int, n_layers: int) -> set[int]:
    """Indices of the layers to recompute for a micro-batch of ``tokens`` tokens, spread evenly."""
    if tokens <= budget:
        return set()
    k = -(-n_layers * (tokens - budget) // tokens)  # ⌈L · (1 − B/n)⌉ in integers (no float rounding up)
    return {j * n_layers // k for j in range(k)}


def checkpoint_long_batches(model, budget_tokens: int) -> None:
    """Recompute activations only for micro-batches of more than ``budget_tokens`` tokens (see above)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    if not layers:
        raise RecipeError(f"train.checkpoint_above_tokens: {type(model).__name__} has no checkpointable "
                          "decoder layers (transformers' GradientCheckpointingLayer)")
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:  # newer transformers (5.25 here); non-reentrant by default
        enable()
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # transformers also makes the embeddings' output require grad, which only reentrant checkpointing needs;
    # with LoRA that is a backward pass into the frozen first layer's input (~3 % of a step, measured)
    model.disable_input_require_grads()

    def choose_layers(module, args: tuple, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        embeds = kwargs.get("inputs_embeds")
        tokens = ids.numel() if ids is not None else embeds[..., 0].numel() if embeds is not None else 0
        chosen = layers_to_checkpoint(tokens, budget_tokens, len(layers))
        for i, layer in enumerate(layers):
            layer.gradient_checkpointing = i in chosen

    model.register_forward_pre_hook(choose_layers, with_kwargs=True)
