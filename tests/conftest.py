"""Shared fixtures: the corpora mirror, a temporary data folder with the corpora, one torch thread."""
import os
from pathlib import Path

import pytest
import torch

from lib.pipeline import corpora
from lib.pipeline.profiles import REPO_ROOT, corpora_dir

SHARED_MIRROR = Path(os.environ.get(corpora.MIRROR_ENV) or REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from more threads, and on a busy 2-core machine extra threads only wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def corpora_root(tmp_path_factory):
    """A session data folder holding every corpus: UD and Multi30K from the mirror, Brown and WordNet from the
    repository's copy when one was fetched already (``make test`` fetches them first), else with npm."""
    if not (SHARED_MIRROR / "multi30k").is_dir():
        pytest.skip(f"no corpora mirror at {SHARED_MIRROR}; set {corpora.MIRROR_ENV}")
    local = corpora_dir()
    root = tmp_path_factory.getbasetemp() / "grains-data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAINS_DATA_DIR", str(root))
        mp.delenv(corpora.MIRROR_ENV, raising=False)
        corpora.ensure_corpus("multi30k", SHARED_MIRROR)
        corpora.ensure_corpus("ud", SHARED_MIRROR)
        corpora.ensure_corpus("brown", local if (local / "brown").is_dir() else SHARED_MIRROR)
        corpora.ensure_corpus("wordnet", local if (local / "wordnet").is_dir() else SHARED_MIRROR)
    return root


@pytest.fixture
def tiny_data_dir(corpora_root, monkeypatch):
    """The session data folder as ``GRAINS_DATA_DIR``: tiny models trained by one test are reused by the next."""
    monkeypatch.setenv("GRAINS_DATA_DIR", str(corpora_root))
    monkeypatch.delenv(corpora.MIRROR_ENV, raising=False)
    return corpora_root
