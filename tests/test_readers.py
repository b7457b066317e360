"""Data files as users have them: CSV in the dialects spreadsheets write, Parquet, and data.id
turned off. Every file is written byte for byte as the program that makes it would."""

from __future__ import annotations

import codecs
import re
import sys
import traceback
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from alcli.data import DataConfig, load_dataset, read_table
from alcli.data.csv_dialects import (
    UnclearDelimiter,
    decode,
    detect_dialect,
    sep_hint,
    sniff_delimiter,
)
from alcli.data.numbers import parse_numbers
from tests.conftest import read_csv

N = 40
KINDS = ["café", "thé"]  # labels a Western Windows spreadsheet saves in cp1252
IDS = [f"r{i}" for i in range(N)]
#: Two features that separate the classes; a, with two decimals; b, whole.
A = [round(0.25 * i + (3.0 if i % 2 else 0.0), 2) for i in range(N)]
B = [i % 5 for i in range(N)]


def comma(x: float) -> str:
    return f"{x:g}".replace(".", ",")


def lines(rows: list[list[str]], sep: str, end: str = "\r\n") -> str:
    return "".join(sep.join(row) + end for row in rows)


def records(a=comma, label=lambda i: KINDS[i % 2]) -> list[list[str]]:
    return [[IDS[i], a(A[i]), str(B[i]), label(i)] for i in range(N)]


HEADER = ["id", "Länge", "Breite", "Sorte"]

#: (name, file name, bytes, data section besides path): each as a spreadsheet saves it.
DIALECTS = [
    (
        "Excel CSV, German Windows: ';', decimal commas, cp1252",
        "pool.csv",
        lines([HEADER, *records()], ";").encode("cp1252"),
        {"target": "Sorte"},
    ),
    (
        "Excel CSV with its sep= line",
        "pool.csv",
        ("sep=;\r\n" + lines([HEADER, *records()], ";")).encode("cp1252"),
        {"target": "Sorte"},
    ),
    (
        "Excel Unicode text: UTF-16 LE with a byte-order mark, tabs",
        "pool.csv",
        codecs.BOM_UTF16_LE + lines([HEADER, *records()], "\t").encode("utf-16-le"),
        {"target": "Sorte"},
    ),
    (
        "tab-separated .tsv, UTF-8, decimal points",
        "pool.tsv",
        lines([HEADER, *records(a=str)], "\t", "\n").encode("utf-8"),
        {"target": "Sorte"},
    ),
    (
        "Excel CSV UTF-8: a byte-order mark, ',' and decimal points",
        "pool.csv",
        codecs.BOM_UTF8 + lines([HEADER, *records(a=str)], ",").encode("utf-8"),
        {"target": "Sorte"},
    ),
    (
        "'|'-separated, thousands points and decimal commas",
        "pool.csv",
        lines([HEADER, *records(a=lambda x: comma(x + 1000).replace("1", "1.", 1))], "|").encode(
            "utf-8"
        ),
        {"target": "Sorte"},
    ),
]


def data_config(tmp_path: Path, name: str, **data) -> Path:
    """An experiment on tmp_path/name, small enough to run in a moment."""
    config = {
        "name": "readers",
        "seed": 0,
        "data": {"path": name, "test_size": 0.25, **data},
        "model": {
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 300},
        },
        "init": {"method": "random", "size": 6},
        "strategy": {"name": "margin"},
        "loop_size": {"schedule": "constant", "size": 4},
        "stop": {"max_loops": 2},
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")
    return path


@pytest.mark.parametrize("name, file, content, data", DIALECTS, ids=[d[0] for d in DIALECTS])
def test_each_spreadsheet_dialect_reads_the_same_records(tmp_path, cli, name, file, content, data):
    (tmp_path / file).write_bytes(content)
    shift = 1000.0 if "thousands" in name else 0.0

    table = read_table(tmp_path / file, DataConfig(path=tmp_path / file, **data))

    assert table.feature_names == ["Länge", "Breite"]
    np.testing.assert_array_equal(table.X, np.column_stack([np.add(A, shift), B]))
    assert table.ids.tolist() == IDS
    assert table.labels.tolist() == [KINDS[i % 2] for i in range(N)]
    result = cli("validate", data_config(tmp_path, file, **data))
    assert result.exit_code == 0, result.output
    assert "valid. 30 pool records, 10 test" in result.output


