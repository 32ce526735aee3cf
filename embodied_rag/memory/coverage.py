"""Which keyframes a question in words can find, and why the others cannot ("never silently blind").

A keyframe is searchable by language when it has text (a caption, a name or an object list) or an image embedding
(open_clip). One with neither is only a pose and a picture: questions in words cannot reach it, only a photo can
(``query --image``). ``build``, ``inspect``, the memory node's diagnostics and the answers themselves say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from embodied_rag.config import Config
from embodied_rag.memory.keyframe import Keyframe


def searchable(kf: Keyframe) -> bool:
    return bool(kf.text()) or kf.image_embedding is not None


@dataclass
class LanguageCoverage:
    keyframes: int
    by_text: int  # with a caption, name or object list
    by_image_embedding_only: int  # no text, but an open_clip image embedding
    blind_with_image: int  # neither, but a JPEG: a photo query can still find them
    blind_without_image: int  # neither, nor a JPEG

    @property
    def searchable(self) -> int:
        return self.by_text + self.by_image_embedding_only

    @property
    def blind(self) -> int:
        return self.blind_with_image + self.blind_without_image

    def why(self, config: Config) -> str:
        """One sentence: why the blind keyframes cannot be searched in words and what fixes it ("" when none)."""
        if not self.blind:
            return ""
        return f"{self.blind} keyframes have no caption and no image embedding because {self.cause_and_fix(config)}."

    def cause_and_fix(self, config: Config) -> str:
        captioner = config.models.captioner.name
        embedder = config.models.image_embedder.name
        if captioner == "none" and embedder == "none":
            cause = ("no captioner or image embedder was configured (models.captioner and models.image_embedder "
                     "are 'none') and the recording had no captions")
        else:
            cause = (f"the configured models gave them no caption or embedding (models.captioner '{captioner}', "
                     f"models.image_embedder '{embedder}'; see the captioner's failures)")
        fix = ("configure models.captioner (and models.image_embedder if wanted) and caption them later "
               "(embodied-rag caption MEMORY --config FILE)")
        if self.blind_with_image:
            fix += ", or ask with a photo (embodied-rag query MEMORY --image PHOTO)"
        return f"{cause}; to fix it, {fix}"

    def to_json(self, config: Config) -> dict:
        return {"keyframes": self.keyframes, "searchable": self.searchable, "by_text": self.by_text,
                "by_image_embedding_only": self.by_image_embedding_only, "blind": self.blind,
                "blind_with_image": self.blind_with_image, "why": self.why(config)}


def language_coverage(keyframes: Iterable[Keyframe]) -> LanguageCoverage:
    by_text = emb_only = blind_img = blind_none = n = 0
    for kf in keyframes:
        n += 1
        if kf.text():
            by_text += 1
        elif kf.image_embedding is not None:
            emb_only += 1
        elif kf.image:
            blind_img += 1
        else:
            blind_none += 1
    return LanguageCoverage(n, by_text, emb_only, blind_img, blind_none)


def blind_answer(coverage: LanguageCoverage, config: Config) -> str:
    """What a question in words gets from a memory none of whose keyframes it can search."""
    held = (f"I hold {coverage.blind_with_image} images without captions or image embeddings"
            if coverage.blind_with_image else f"I hold {coverage.blind} keyframes without captions or images")
    return f"{held}, so I cannot search them by words: {coverage.cause_and_fix(config)}."


def blind_note(coverage: LanguageCoverage) -> str:
    """Appended to "I have not seen anything ..." when some keyframes could not be searched."""
    if not coverage.blind:
        return ""
    photo = "; a photo (query --image) can still find them" if coverage.blind_with_image else ""
    return (f" {coverage.blind} of my {coverage.keyframes} keyframes have no caption or image embedding, so words "
            f"cannot find them{photo}.")
