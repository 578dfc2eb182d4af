"""Thin adapters around the core: the HTTP API and its contract, the widget and source
pages, the Gradio staff console and the command line."""
