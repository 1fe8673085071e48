"""The Korean page has no English sentence: every tab, in every state a run can be in (running,
finished, diverged, collapsed, failed for want of data), replayed from saved records. Page text and
figure titles, axes, legends and annotations are read; only names from ALLOWED may stay in English."""

from __future__ import annotations

import copy
import json
import re

import pytest
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest
from test_app import APP, fresh_session  # noqa: F401  (the fixture resets sessions)

from bn_demo.ui import layout
from bn_demo.ui.strings import t
from conftest import saved_record

# Names, units and symbols that are the same in a Korean text (and library or paper names).
ALLOWED = {
    "BatchNorm", "BN", "ReLU", "ReLUs", "Adam", "SGD", "MNIST", "Fashion", "IDX", "JSON", "CSV", "PyTorch",
    "Kaiming", "Ioffe", "Szegedy", "Santurkar", "et", "al", "TensorBoard", "sigmoid", "tanh", "cpu", "cuda",
    "mps", "auto", "log", "cos", "md5", "MB", "KB", "ICS", "pts", "min", "max", "test", "train", "digits",
    "relu", "adam", "sgd", "momentum", "default", "gaussian", "before", "after", "both", "plain", "bn", "en",
    "ko", "mnist", "lr", "seed", "IndexError", "p15", "p50", "p85", "URL", "MLP", "Lab",
}
# Strings that are identifiers, not text a person reads.
SKIP_KEYS = {"id", "key", "formId", "type", "icon", "spec", "config", "mimeType", "url", "fragmentId", "theme",
             "data", "style", "color", "format", "args", "deltaPath", "scriptRunId", "gap", "widthConfig",
             "heightConfig", "cssClass", "language"}
PAGE_TEXT_KEYS = {"body", "label", "text", "help", "options", "caption", "placeholder", "value", "defaultValue",
                  "formattedValue", "title", "description"}
PHRASE = re.compile(r"[A-Za-z][A-Za-z'’]+(?:[ ,:;]+[A-Za-z][A-Za-z'’]+)+")


def english_phrases(text: str) -> list[str]:
    """Runs of two or more English words that are not all allowed names."""
    found = []
    for match in PHRASE.finditer(text):
        words = re.findall(r"[A-Za-z][A-Za-z'’]+", match.group())
        if any(w not in ALLOWED for w in words):
            found.append(match.group())
    return found


def _strings(obj, key=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in SKIP_KEYS:
                yield from _strings(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v, key)
    elif isinstance(obj, str) and key in PAGE_TEXT_KEYS:
        yield obj


def _figure_strings(fig: dict):
    layout_ = fig.get("layout", {})
    yield from _texts(layout_.get("title"))
    for name, axis in layout_.items():
        if name.startswith(("xaxis", "yaxis")):
            yield from _texts(axis.get("title"))
    for annotation in layout_.get("annotations", []):
        yield annotation.get("text", "")
    colorbar = layout_.get("coloraxis", {}).get("colorbar", {})
    yield from _texts(colorbar.get("title"))
    for trace in fig.get("data", []):
        if trace.get("name"):
            yield trace["name"]


def _texts(title):
    if isinstance(title, dict):
        yield title.get("text", "")
    elif isinstance(title, str):
        yield title


def page_strings(at: AppTest) -> list[str]:
    texts = []
    for root in (at.main, at.sidebar):
        for node in _walk(root):
            proto = getattr(node, "proto", None)
            if proto is None:
                continue
            if type(node).__name__ == "PlotlyChart":
                texts += list(_figure_strings(json.loads(proto.spec)))
            else:
                texts += list(_strings(MessageToDict(proto)))
    # Figure text may carry small HTML tags, page text Material icon names: neither is read as words.
    return [re.sub(r"<[^>]+>|:material/[a-z_]+:", " ", t) for t in texts]


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def states() -> dict:
    compare = saved_record("run-compare.json")
    running = copy.deepcopy(compare)
    running["status"] = "running"
    running["progress"].update(eta_seconds=42.0, samples_per_second=1234.0)
    failed = copy.deepcopy(compare)
    failed.update(status="failed", twins={}, dataset=None,
                  error={"code": "data_unavailable", "dataset": "mnist", "problem": "download_failed",
                         "detail": "<urlopen error [Errno -2] Name or service not known>"})
    fallback = copy.deepcopy(compare)
    fallback["fallback"] = failed["error"]
    return {"running": running, "finished": compare, "diverged": saved_record("run-diverged.json"),
            "collapsed": saved_record("run-collapsed.json"), "unavailable": failed, "fallback": fallback}


@pytest.mark.parametrize("state_name", ["running", "finished", "diverged", "collapsed", "unavailable", "fallback"])
def test_every_tab_of_the_korean_page_is_korean(state_name):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "ko"
    at.session_state[layout.REPLAY] = states()[state_name]
    at.run()
    assert not at.exception, at.exception
    texts = page_strings(at)
    assert len(texts) > 20  # the walk reached the page
    charts = set()
    if state_name != "unavailable":
        for tab in layout.TABS:  # the chart tabs draw lazily: open each one
            at.session_state["chart_tab"] = t(f"tab_{tab}", "ko")
            at.run()
            assert not at.exception, at.exception
            texts += page_strings(at)
            charts |= {el.proto.id for el in at.get("plotly_chart")}
        assert len(charts) >= 14  # every chart was drawn
    english = sorted({p for text in texts for p in english_phrases(text)})
    assert not english, f"English on the Korean page ({state_name}): {english}"


def test_the_detector_finds_english_and_spares_names():
    assert english_phrases("학습 스텝 · the held-out split (eval mode)") == ["the held", "out split", "eval mode"]
    assert english_phrases("Adam, SGD와 BatchNorm") == []
    assert english_phrases("이것은 Ioffe & Szegedy 2015의 그림") == []
