"""OpenAI-shaped request, item, response and event models: the bottom layer."""
