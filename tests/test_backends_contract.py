"""The contract every sweep backend keeps (DESIGN.md: `launch(run_specs) -> iterator of
outcomes`, a worker only ever calls engine.start / engine.resume on one run directory). A new
backend is one file plus one line in BACKENDS; this suite then runs it with no new test code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alcli.experiments.backends import BACKENDS, build_backend
from alcli.experiments.plan import make_plan
from alcli.experiments.sweep_file import backend_config, load_sweep_file
from tests.conftest import TINY

KINDS = sorted(BACKENDS)


#: Each backend's config for these tests (a backend that needs a service takes it from a
#: fixture): a new backend adds its line here.
CONFIGS = {
    "local": lambda request: {"kind": "local"},
    "dask": lambda request: {
        "kind": "dask",
        "address": request.getfixturevalue("dask_cluster").scheduler_address,
    },
}


@pytest.fixture
def make_backend(request):
    def make(kind: str, jobs: int):
        return build_backend(backend_config(CONFIGS[kind](request), "test"), jobs)

    return make


def test_every_backend_has_a_test_config():
    assert set(CONFIGS) == set(BACKENDS)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    (folder / "base.yaml").write_text(yaml.safe_dump(TINY))
    sweep = folder / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "contract", "base": "base.yaml", "seeds": 2}))
    sweep_file, base, base_dir = load_sweep_file(sweep)
    return make_plan(sweep_file, base, base_dir, str(sweep))


def metrics_without_timings(path: Path) -> list[list[str]]:
    rows = [line.split(",") for line in (path / "metrics.csv").read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("_s")]
    return [[row[i] for i in keep] for row in rows]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("jobs", [1, 2])
def test_one_outcome_per_run_and_every_run_completes(kind, jobs, plan, tmp_path, make_backend):
    specs = plan.runs
    seen = []
    outcomes = list(make_backend(kind, jobs).launch(specs, tmp_path, seen.append))
    assert sorted(o.key for o in outcomes) == sorted(s.key for s in specs)
    assert {o.state for o in outcomes} == {"completed"}
    assert all(o.attempted for o in outcomes)
    # Progress comes back from wherever the runs execute: every loop of every run.
    loops = {(e["run"], e["loop"]) for e in seen if e["event"] == "loop"}
    assert {key for key, _ in loops} == {s.key for s in specs}
    for spec in specs:
        assert (tmp_path / spec.path / "run.json").is_file()


@pytest.mark.parametrize("kind", KINDS)
def test_a_completed_run_is_left_alone_and_results_do_not_depend_on_jobs(
    kind, plan, tmp_path, make_backend
):
    one, two = tmp_path / "one", tmp_path / "two"
    list(make_backend(kind, 1).launch(plan.runs, one))
    list(make_backend(kind, 2).launch(plan.runs, two))
    for spec in plan.runs:
        assert metrics_without_timings(one / spec.path) == metrics_without_timings(two / spec.path)
    again = list(make_backend(kind, 2).launch(plan.runs, two))
    assert {(o.state, o.attempted) for o in again} == {("completed", False)}
