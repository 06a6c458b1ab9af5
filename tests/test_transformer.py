"""Transformers as a model source: per-word activations equal a direct forward pass, batching changes nothing, long
sentences are split, hooks ablate exactly the chosen neurons, perplexity matches the model's own loss.
Only the packaged MiniLM and randomly initialised tiny configs are used (no hub access)."""
import math

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

from lib.methods.probing import ProbeSettings, train_probe
from lib.pipeline.transformer import TransformerNeuronMap, extract, load_transformer, plan_chunks, wrap
from lib.pipeline.transformer_ablation import ablated, perplexity, probe_accuracy, probe_correct, upstream

SENTENCES = [["The", "unbelievably", "tall", "giraffe", "ate", "."], ["Hi", "\u200b", "there"],
             ["Colorless", "green", "ideas", "sleep", "furiously", "tonight", "in", "Reykjavík"], ["Yes"]]


@pytest.fixture(scope="module")
def minilm():
    return load_transformer("minilm", ffn=True, device="cpu")


def tiny_gpt2(tokenizer, positions=64):
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=positions, n_embd=32, n_layer=2, n_head=2)
    return wrap(GPT2LMHeadModel(config), tokenizer, "tiny-gpt2", ffn=True, device="cpu")


def reference(transformer, words, aggregation):
    """Hidden states of every layer per word, from output_hidden_states and a loop over words."""
    encoded = transformer.tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        states = torch.cat(transformer.model(**encoded, output_hidden_states=True).hidden_states, -1)[0].numpy()
    word_ids = np.array([-1 if w is None else w for w in encoded.word_ids()])
    pick = {"first": lambda s: s[0], "last": lambda s: s[-1], "mean": lambda s: s.mean(0)}[aggregation]
    return np.stack([pick(states[word_ids == w]) for w in range(len(words))])


@pytest.mark.parametrize("aggregation", ["first", "last", "mean"])
def test_per_word_activations_equal_a_direct_forward_pass(minilm, aggregation):
    acts = extract(minilm, SENTENCES, aggregation, progress=False)
    assert acts.shape == (sum(map(len, SENTENCES)), minilm.neuron_map.size) == (18, 7 * 384 + 6 * 1536)
    hidden = minilm.neuron_map.n_hidden
    np.testing.assert_allclose(acts[:6, :hidden], reference(minilm, SENTENCES[0], aggregation), atol=1e-4)
    np.testing.assert_allclose(acts[9:17, :hidden], reference(minilm, SENTENCES[2], aggregation), atol=1e-4)


def test_batched_equals_one_sentence_at_a_time(minilm):
    batched = extract(minilm, SENTENCES, progress=False)
    single = np.concatenate([extract(minilm, [s], progress=False) for s in SENTENCES])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    np.testing.assert_allclose(extract(minilm, SENTENCES, batch_size=1, progress=False), batched, atol=1e-4)


def test_zeroing_changes_exactly_the_chosen_neurons_and_what_reads_them(minilm):
    nmap, clean = minilm.neuron_map, extract(minilm, SENTENCES, progress=False)
    zero = nmap.to_id(np.array([2, 2, 2]), np.zeros(3, int), np.array([0, 7, 300]))
    with ablated(minilm, zero):
        hit = extract(minilm, SENTENCES, progress=False)
    assert np.all(hit[:, zero] == 0) and np.any(clean[:, zero] != 0)
    untouched = np.setdiff1d(np.concatenate([nmap.layer_ids(l) for l in range(3)] + [nmap.layer_ids(1, 1),
                                                                                      nmap.layer_ids(2, 1)]), zero)
    np.testing.assert_array_equal(hit[:, untouched], clean[:, untouched])
    assert np.abs(hit[:, nmap.layer_ids(3)] - clean[:, nmap.layer_ids(3)]).max() > 1e-3
    np.testing.assert_array_equal(extract(minilm, SENTENCES, progress=False), clean)  # hooks removed on exit


def test_mean_replacement_and_feed_forward_neurons(minilm):
    nmap, clean = minilm.neuron_map, extract(minilm, SENTENCES, progress=False)
    means = clean.mean(axis=0)
    zero = np.array([nmap.to_id(0, 0, 5), nmap.to_id(4, 1, 11)])
    with ablated(minilm, zero, means):
        hit = extract(minilm, SENTENCES, progress=False)
    np.testing.assert_allclose(hit[:, zero], np.broadcast_to(means[zero], (len(hit), 2)), rtol=1e-6)
    np.testing.assert_array_equal(hit[:, nmap.layer_ids(0)[6:]], clean[:, nmap.layer_ids(0)[6:]])
    with pytest.raises(ValueError, match="one value per neuron"):
        with ablated(minilm, zero, means[:10]):
            pass


