"""Evaluation: answer-language fidelity, extractive QA, translation, English retention, reports."""