def test_a_cp1252_csv_with_decimal_commas_runs_and_keeps_its_accented_labels(tmp_path, cli):
    (tmp_path / "pool.csv").write_bytes(DIALECTS[0][2])
    run_dir = tmp_path / "run"

    result = cli("run", data_config(tmp_path, "pool.csv", target="Sorte"), "--run-dir", run_dir)

    assert result.exit_code == 0, result.output
    labels = read_csv(run_dir / "loops" / "0000" / "labels.csv")
    assert {row["label"] for row in labels} == set(KINDS)
    assert {row["id"] for row in labels} <= set(IDS)


def test_text_with_commas_stays_intact_beside_decimal_commas(tmp_path):
    # A ;-file from a spreadsheet whose ids and labels are text holding commas: only the
    # column of numbers written with decimal commas is converted.
    rows = [
        [f"Smith, J. {i}", comma(A[i]), "1,5" if i == 0 else "2", ["red, dark", "blue"][i % 2]]
        for i in range(N)
    ]
    path = tmp_path / "pool.csv"
    path.write_bytes(lines([["who", "x", "note", "colour"], *rows], ";").encode("cp1252"))
    cfg = DataConfig(path=path, target="colour", id="who", features=["x"])

    data = load_dataset(cfg, seed=0)

    assert set(data.ids.tolist()) | set(data.ids_test.tolist()) == {r[0] for r in rows}
    assert data.classes.tolist() == ["blue", "red, dark"]
    table = read_table(path, cfg)
    np.testing.assert_array_equal(table.X[:, 0], A)
    # The "note" column (one decimal comma, the rest whole) is numbers with decimal commas.
    note = read_table(path, DataConfig(path=path, target="colour", id="who", features=["note"]))
    assert note.X[:2, 0].tolist() == [1.5, 2.0]


@pytest.mark.parametrize(
    "cells, expected",
    [
        (["1,5", "2", "", "-0,25"], [1.5, 2.0, np.nan, -0.25]),
        (["1.234,5", "1.000", "12,75"], [1234.5, 1000.0, 12.75]),
        (["1,5E-03", "2,0"], [0.0015, 2.0]),
        (["1.5", "2", "1e3"], [1.5, 2.0, 1000.0]),
        (["0,125", "1,250"], [0.125, 1.25]),  # "0,125" is no thousands grouping
    ],
)
def test_how_a_column_of_numbers_is_read(cells, expected):
    np.testing.assert_array_equal(parse_numbers(cells), expected)


def test_what_the_dialect_detection_guesses(tmp_path):
    assert decode("café".encode("cp1252")) == "café"
    assert decode(codecs.BOM_UTF8 + "thé".encode()) == "thé"
    assert decode("thé".encode("utf-16")) == "thé"
    assert decode(b"\x81") is None and decode(b"a\x00b") is None
    assert sep_hint("sep=;\r\n") == ";" and sep_hint("sep=\t\n") == "\t"
    assert sep_hint("id;sep=;") is None
    assert sniff_delimiter(["a;b\n", "1,5;2\n"], complete=True) == ";"
    assert sniff_delimiter(["text,x\n", '"a; b",1\n', '"c; d",2\n'], complete=True) == ","
    # A record cut off at the end of the sample does not count against a separator.
    assert sniff_delimiter(["a;b\n", "1;2\n", "3"], complete=False) == ";"
    with pytest.raises(UnclearDelimiter) as unclear:
        sniff_delimiter(["a,b;c\n", "1,2;3\n"], complete=True)
    assert list(unclear.value.fits) == [",", ";"]
    path = tmp_path / "x.csv"
    path.write_bytes("x;y\n".encode("cp1252") + "é;1\n".encode("cp1252"))
    dialect = detect_dialect(path)
    assert (dialect.encoding, dialect.delimiter, dialect.skip_lines) == ("cp1252", ";", 0)


# --- Parquet -------------------------------------------------------------------------------


