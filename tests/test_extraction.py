"""Extracted activations equal a direct forward pass, are stored and read back faithfully, and bad input or a
damaged cache is caught. Tiny models are trained once for the module in a temporary data folder."""
import json
import os

import numpy as np
import pytest
import torch

from lib.pipeline import activation_store, extraction
from lib.pipeline.cache import Busy, building
from lib.pipeline.corpora import Sentence, load_corpus
from lib.pipeline.profiles import REPO_ROOT
from lib.pipeline.properties import split_sentences
from lib.pipeline.subwords import BOS
from lib.pipeline.training import load_model
from lib.pipeline.word_pieces import encode_corpus

MIRROR = os.environ.get("GRAINS_DATA_MIRROR") or str(REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A fresh data folder fed from the read-only mirror; one torch thread (tiny models gain nothing from more,
    and on a shared CPU extra threads only wait for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("grains-data")
        mp.setenv("GRAINS_DATA_DIR", str(path))
        mp.setenv("GRAINS_DATA_MIRROR", MIRROR)
        yield path
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(data_dir):
    return {name: load_model("tiny", name, progress=False) for name in ("en-de", "lm")}


@pytest.fixture(scope="module")
def sentences(data_dir):
    return load_corpus("ud", "tiny")


@pytest.fixture(scope="module")
def lm_first_piece(models, sentences):
    return extraction.extract(models["lm"], sentences, aggregation="first", progress=False)


def short_sentences(trained, sentences, n):
    """The first ``n`` sentences that fit the model whole (no splitting), of at least 3 words."""
    max_len = trained.config["sizes"]["max_len"]
    fits = [s for s in sentences if 3 <= len(s.words) and len(trained.src_vocab.encode_words(s.words)[0]) <= max_len]
    return fits[:n]


def reference_activations(trained, words, aggregation):
    """Rows for one sentence taken with forward hooks on each LSTM layer while the model runs as in training
    (LM: bos + pieces through ``forward``; NMT: pieces through ``encode``), then aggregated word by word."""
    model, neuron_map = trained.model, trained.model.neuron_map
    ids, piece_word = trained.src_vocab.encode_words(words)
    captured = []
    hooks = [lstm.register_forward_hook(lambda module, args, out: captured.append(out[0].data))
             for lstm in model.encoder.lstms]
    try:
        with torch.no_grad():
            if trained.tgt_vocab is None:
                model(torch.tensor([[BOS, *ids]]), torch.tensor([len(ids) + 1]))
                captured = [c[1:] for c in captured]
            else:
                model.encode(torch.tensor([ids]), torch.tensor([len(ids)]))
    finally:
        for hook in hooks:
            hook.remove()
    states = np.zeros((len(ids), neuron_map.size), dtype=np.float32)
    units = np.arange(neuron_map.units)
    for layer, out in enumerate(captured):
        for direction in range(neuron_map.directions):
            block = out[:, direction * neuron_map.units:(direction + 1) * neuron_map.units].numpy()
            states[:, neuron_map.to_id(np.full_like(units, layer), np.full_like(units, direction), units)] = block
    piece_word = np.array(piece_word)
    rows = []
    for w in range(len(words)):
        mine = states[piece_word == w]
        rows.append({"last": mine[-1], "first": mine[0], "mean": mine.mean(axis=0)}[aggregation])
    return np.stack(rows)


@pytest.mark.parametrize("aggregation", extraction.AGGREGATIONS)
@pytest.mark.parametrize("name", ["en-de", "lm"])
def test_activations_equal_a_direct_forward_pass_with_hooks(models, sentences, name, aggregation):
    trained = models[name]
    chosen = short_sentences(trained, sentences, 6)
    assert any(len(trained.src_vocab.encode_words(s.words)[0]) > len(s.words) for s in chosen), \
        "the check needs words of several pieces"
    acts = extraction.extract(trained, chosen, aggregation, batch_size=4, progress=False)
    expected = np.concatenate([reference_activations(trained, s.words, aggregation) for s in chosen])
    np.testing.assert_allclose(acts, expected, atol=1e-5)


def test_batching_and_sorting_do_not_change_the_result(models, sentences):
    trained = models["en-de"]
    chosen = sentences[:20]
    batched = extraction.extract(trained, chosen, batch_size=16, progress=False)
    one_at_a_time = np.concatenate([extraction.extract(trained, [s], batch_size=1, progress=False) for s in chosen])
    np.testing.assert_allclose(batched, one_at_a_time, atol=1e-5)


def test_aggregation_picks_last_first_or_mean_piece():
    states = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [5.0, 50.0], [6.0, 60.0]])
    word = torch.tensor([0, 0, 0, 1, 2, 2])
    assert extraction.aggregate(states, word, 3, "last").tolist() == [[3, 30], [4, 40], [6, 60]]
    assert extraction.aggregate(states, word, 3, "first").tolist() == [[1, 10], [4, 40], [5, 50]]
    assert extraction.aggregate(states, word, 3, "mean").tolist() == [[2, 20], [4, 40], [5.5, 55]]
    with pytest.raises(ValueError, match="known|use one of"):
        extraction.aggregate(states, word, 3, "max")