def test_long_sentences_are_split_at_word_boundaries_never_truncated(minilm):
    torch.manual_seed(0)
    small = BertModel(BertConfig(vocab_size=minilm.tokenizer.vocab_size, hidden_size=16, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=32, max_position_embeddings=12))
    model = wrap(small, minilm.tokenizer, "tiny-bert", device="cpu")
    assert model.max_tokens == 10
    words = ["word"] * 25
    chunks = plan_chunks(model, [words, ["short"]])
    assert chunks.n_split == 1 and [len(w) for w in chunks.words] == [10, 10, 5, 1]
    acts = extract(model, [words, ["short"]], progress=False)
    np.testing.assert_allclose(acts[20:25], extract(model, [words[:5]], progress=False), atol=1e-5)
    with pytest.raises(ValueError, match="exceeds"):
        plan_chunks(model, [["x" * 60 + "é" * 30]])


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown transformer 'bert-huge'.*minilm.*hf:"):
        load_transformer("bert-huge")


def test_gpt2_perplexity_equals_the_models_own_loss_and_rises_under_ablation(minilm):
    gpt2 = tiny_gpt2(minilm.tokenizer)
    assert gpt2.causal_lm and gpt2.neuron_map == TransformerNeuronMap(3, 32, 128)
    sentence = SENTENCES[2]
    encoded = gpt2.tokenizer(sentence, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        loss = gpt2.model(**encoded, labels=encoded["input_ids"]).loss
    assert perplexity(gpt2, [sentence]) == pytest.approx(math.exp(float(loss)), rel=1e-5)
    clean = perplexity(gpt2, SENTENCES)
    assert perplexity(gpt2, SENTENCES, zero=gpt2.neuron_map.layer_ids(2)) != pytest.approx(clean, rel=1e-3)
    with pytest.raises(ValueError, match="no language-model head"):
        perplexity(minilm, SENTENCES)


def test_gpt2_hidden_states_before_the_final_norm_match_output_hidden_states(minilm):
    gpt2 = tiny_gpt2(minilm.tokenizer)
    acts = extract(gpt2, [SENTENCES[0]], "mean", progress=False)
    ref = reference(gpt2, SENTENCES[0], "mean")
    np.testing.assert_allclose(acts[:, :64], ref[:, :64], atol=1e-5)  # embeddings and block 1 (block 2 has ln_f)


def test_probe_accuracy_of_a_later_layer_falls_when_its_inputs_are_ablated(minilm):
    words = [s for s in SENTENCES for _ in range(3)]
    labels = np.array([str(len(w) > 3) for s in words for w in s])
    acts = extract(minilm, words, progress=False)[:, minilm.neuron_map.layer_ids(6)]
    probe = train_probe(acts, labels, settings=ProbeSettings(epochs=30), progress=False)
    clean = probe_accuracy(minilm, probe, words, labels, layer=6)
    every = upstream(minilm, np.arange(minilm.neuron_map.size), 6)
    assert every.size == 6 * 384 + 6 * 1536 and clean > 0.9
    assert probe_accuracy(minilm, probe, words, labels, layer=6, zero=minilm.neuron_map.layer_ids(5)) < clean


def test_neuron_map_round_trip_and_names():
    nmap = TransformerNeuronMap(layers=3, units=4, ffn_units=5)
    ids = np.arange(nmap.size)
    np.testing.assert_array_equal(nmap.to_id(*nmap.from_id(ids)), ids)
    names = nmap.names()
    assert names[0] == "L0-0" and names[11] == "L2-3" and names[12] == "L1-ffn-0" and names[-1] == "L2-ffn-4"
    with pytest.raises(ValueError, match=r"0\.\.21"):
        nmap.check([22])


def test_get_activations_and_probe_data_take_minilm_and_cache_it(tiny_data_dir, monkeypatch):
    from lib.pipeline import transformer_cache
    from lib.pipeline.extraction import get_activations, probe_data

    first = get_activations("tiny", "minilm", "ud", progress=False)
    assert first.acts.shape == (len(first.words), 7 * 384) and first.neuron_map.names()[384] == "L1-0"
    stamp = (first.folder / "acts.npy").stat().st_mtime_ns
    assert get_activations("tiny", "minilm", "ud", aggregation="first", progress=False).folder != first.folder
    transformer_cache.cached_transformer.cache_clear()
    monkeypatch.setattr(transformer_cache, "load_transformer", lambda *a, **k: pytest.fail("loaded to open a cache"))
    again = get_activations("tiny", "minilm", "ud", progress=False)
    assert again.neuron_map == first.neuron_map
    assert again.folder == first.folder and (again.folder / "acts.npy").stat().st_mtime_ns == stamp
    data = probe_data("tiny", "minilm", "ud", "upos")
    assert data.train[0].shape[1] == 7 * 384 and len(data.train[1]) == len(data.train[0]) > 0


def test_a_local_model_is_identified_by_its_files_so_a_changed_weight_file_is_a_new_cache(tmp_path):
    from lib.pipeline.specs import model_spec
    from lib.pipeline.transformer_cache import folder_identity

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 1000)
    spec = model_spec("tiny", str(tmp_path))
    location, first = folder_identity(spec)
    assert location == str(tmp_path.resolve()) and folder_identity(spec)[1] == first
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 999 + b"\1")
    assert folder_identity(spec)[1] != first
    assert folder_identity(model_spec("tiny", "hf:org/model")) is None  # a hub model is loaded and digested instead
