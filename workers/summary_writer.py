"""The summary text of stage 16: one model call when an LLM is configured, else the plain
summary built from the change."""

import asyncio
import logging

from shared.config import ReviewConfig
from shared.llm.client import LlmReviewer
from shared.llm.settings import LlmSettings
from shared.models import ChangedFile, PullRequestInfo
from shared.stages.outcome import ReviewResult

logger = logging.getLogger(__name__)


def write_summary(
    config: ReviewConfig,
    pr: PullRequestInfo,
    files: list[ChangedFile],
    result: ReviewResult,
    fallback: str,
) -> tuple[str, int]:
    """(summary, tokens used). A model failure falls back to the plain summary and says so."""
    llm = LlmSettings()
    if not llm.configured:
        return fallback, 0
    reviewer = LlmReviewer(llm, config.model)
    findings = "\n".join(f"- {f.severity.value}: {f.title}" for f in result.pr_findings)

    async def summarize() -> str:
        # the client is closed in the loop that used it (else: "Event loop is closed")
        async with reviewer:
            return await reviewer.summarize(
                pr.title, pr.body, files, findings, config.summary.custom_instructions
            )

    try:
        text = asyncio.run(summarize())
    except Exception as exc:
        logger.warning("summary by model failed, using the plain summary: %s", exc)
        return (
            f"{fallback}\n\n(The model summary failed: {type(exc).__name__}.)",
            reviewer.total_tokens,
        )
    return text, reviewer.total_tokens
