"""Thin adapters around the core: the HTTP API, the source pages and the Gradio console."""