@pytest.mark.parametrize("name", ["en-de", "lm"])
def test_neuron_ids_round_trip_and_name_the_columns(models, name):
    neuron_map = models[name].model.neuron_map
    ids = np.arange(neuron_map.size)
    layer, direction, unit = neuron_map.from_id(ids)
    np.testing.assert_array_equal(neuron_map.to_id(layer, direction, unit), ids)
    names = neuron_map.names()
    assert len(set(names)) == neuron_map.size
    last = neuron_map.to_id(neuron_map.layers - 1, neuron_map.directions - 1, neuron_map.units - 1)
    assert names[last].startswith(f"L{neuron_map.layers}-") and names[last].endswith(f"-{neuron_map.units - 1}")


def test_cached_activations_are_a_memory_map_that_reads_subsets_faithfully(models, sentences):
    activations = extraction.get_activations("tiny", "en-de", "ud", progress=False)
    assert isinstance(activations.acts, np.memmap) and activations.acts.dtype == np.float32
    full = np.array(activations.acts)
    np.testing.assert_array_equal(full, extraction.extract(models["en-de"], sentences, progress=False))
    columns = [3, 0, 17, activations.neuron_map.size - 1]
    np.testing.assert_array_equal(activations.acts[:, columns], full[:, columns])
    rows = activations.rows([5, 2])
    lengths = [len(sentences[i].words) for i in (5, 2)]
    assert list(activations.words[r] for r in rows) == [*sentences[5].words, *sentences[2].words]
    np.testing.assert_array_equal(activations.acts[rows], full[rows])
    per_sentence = extraction.neuron_activations(activations, 17, [5, 2])
    assert [len(a) for a in per_sentence] == lengths
    np.testing.assert_array_equal(np.concatenate(per_sentence), full[rows, 17])


def test_float16_store_holds_the_rounded_values(models):
    float16 = extraction.get_activations("tiny", "lm", "ud", dtype="float16", progress=False)
    float32 = extraction.get_activations("tiny", "lm", "ud", progress=False)
    assert float16.acts.dtype == np.float16
    np.testing.assert_array_equal(float16.acts, np.asarray(float32.acts).astype(np.float16))


def test_unknown_aggregation_or_dtype_is_refused_with_the_known_names(data_dir):
    with pytest.raises(ValueError, match="last, first, mean"):
        extraction.get_activations("tiny", "lm", "ud", aggregation="max")
    with pytest.raises(ValueError, match="float32, float16"):
        extraction.get_activations("tiny", "lm", "ud", dtype="int8")


def test_probe_data_aligns_activations_labels_and_words(models, sentences):
    data = extraction.probe_data("tiny", "en-de", "ud", "upos")
    full = np.array(extraction.get_activations("tiny", "en-de", "ud", progress=False).acts)
    split = split_sentences(len(sentences), "tiny")
    offsets = np.cumsum([0] + [len(s.words) for s in sentences])
    for (acts, labels, words), groups, ids in zip((data.train, data.dev, data.test), data.groups,
                                                  (split.train, split.dev, split.test)):
        assert acts.dtype == np.float32 and len(acts) == len(labels) == len(words) == len(groups) > 0
        assert list(groups) == [i for i in ids for _ in sentences[i].words]
        assert list(words) == [w for i in ids for w in sentences[i].words]
        assert list(labels) == [u for i in ids for u in sentences[i].upos]
        rows = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in ids])
        np.testing.assert_array_equal(acts, full[rows])


