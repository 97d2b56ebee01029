"""Serving adapted models behind an OpenAI-compatible endpoint."""
