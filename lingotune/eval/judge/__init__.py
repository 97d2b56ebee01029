"""MT-Bench-style LLM-as-a-judge in any language (Zheng et al. 2023; methods.md §6).

``prompts`` loads MT-Bench / MT-Bench-X judge prompts and adds the wrong-language rule, ``parse``
reads verdicts strictly, ``single`` and ``pairwise`` build judge requests and turn verdicts into
scores, ``run`` orchestrates questions → answers → verdicts → JSONL + summary, ``config`` is the
recipe section ``eval.judge``.
"""