def test_properties_of_one_store_share_its_activation_rows_and_other_stores_get_their_own(models, sentences):
    upos, deprel = (extraction.probe_data("tiny", "en-de", "ud", prop) for prop in ("upos", "deprel"))
    assert all(a[0] is b[0] for a, b in zip((upos.train, upos.dev, upos.test), (deprel.train, deprel.dev, deprel.test)))
    assert not np.array_equal(upos.train[1], deprel.train[1])
    other = extraction.probe_data("tiny", "lm", "ud", "upos")
    full = np.array(extraction.get_activations("tiny", "lm", "ud", progress=False).acts)
    offsets = np.cumsum([0] + [len(s.words) for s in sentences])
    train = split_sentences(len(sentences), "tiny").train
    rows = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in train])
    assert other.train[0].shape[1] != upos.train[0].shape[1]  # the LM has one direction, the NMT encoder two
    np.testing.assert_array_equal(other.train[0], full[rows])


def corrupt_by_truncating(folder):
    path = folder / activation_store.ACTS_FILE
    path.write_bytes(path.read_bytes()[:-100])


def corrupt_by_flipping_a_byte(folder):
    path = folder / activation_store.ACTS_FILE
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


def corrupt_by_deleting_the_metadata(folder):
    (folder / activation_store.META_FILE).unlink()


def corrupt_by_editing_the_metadata(folder):
    path = folder / activation_store.META_FILE
    meta = json.loads(path.read_text())
    meta["words"][0] = "changed"
    path.write_text(json.dumps(meta))


def corrupt_by_deleting_the_matrix(folder):
    (folder / activation_store.ACTS_FILE).unlink()


@pytest.mark.parametrize("corrupt", [corrupt_by_truncating, corrupt_by_flipping_a_byte,
                                     corrupt_by_deleting_the_metadata, corrupt_by_editing_the_metadata,
                                     corrupt_by_deleting_the_matrix])
def test_a_damaged_cache_is_rebuilt_not_read(sentences, lm_first_piece, corrupt):
    folder = extraction.get_activations("tiny", "lm", "ud", "first", progress=False).folder
    corrupt(folder)
    with pytest.raises(activation_store.StoreInvalid):
        activation_store.open_store(folder, {})
    rebuilt = extraction.get_activations("tiny", "lm", "ud", "first", progress=False)
    np.testing.assert_array_equal(rebuilt.acts, lm_first_piece)
    assert rebuilt.words[0] == sentences[0].words[0]
    activation_store.open_store(folder, {})



def test_a_store_another_process_is_extracting_is_not_waited_for_when_asked_not_to(sentences, lm_first_piece):
    folder = extraction.get_activations("tiny", "lm", "ud", "first", progress=False).folder
    corrupt_by_deleting_the_matrix(folder)
    with building(folder):  # as if another notebook were extracting it
        with pytest.raises(Busy):
            extraction.get_activations("tiny", "lm", "ud", "first", progress=False, wait=False)
        assert not (folder / activation_store.ACTS_FILE).exists()
    np.testing.assert_array_equal(extraction.get_activations("tiny", "lm", "ud", "first", progress=False).acts,
                                  lm_first_piece)


def test_every_activation_extracts_the_free_models_first_and_waits_for_the_busy_ones_last(monkeypatch):
    calls = []

    def fake(profile, model, corpus, progress=True, wait=True):
        calls.append((model, wait))
        if model == "en-fr" and not wait:
            raise Busy("en-fr")
        return model.upper()

    monkeypatch.setattr(extraction, "get_activations", fake)
    found = extraction.every_activation("tiny", ["en-de", "en-fr", "lm"], "ud", progress=False)
    assert calls == [("en-de", False), ("en-fr", False), ("lm", False), ("en-fr", True)]
    assert list(found.items()) == [("en-de", "EN-DE"), ("en-fr", "EN-FR"), ("lm", "LM")]

