"""LLM access for the review stages: settings from the environment, the reviewer client, and
the prompts with their JSON reply schemas."""

from shared.llm.client import LlmError, LlmReviewer, SelfCheckVerdict, TokenUsage
from shared.llm.prompts import Truncation
from shared.llm.settings import LlmSettings

__all__ = [
    "LlmError",
    "LlmReviewer",
    "LlmSettings",
    "SelfCheckVerdict",
    "TokenUsage",
    "Truncation",
]
