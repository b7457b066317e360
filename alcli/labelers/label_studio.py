"""People label in a running Label Studio: the run pushes each batch as tasks and pulls the
finished annotations back through its REST API."""

from __future__ import annotations

import html
import os
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, PositiveFloat

from alcli.classes import SKIPPED, UNANSWERED, codes_by_text, label_text
from alcli.errors import RunDirError, UserInputError, plural
from alcli.labelers.annotations import RESOLVE_RULES, Annotation, resolve
from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest
from alcli.labelers.file import FileLabeler, _tasks
from alcli.labelers.label_studio_api import TIMEOUT, LabelStudioClient, LabelStudioUnavailable
from alcli.rundir import RunDir
from alcli.schema import Section

#: Task data keys that match a task back to its run, loop and record (with ``alcli_id``).
RUN_KEY, LOOP_KEY = "alcli_run", "alcli_loop"
#: The Choices tag that holds the class (the same names as the file handoff's config).
FROM_NAME, TO_NAME = "label", "record"


class LabelStudioConfig(Section):
    kind: Literal["label_studio"] = Field(
        description="People label in a running Label Studio: each batch is pushed to a project "
        "as tasks (the model's guess as a pre-annotation), the run waits, and `alcli resume "
        "RUN_DIR` pulls the finished annotations."
    )
    url: str = Field(
        pattern=r"^https?://\S+$",
        description="The Label Studio server, e.g. http://127.0.0.1:8080.",
    )
    api_key_env: str = Field(
        "LABEL_STUDIO_API_KEY",
        min_length=1,
        description="The environment variable holding your Label Studio access token (a "
        "personal access token or a legacy token); the token itself never goes in the config.",
    )
    project: int | str = Field(
        description="The project: a number is its id (it must exist); anything else is its "
        "title (made with the run's classes when no project has it)."
    )
    resolve: Literal[RESOLVE_RULES] = Field(  # type: ignore[valid-type]
        "majority",
        description="Several annotations of one task: newest (the last updated), majority "
        "(the most common label; a tie is a conflict), refuse (any disagreement is a "
        "conflict). A task in conflict stays open until a reviewer settles it.",
    )
    reoffer_skipped: bool = Field(
        False, description="Offer records an annotator skipped again in later loops."
    )
    timeout: PositiveFloat = Field(
        TIMEOUT, le=300, description="Seconds to wait for each answer of the server."
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")


class ProjectMismatch(UserInputError):
    """A reused project's labeling config offers other classes than the run has."""


class LabelStudioLabeler(Labeler):
    """Hands the open records of a batch to people in a Label Studio project, and waits.

    At LABEL it finds the project (by id, or by title, creating it with the run's classes),
    looks up the tasks of this run and loop in it (``data.alcli_run``, ``data.alcli_loop``,
    ``data.alcli_id``), imports the open records that have none yet, and reads the
    annotations of those that have: one label per task by the ``resolve`` rule, a skip when
    every annotator cancelled it. Whatever is still open (not annotated, or in conflict) stays
    UNANSWERED with a message saying where to label and how to go on.

    Looking the tasks up before importing makes pushing idempotent: a run killed after the
    import and before its batch was saved pushes nothing twice on resume. A server that does
    not answer (or refuses the token) leaves everything open with a message: the run saves
    the batch and waits, and the next ``alcli resume`` pushes and pulls.
    """

    Config = LabelStudioConfig
    kind = "label_studio"
    may_wait = True
    may_skip = True

    def __init__(self, cfg: Any, context: Any):
        super().__init__(cfg)
        # The file handoff's task rows: the same fields and guesses, the same import format.
        self._handoff = FileLabeler(cfg, context)

    def label(self, request: LabelRequest) -> Answers:
        answers = Answers.start(request)
        todo = request.open
        if todo.size == 0:
            return answers
        if request.pending_dir is None:
            raise ValueError("the label_studio labeler needs request.pending_dir (its run)")
        run_name = _run_key(request.run_dir)
        try:
            client = self.client()
            project = self.project(client, request.classes, create=True)
            pushed = self._pushed(client, project["id"], run_name, request.loop)
            missing = np.array([k for k in todo if _key(request.ids[k]) not in pushed], dtype=int)
            if missing.size:
                client.import_tasks(project["id"], self._new_tasks(request, missing, run_name))
        except LabelStudioUnavailable as problem:
            answers.message = self._unreachable(request, problem)
            return answers
        problems = self._take(request, answers, todo, pushed)
        if not answers.complete:
            answers.message = self._waiting(request, answers, client, project, problems)
        return answers

    # --- the server -----------------------------------------------------------------------

    def client(self) -> LabelStudioClient:
        name = self.cfg.api_key_env
        token = os.environ.get(name, "").strip()
        if not token:
            raise LabelStudioUnavailable(
                f"labeler.api_key_env: the environment variable {name} is not set; set it to "
                f"your access token for {self.cfg.url} (Label Studio: Account & Settings, "
                "Access Token)"
            )
        return LabelStudioClient(self.cfg.url, token, name, timeout=self.cfg.timeout)

    def project(self, client: LabelStudioClient, classes: np.ndarray, create: bool) -> Any:
        """The configured project, its classes checked (None when a titled project does not
        exist yet and ``create`` is False)."""
        ref = self.cfg.project
        if isinstance(ref, int) or ref.strip().isdigit():
            found = client.project(int(ref))
            if found is None:
                raise LabelStudioUnavailable(
                    f"Label Studio at {client.url} has no project with id {ref}: check "
                    "labeler.project (a number names an existing project's id; a title makes "
                    "a new project when none has it)"
                )
        else:
            titled = sorted(client.projects_titled(ref), key=lambda p: p["id"])
            if titled:
                found = titled[0]
            elif create:
                found = client.create_project(
                    ref, labeling_config(classes), "Tasks pushed by alcli runs, loop by loop."
                )
            else:
                return None
        _check_classes(found, classes, client.url)
        return found

    def check(self, classes: np.ndarray) -> None:
        """Contact the server once before a run writes anything: the token, the project and
        its classes (a project that does not exist yet is made at the first push)."""
        client = self.client()
        client.whoami()
        self.project(client, classes, create=False)

    def _pushed(self, client, project_id: int, run_name: str, loop: int) -> dict[str, list]:
        """This run's tasks of ``loop`` in the project, by record id (a list: a task that
        was duplicated in Label Studio counts with all its annotations)."""
        found: dict[str, list] = {}
        for task in client.tasks(project_id):
            data = task.get("data") or {}
            if data.get(RUN_KEY) == run_name and data.get(LOOP_KEY) == loop:
                found.setdefault(_key(data.get("alcli_id")), []).append(task)
        return found

    def _new_tasks(self, request: LabelRequest, positions: np.ndarray, run_name: str) -> list:
        ids, names, fields = self._handoff._records(request, positions)
        # A data column named like a key of ours keeps its value under another name.
        names = [f"{n} (data)" if n.casefold() in (RUN_KEY, LOOP_KEY) else n for n in names]
        tasks = _tasks(request.loop, ids, names, fields, self._handoff._guesses(request, positions))
        for task in tasks:
            task["data"][RUN_KEY], task["data"][LOOP_KEY] = run_name, request.loop
        return tasks

    # --- answers --------------------------------------------------------------------------

    def _take(self, request, answers: Answers, todo: np.ndarray, pushed) -> list[str]:
        """Fill ``answers`` from the annotated tasks; what keeps the others open, by id."""
        code_of = codes_by_text(request.classes)
        positions, codes, problems = [], [], []
        for k in todo.tolist():
            tasks = pushed.get(_key(request.ids[k]), [])
            given = [a for task in tasks for a in task.get("annotations") or []]
            if not given:
                continue
            read, unreadable = _annotations(given)
            outcome = resolve(read, self.cfg.resolve) if read else None
            if outcome is not None and outcome.skipped:
                positions.append(k)
                codes.append(SKIPPED)
            elif outcome is not None and outcome.label is not None:
                if outcome.label in code_of:
                    positions.append(k)
                    codes.append(code_of[outcome.label])
                else:
                    problems.append(f"{request.ids[k]}: '{outcome.label}' is not a class")
            elif outcome is not None and outcome.conflict:
                problems.append(f"{request.ids[k]}: {outcome.conflict}")
            elif unreadable:
                problems.append(f"{request.ids[k]}: submitted without a class")
        if positions:
            where = np.array(positions, dtype=np.int64)
            self.answered(answers, where, np.array(codes, dtype=np.int64), request.classes)
        return problems

    def _waiting(self, request, answers: Answers, client, project, problems: list[str]) -> str:
        n_open = int(np.count_nonzero(answers.codes == UNANSWERED))
        n_batch = request.indices.shape[0]
        title = project.get("title", "")
        lines = [
            f"Loop {request.loop} waits for labels: {n_open} of {plural(n_batch, 'task')} still "
            f"open in Label Studio project '{title}' (id {project['id']}).",
            f"  Label them at {client.project_page(project['id'])}",
        ]
        if problems:
            lines.append(
                f"  {plural(len(problems), 'task')} to settle there (resolve: "
                f"{self.cfg.resolve}; add or change an annotation):"
            )
            lines += [f"    {p}" for p in problems[:10]]
            if len(problems) > 10:
                lines.append(f"    and {len(problems) - 10} more")
        lines.append(f"Then run: alcli resume {_quoted_run(request)}")
        return "\n".join(lines)

    def _unreachable(self, request: LabelRequest, problem: Exception) -> str:
        n_open = request.open.size
        return (
            f"Loop {request.loop} waits for labels in Label Studio ({plural(n_open, 'record')}), "
            f"but it could not be used: {problem}.\n"
            f"The batch is saved in {request.pending_dir}; nothing is lost. Once the server "
            "answers, run:\n"
            f"  alcli resume {_quoted_run(request)}\n"
            "It pushes the tasks not in the project yet and pulls the annotations."
        )


def labeling_config(classes: Iterable[Any]) -> str:
    """The labeling config of the file handoff: the record's text and one Choice per class."""
    choices = "\n".join(
        f'    <Choice value="{html.escape(label_text(c), quote=True)}"/>' for c in classes
    )
    return (
        "<View>\n"
        f'  <Text name="{TO_NAME}" value="$alcli_record"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>"
    )


def project_classes(label_config: str) -> list[str] | None:
    """The Choice values of the config's ``<Choices name="label">``; None if it has none."""
    try:
        root = ET.fromstring(label_config)
    except ET.ParseError:
        return None
    for tag in root.iter("Choices"):
        if tag.get("name") == FROM_NAME:
            return [choice.get("value", "") for choice in tag.iter("Choice")]
    return None


def check_label_studio(labeler_cfg: Any, classes: np.ndarray) -> None:
    """Contact every Label Studio labeler in the chain of ``labeler_cfg`` before `alcli run`
    writes anything: a wrong URL, token or project is refused now (exit code 2), while
    nothing exists yet; later, the run waits instead."""
    link = labeler_cfg
    while link is not None:
        if getattr(link, "kind", None) == LabelStudioLabeler.kind:
            try:
                LabelStudioLabeler(link, None).check(classes)
            except LabelStudioUnavailable as problem:
                raise LabelStudioUnavailable(
                    f"{problem}.\nNothing was written; fix this and run `alcli run` again."
                ) from None
        link = getattr(link, "fallback", None)


def _check_classes(project: dict[str, Any], classes: np.ndarray, url: str) -> None:
    wanted = [label_text(c) for c in classes.tolist()]
    has = project_classes(project.get("label_config") or "")
    if has is not None and sorted(has) == sorted(wanted):
        return
    offers = (
        f"offers the classes {', '.join(has)}"
        if has is not None
        else f'has no <Choices name="{FROM_NAME}"> in its labeling config'
    )
    raise ProjectMismatch(
        f"Label Studio project '{project.get('title', '')}' (id {project['id']}) at {url} "
        f"{offers}; this run's classes are {', '.join(wanted)}. Point labeler.project at "
        "another project (a new title makes one with the run's classes), or change the "
        f'project\'s labeling config to a <Choices name="{FROM_NAME}" toName="{TO_NAME}"> '
        "with exactly the run's classes."
    )


def _annotations(given: list[dict[str, Any]]) -> tuple[list[Annotation], int]:
    """The annotations of a task as :class:`Annotation` (a cancelled one is a skip), and how
    many were submitted without a class (not counted)."""
    read, unreadable = [], 0
    for item in given:
        annotator = str(item.get("completed_by") or "")
        if isinstance(item.get("completed_by"), dict):  # some versions expand the user
            annotator = str(item["completed_by"].get("id", ""))
        updated = str(item.get("updated_at") or item.get("created_at") or "")
        if item.get("was_cancelled"):
            read.append(Annotation(None, annotator, updated))
            continue
        chosen = [
            choice
            for result in item.get("result") or []
            if result.get("from_name") == FROM_NAME and result.get("type") == "choices"
            for choice in (result.get("value") or {}).get("choices") or []
        ]
        if len(chosen) == 1:
            read.append(Annotation(str(chosen[0]), annotator, updated))
        else:
            unreadable += 1
    return read, unreadable


def _key(record_id: Any) -> str:
    """A record id as task data holds it, for matching (``5`` and ``"5"`` are one id)."""
    value = record_id.item() if isinstance(record_id, np.generic) else record_id
    return label_text(value)


def _run_key(run_dir: Path) -> str:
    """What the run's tasks carry as ``alcli_run``: its ``run_uid`` (a run made before it
    existed: its folder's name)."""
    try:
        return str(RunDir(run_dir).read_meta()["run_uid"])
    except (RunDirError, KeyError):
        return run_dir.name


def _quoted_run(request: LabelRequest) -> str:
    return shlex.quote(str(request.run_dir))


__all__ = ["LabelStudioConfig", "LabelStudioLabeler", "check_label_studio", "labeling_config"]
