"""Reading a model from any source: the catalog, the Hugging Face hub, a local folder or a GGUF file."""