def test_store_written_for_another_configuration_is_refused(tmp_path):
    with activation_store.write_store(tmp_path / "s", (3, 2), "float32", {"model": "lm"}) as writer:
        writer.write(np.array([2, 0, 1]), np.arange(6, dtype=np.float32).reshape(3, 2))
    acts, _ = activation_store.open_store(tmp_path / "s", {"model": "lm"})
    assert acts.tolist() == [[2, 3], [4, 5], [0, 1]]
    with pytest.raises(activation_store.StoreInvalid, match="model"):
        activation_store.open_store(tmp_path / "s", {"model": "en-de"})


def test_an_interrupted_build_leaves_no_store(tmp_path):
    with pytest.raises(RuntimeError):
        with activation_store.write_store(tmp_path / "s", (3, 2), "float32", {}) as writer:
            writer.write(np.array([0]), np.zeros((1, 2), dtype=np.float32))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_long_sentences_are_split_at_word_boundaries_or_refused(models):
    trained = models["lm"]
    words = tuple(["the", "cat", "sat", "on", "a", "mat"] * 30)
    long = Sentence(words=words, source="made-up")
    pieces = encode_corpus(trained.src_vocab, [long], max_len=50)
    assert pieces.n_split == 1 and max(len(ids) for ids in pieces.ids) <= 50
    assert pieces.n_words.sum() == len(words) and np.all(np.diff(pieces.first_row) == pieces.n_words[:-1])
    acts = extraction.extract(trained, [long], progress=False)
    assert acts.shape == (len(words), trained.model.neuron_map.size) and np.all(acts.any(axis=1))
    first_chunk = pieces.n_words[0]
    head = extraction.extract(trained, [Sentence(words=words[:first_chunk], source="made-up")], progress=False)
    np.testing.assert_allclose(acts[:first_chunk], head, atol=1e-5)
    with pytest.raises(ValueError, match=r"sentence 1 \(made-up\) has \d+ subword pieces, more than .* max_len 50"):
        extraction.extract(trained, [Sentence(words=("ok",), source="x"), long], long_sentences="refuse",
                           progress=False)


def test_a_word_longer_than_max_len_is_kept_whole(models):
    trained = models["lm"]
    url = "http://example.com/" + "qzxv" * 40
    sentence = Sentence(words=("see", url, "now"), source="made-up")
    pieces = encode_corpus(trained.src_vocab, [sentence], max_len=50)
    assert [int(n) for n in pieces.n_words] == [1, 1, 1] and len(pieces.ids[1]) > 50


def test_a_word_without_pieces_is_an_error_naming_it(models):
    with pytest.raises(ValueError, match=r"sentence 0 \(bad\).*word 1 \(' '\)"):
        extraction.extract(models["lm"], [Sentence(words=("fine", " "), source="bad")], progress=False)


def test_a_corpus_file_given_by_path_is_extracted_and_cached_by_its_content(models, sentences, tmp_path):
    from lib.pipeline.corpora import corpus_id
    path = tmp_path / "en_mine.conllu"
    block = ("1\tDogs\tdog\tNOUN\tNNS\tNumber=Plur\t2\tnsubj\t_\t_\n2\tbark\tbark\tVERB\tVBP\t_\t0\troot\t_\t_\n"
             "3\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_\n\n")
    path.write_text(block * 4)
    activations = extraction.get_activations("tiny", "lm", path, progress=False)
    assert activations.folder.name.startswith(f"lm__{corpus_id(path)}__")
    assert activations.acts.shape == (12, models["lm"].model.neuron_map.size)
    assert list(activations.labels("upos")[:3]) == ["NOUN", "VERB", "PUNCT"]
    assert "sem" in activations.meta["properties"]
    np.testing.assert_array_equal(np.array(activations.acts[:3]), np.array(activations.acts[3:6]))
    path.write_text(block.replace("Dogs\tdog", "Cats\tcat") * 4)
    edited = extraction.get_activations("tiny", "lm", path, progress=False)
    assert edited.folder != activations.folder and edited.words[0] == "Cats"
