"""Language codes, scripts and detection: below models and data, used by both."""
