"""Area names and summaries written by an LLM, validated, with the extractive summary as the safety net."""

from __future__ import annotations

import logging

from embodied_rag.memory.summaries import AreaFacts, extractive_summary
from embodied_rag.models import prompts
from embodied_rag.models.protocols import LLM, LLMError

log = logging.getLogger(__name__)

FALLBACK = "extractive-fallback"


class LLMSummarizer:
    """Implements Summarizer: one JSON-constrained call per area, one retry, then the extractive summary.

    After ``summarize``: ``last_sources[i]`` says where area i's text came from (``llm:<name>`` or
    ``extractive-fallback``) and ``last_source`` sums up the batch (mixed batches give ``llm:<name>+fallback``).
    """

    def __init__(self, llm: LLM, max_tokens: int = 120, max_consecutive_errors: int = 2):
        self.llm = llm
        self.name = f"llm:{llm.name}"
        self.max_tokens = max_tokens
        self.max_consecutive_errors = max_consecutive_errors
        self.last_source = self.name
        self.last_sources: list[str] = []
        self.fallbacks = 0

    def _ask(self, facts: AreaFacts) -> tuple[str, str] | None:
        system, user = prompts.summarize_area(facts.central_texts, [o for o, _ in facts.objects],
                                              facts.child_names, facts.place_type)
        for attempt in range(2):
            reply = self.llm.complete(system, user + (" " + prompts.RETRY_NOTE if attempt else ""),
                                      max_tokens=self.max_tokens, json_schema=prompts.SUMMARY_SCHEMA)
            parsed = prompts.parse_summary(reply)
            if parsed is not None:
                return parsed
            log.debug("Invalid summary from %s (attempt %d): %.120r", self.llm.name, attempt + 1, reply)
        return None

    def summarize(self, facts: list[AreaFacts]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        self.last_sources = []
        errors = 0
        for f in facts:
            parsed = None
            # A server that is down fails every call: after a few errors in a row, stop waiting on it this batch.
            if errors < self.max_consecutive_errors:
                try:
                    parsed = self._ask(f)
                    errors = 0
                except LLMError as exc:
                    errors += 1
                    log.warning("Summary of area %s by %s failed (%s); using the extractive summary",
                                f.node.id, self.llm.name, exc)
            if parsed is None:
                self.fallbacks += 1
                out.append(extractive_summary(f))
                self.last_sources.append(FALLBACK)
            else:
                out.append(parsed)
                self.last_sources.append(self.name)
        kinds = set(self.last_sources)
        self.last_source = (self.name if kinds <= {self.name} else FALLBACK if kinds == {FALLBACK}
                            else f"{self.name}+fallback")
        return out
