"""A model the provider does not know is the caller's mistake: OpenAI's 404 ``model_not_found``.

A provider answers a model name it does not serve with 404 (OpenAI: "The model `x` does not
exist", vLLM likewise, Ollama: "model \"x\" not found, try pulling it first"). Passed on as the
provider's failure (502), that mistake would be retried by the SDK and stored as a failed
response each time; as the caller's 404 it names the model and is not retried. A 404 whose body
says nothing of a model is a provider set up wrong (a base URL without ``/v1``), and stays the
provider's failure.
"""

from __future__ import annotations

from parley.errors import NotFound, UpstreamStatus


def names_unknown_model(exc: UpstreamStatus) -> bool:
    return exc.status == 404 and "model" in exc.body.lower()


def model_not_found(model: str, provider: str) -> NotFound:
    return NotFound(
        f"The requested model '{model}' does not exist: provider '{provider}' does not serve it.",
        param="model",
        code="model_not_found",
    )
