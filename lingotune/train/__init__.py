"""Training: supervised fine-tuning (full or LoRA) on chat examples, with assistant-only loss."""
