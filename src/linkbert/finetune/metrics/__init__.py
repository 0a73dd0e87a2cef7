"""Metrics as pure functions, each computed exactly as the original LinkBERT scripts define it."""
