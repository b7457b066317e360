"""The simulated annotator: reveals the target the data holds, and only when asked."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest
from alcli.schema import Section


class OracleConfig(Section):
    kind: Literal["oracle"] = Field(
        "oracle", description="The simulated annotator: reveals the target the data holds."
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")


class Oracle(Labeler):
    """Answers with the ground truth kept aside when the data was loaded.

    ``context.truth`` holds the class codes of every pool record; the loop itself never
    reads them.
    """

    Config = OracleConfig
    kind = "oracle"
    needs_truth = True

    def __init__(self, cfg: Any, context: Any):
        super().__init__(cfg)
        self._truth = context.truth

    def label(self, request: LabelRequest) -> Answers:
        answers = Answers.start(request)
        todo = request.open
        self.answered(answers, todo, self._truth[request.indices[todo]], request.classes)
        return answers