def write_parquet(path: Path, columns: dict[str, pa.Array | list]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def parquet_pool(path: Path, **changes) -> Path:
    columns = {
        "id": [f"p{i}" for i in range(N)],
        "a": pa.array(A, pa.float32()),
        "b": pa.array(B, pa.int64()),
        "kind": pa.array([KINDS[i % 2] for i in range(N)]).dictionary_encode(),
    }
    columns.update(changes)
    return write_parquet(path, {k: v for k, v in columns.items() if v is not None})


def test_parquet_reads_as_a_csv_with_the_same_columns_would(tmp_path):
    path = parquet_pool(tmp_path / "pool.parquet")
    csv_path = tmp_path / "pool.csv"
    csv_path.write_text(
        lines(
            [
                ["id", "a", "b", "kind"],
                *[[f"p{i}", str(np.float32(A[i])), str(B[i]), KINDS[i % 2]] for i in range(N)],
            ],
            ",",
        )
    )

    table = read_table(path, DataConfig(path=path, target="kind"))
    from_csv = read_table(csv_path, DataConfig(path=csv_path, target="kind"))

    assert table.feature_names == from_csv.feature_names == ["a", "b"]
    np.testing.assert_allclose(table.X, from_csv.X, rtol=1e-7)
    assert table.labels.tolist() == from_csv.labels.tolist()
    assert table.ids.tolist() == from_csv.ids.tolist()


def test_parquet_nulls_are_missing_values_and_labels(tmp_path):
    a = pa.array([None if i == 3 else x for i, x in enumerate(A)], pa.float64())
    b = pa.array([None if i == 5 else x for i, x in enumerate(B)], pa.int32())
    kind = pa.array([None if i == 7 else KINDS[i % 2] for i in range(N)])
    path = parquet_pool(tmp_path / "pool.parquet", a=a, b=b, kind=kind)

    table = read_table(path, DataConfig(path=path, target="kind"))

    assert np.isnan(table.X[3, 0]) and np.isnan(table.X[5, 1])
    assert np.flatnonzero(~table.has_label).tolist() == [7]


def test_parquet_integer_labels_and_ids_with_a_null_label(tmp_path):
    labels = pa.array([None if i == 7 else i % 2 for i in range(N)], pa.float64())
    path = parquet_pool(tmp_path / "pool.parquet", id=list(range(100, 100 + N)), kind=labels)

    table = read_table(path, DataConfig(path=path, target="kind"))

    assert table.labels.dtype.kind == "i" and set(table.labels[table.has_label]) == {0, 1}
    assert table.ids[:2].tolist() == ["100", "101"]
    assert not table.has_label[7]


def test_parquet_pool_and_test_file_run(tmp_path, cli):
    parquet_pool(tmp_path / "pool.parquet")
    test = {
        "id": [f"t{i}" for i in range(8)],
        "a": pa.array(A[:8], pa.float32()),
        "b": B[:8],
        "kind": [KINDS[i % 2] for i in range(8)],
    }
    write_parquet(tmp_path / "test.parquet", test)
    config = data_config(tmp_path, "pool.parquet", target="kind", test_path="test.parquet")
    config.write_text(config.read_text().replace("  test_size: 0.25\n", ""))
    run_dir = tmp_path / "run"

    result = cli("run", config, "--run-dir", run_dir, "--quiet")

    assert result.exit_code == 0, result.output
    labels = read_csv(run_dir / "loops" / "0000" / "labels.csv")
    assert {row["label"] for row in labels} == set(KINDS)
    assert all(row["id"].startswith("p") for row in labels)


def test_a_pandas_index_column_is_not_a_feature(tmp_path):
    path = parquet_pool(tmp_path / "pool.parquet", __index_level_0__=list(range(N)))
    table = read_table(path, DataConfig(path=path, target="kind"))
    assert table.feature_names == ["a", "b"]


def test_without_pyarrow_a_parquet_path_says_what_to_install(tmp_path, cli, monkeypatch):
    parquet_pool(tmp_path / "pool.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)

    result = cli("validate", data_config(tmp_path, "pool.parquet", target="kind"))

    assert result.exit_code == 2, result.output
    assert "pip install 'alcli[parquet]'" in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr


# --- data.id ----------------------------------------------------------------------------------


def repeated_ids_csv(path: Path) -> Path:
    # A column named id that is no record id: visits of the same patients.
    rows = [[str(i % 10), str(A[i]), str(B[i]), KINDS[i % 2]] for i in range(N)]
    path.write_text(lines([["id", "a", "b", "kind"], *rows], ","), encoding="utf-8")
    return path


def test_data_id_false_numbers_the_rows_and_leaves_the_id_column_out(tmp_path, cli):
    repeated_ids_csv(tmp_path / "visits.csv")

    refused = cli("validate", data_config(tmp_path, "visits.csv", target="kind"))
    assert refused.exit_code == 2
    assert "ids must be unique" in refused.stderr and "data.id: false" in refused.stderr

    config = data_config(tmp_path, "visits.csv", target="kind", id=False)
    run_dir = tmp_path / "run"
    result = cli("run", config, "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    frozen = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert frozen["data"]["id"] is False
    labels = read_csv(run_dir / "loops" / "0000" / "labels.csv")
    assert all(0 <= int(row["id"]) < N for row in labels), "ids are row numbers"

    cfg = DataConfig(path=tmp_path / "visits.csv", target="kind", id=False)
    table = read_table(cfg.path, cfg)
    assert table.feature_names == ["a", "b"] and table.ids.tolist() == list(range(N))
    opted_in = cfg.model_copy(update={"features": ["id", "a"]})
    assert read_table(cfg.path, opted_in).feature_names == ["id", "a"]


def test_data_id_null_or_left_out_keeps_a_column_named_id(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_bytes(DIALECTS[0][2])
    for cfg in (
        DataConfig(path=path, target="Sorte"),
        DataConfig(path=path, target="Sorte", id=None),
    ):
        assert read_table(path, cfg).ids.tolist() == IDS
    off = read_table(path, DataConfig(path=path, target="Sorte", id=False))
    assert off.ids.tolist() == list(range(N))


def test_people_are_shown_records_of_a_dialect_csv(tmp_path):
    from alcli.data import RecordSource

    path = tmp_path / "pool.csv"
    path.write_bytes(DIALECTS[1][2])  # sep= line, ';', cp1252
    cfg = DataConfig(path=path, target="Sorte", test_size=0)
    header, rows = RecordSource(cfg, load_dataset(cfg, 0)).fields(np.array([1, 0]))
    assert header == HEADER and rows[0] == records()[1]
    off = DataConfig(path=path, target="Sorte", test_size=0, id=False)
    _, rows = RecordSource(off, load_dataset(off, 0)).fields(np.array([2]))
    assert rows[0] == records()[2]


# --- bad input: one clear message, exit 2, nothing written -----------------------------------

COLUMNS = ["id", "a", "b", "kind"]
TEXT = lines([COLUMNS, *[[IDS[i], str(A[i]), str(B[i]), KINDS[i % 2]] for i in range(N)]], ",")


def semi_with(b: list[str]) -> str:
    """A ;-file with decimal commas in column a and ``b`` as column b."""
    return lines([COLUMNS, *[[IDS[i], comma(A[i]), b[i], KINDS[i % 2]] for i in range(N)]], ";")


def parquet_bytes(tmp_path: Path, **changes) -> bytes:
    return parquet_pool(tmp_path / "made.parquet", **changes).read_bytes()


BAD = [
    # (name, file name, content: bytes or a function of tmp_path, data section, pattern)
    (
        "bytes that are neither UTF-8 nor cp1252",
        "pool.csv",
        TEXT.replace("r2,", "r\x812,").encode("latin-1"),
        {},
        r"pool\.csv: cannot be read as CSV: line 4 holds bytes that are not text in utf-8 or "
        r"cp1252 \(Windows-1252\).*; save it as CSV UTF-8 from your spreadsheet \(Excel: File",
    ),
    (
        "a UTF-16 byte-order mark on bytes that are not UTF-16",
        "pool.csv",
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le")[:-1],
        {},
        r"starts with a UTF-16 byte-order mark but is not UTF-16 text; save it as CSV UTF-8",
    ),
    (
        "UTF-16 without its byte-order mark",
        "pool.csv",
        TEXT.encode("utf-16-le"),
        {},
        r"cannot be read as CSV: line 1 holds a NUL character, so it is a binary file, or "
        r"UTF-16 text without the byte-order mark Excel writes; save it as CSV UTF-8",
    ),
    (
        "a workbook saved as .csv",
        "pool.csv",
        b"PK\x03\x04\x14\x00\x06\x00rest-of-the-zip",
        {},
        r"pool\.csv: is a spreadsheet workbook .*save it as CSV UTF-8",
    ),
    (
        "two separators fit",
        "pool.csv",
        lines(
            [["id", "a;kind"], *[[IDS[i], f"{B[i]};{KINDS[i % 2]}"] for i in range(N)]], ","
        ).encode(),
        {},
        r"cannot tell which character separates the columns: ',' gives 2 columns \(id, "
        r"a;kind\); ';' gives 2 columns \(id,a, kind\)\. Add a first line that names it, as "
        r"Excel does \(sep=, or sep=;\), or save it as CSV UTF-8",
    ),
    (
        "commas that could be thousands separators",
        "pool.csv",
        semi_with([f"{1 + i % 3},{250 + i:03d}" for i in range(N)]).encode(),
        {},
        r"pool\.csv, line 2, column 'b': '1,250' could be 1\.250 \(a decimal comma\) or 1250 "
        r"\(a thousands separator\)",
    ),
    (
        "thousands commas and a decimal point",
        "pool.csv",
        semi_with(["1,234.5"] * N).encode(),
        {},
        r"line 2, column 'b': '1,234\.5' is not a number \(it has thousands separators; format",
    ),
    (
        "decimal points and commas in one column",
        "pool.csv",
        semi_with(["2.5" if i else "1,5" for i in range(N)]).encode(),
        {},
        r"line 2, column 'b': '1,5' is not a number \(a decimal comma, in a column whose other "
        r"cells are written differently",
    ),
    (
        "text among numbers with decimal commas",
        "pool.csv",
        semi_with(["n/a" if i == 4 else "1,5" for i in range(N)]).encode(),
        {},
        r"pool\.csv, line 6, column 'b': 'n/a' is not a number; feature columns must be numeric",
    ),
    (
        "a CSV renamed .parquet",
        "pool.parquet",
        TEXT.encode(),
        {},
        r"pool\.parquet: is not a Parquet file \(it lacks Parquet's 'PAR1' marks\)",
    ),
    (
        "a damaged Parquet file",
        "pool.parquet",
        b"PAR1" + b"\x00" * 64 + b"PAR1",
        {},
        r"pool\.parquet: cannot be read as Parquet: .*\(the file may be damaged or cut short\)$",
    ),
    (
        "Parquet without the target column",
        "pool.parquet",
        lambda tmp: parquet_bytes(tmp),
        {"target": "label"},
        r"pool\.parquet: no 'label' column \(data\.target\)\. Columns: id, a, b, kind",
    ),
    (
        "Parquet with repeated ids",
        "pool.parquet",
        lambda tmp: parquet_bytes(tmp, id=[f"p{i % 5}" for i in range(N)]),
        {},
        r"pool\.parquet: ids must be unique; repeated: p0, p1, p2, p3, p4; or set data\.id: "
        r"false",
    ),
    (
        "Parquet with a text feature",
        "pool.parquet",
        lambda tmp: parquet_bytes(tmp, b=[str(x) if i != 2 else "abc" for i, x in enumerate(B)]),
        {},
        r"pool\.parquet, row 2, column 'b': 'abc' is not a number; feature columns must be "
        r"numeric",
    ),
    (
        "Parquet labels that are not whole numbers",
        "pool.parquet",
        lambda tmp: parquet_bytes(tmp, kind=[i / 3 for i in range(N)]),
        {},
        r"column 'kind' holds numbers that are not whole .*alcli needs class labels",
    ),
    (
        "Parquet with a list column as a feature",
        "pool.parquet",
        lambda tmp: parquet_bytes(tmp, b=[[i, i] for i in range(N)]),
        {},
        r"pool\.parquet: column 'b' holds list<.*> values, which alcli cannot read; leave it "
        r"out of data\.features",
    ),
    (
        "data.id: true",
        "pool.csv",
        TEXT.encode(),
        {"id": True},
        r"data\.id .*true names no column; give the id column's name, or false",
    ),
    (
        "a spreadsheet's Unicode text .txt",
        "pool.txt",
        TEXT.encode("utf-16"),
        {},
        r"unsupported file type '\.txt'.*rename it to \.csv",
    ),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name, file, content, data, pattern", BAD, ids=[b[0] for b in BAD])
def test_a_file_that_cannot_be_read_is_refused_clearly(
    tmp_path, cli, monkeypatch, command, name, file, content, data, pattern
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / file).write_bytes(content(tmp_path) if callable(content) else content)
    config = data_config(tmp_path, file, **{"target": "kind", **data})
    runs = tmp_path / "runs"
    args = ["--run-dir", runs / "x"] if command == "run" else []

    result = cli(command, config, *args)

    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    shown = f"exit {result.exit_code}\nstderr:\n{result.stderr}\n" + (
        "".join(traceback.format_exception(*result.exc_info)) if crashed else ""
    )
    assert result.exit_code == 2, shown
    assert result.stderr.startswith("error: "), shown
    assert re.search(pattern, result.stderr), shown
    assert result.stderr.strip().count("\n") == 0 or "problem" in result.stderr, shown
    assert not runs.exists(), f"a run directory was written\n{shown}"
