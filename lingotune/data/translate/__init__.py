"""The dataset translator: mask, translate (any backend), restore, filter, report. One module per concern."""
