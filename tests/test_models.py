"""Models: the neuron map, zeroing neurons inside the running model, fused vs step-by-step parity, decoding."""
import numpy as np
import pytest
import torch

from lib.pipeline.decoding import beam_search, greedy
from lib.methods.neurons import Ablation, NeuronMap
from lib.pipeline.models import LM, NMT

UNITS = 5


@pytest.fixture
def nmt():
    torch.manual_seed(0)
    return NMT(src_vocab=30, tgt_vocab=40, emb=6, hidden=UNITS, layers=2, dropout=0.0).eval()


@pytest.fixture
def lm():
    torch.manual_seed(0)
    return LM(vocab=30, emb=6, hidden=UNITS, layers=2, dropout=0.0).eval()


@pytest.fixture
def batch():
    torch.manual_seed(1)
    lengths = torch.tensor([6, 2, 4])
    src = torch.randint(4, 30, (3, 6))
    src[torch.arange(6)[None, :] >= lengths[:, None]] = 0
    return src, lengths


def reference_states(model, src, lengths, zero, values=None):
    """Per sentence, per layer, per direction: the LSTM equations written out one time step at a time, with the
    neurons ``zero`` outputting 0 (or ``values``)."""
    stack, nmap = model.encoder, model.neuron_map
    keep, fill = torch.ones(nmap.size), torch.zeros(nmap.size)
    keep[list(zero)] = 0
    if values is not None:
        fill[list(zero)] = torch.as_tensor(values, dtype=torch.float32)
    keep = keep.view(nmap.layers, nmap.directions, nmap.units)
    fill = fill.view(nmap.layers, nmap.directions, nmap.units)
    rows = []
    for sentence, length in zip(src, lengths.tolist()):
        x = stack.embed(sentence[:length])
        layers = []
        for layer, lstm in enumerate(stack.lstms):
            outs = []
            for direction, suffix in enumerate(["", "_reverse"][:nmap.directions]):
                w_ih, w_hh = getattr(lstm, f"weight_ih_l0{suffix}"), getattr(lstm, f"weight_hh_l0{suffix}")
                b = getattr(lstm, f"bias_ih_l0{suffix}") + getattr(lstm, f"bias_hh_l0{suffix}")
                h, c = torch.zeros(nmap.units), torch.zeros(nmap.units)
                out = [None] * length
                steps = range(length) if direction == 0 else reversed(range(length))
                for t in steps:
                    i, f, g, o = (w_ih @ x[t] + w_hh @ h + b).chunk(4)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c) * keep[layer, direction] + fill[layer, direction]
                    out[t] = h
                outs.append(torch.stack(out))
            x = torch.cat(outs, dim=-1)
            layers.append(x)
        rows.append(torch.cat(layers, dim=-1))
    return rows


def test_neuron_map_ids_round_trip_and_names():
    nmap = NeuronMap(layers=2, directions=2, units=3)
    ids = np.arange(nmap.size)
    layer, direction, unit = nmap.from_id(ids)
    assert np.array_equal(nmap.to_id(layer, direction, unit), ids)
    assert nmap.to_id(1, 0, 2) == 8
    assert nmap.names()[:4] == ["L1-fwd-0", "L1-fwd-1", "L1-fwd-2", "L1-bwd-0"]
    assert NeuronMap(2, 1, 3).names()[3] == "L2-0"


def test_neuron_map_range_errors():
    nmap = NeuronMap(layers=2, directions=2, units=3)
    with pytest.raises(ValueError, match=r"0\.\.11"):
        nmap.from_id([3, 12])
    with pytest.raises(ValueError, match=r"valid units are 0\.\.2"):
        nmap.to_id(0, 0, 3)


@pytest.mark.parametrize("kind", ["nmt", "lm"])
def test_out_of_range_neuron_id_names_the_valid_range(kind, nmt, lm, batch):
    model = nmt if kind == "nmt" else lm
    with pytest.raises(ValueError, match=rf"0\.\.{model.neuron_map.size - 1}"):
        model.states(*batch, zero=[model.neuron_map.size])


@pytest.mark.parametrize("kind", ["nmt", "lm"])
def test_masked_path_equals_the_reference_step_by_step_computation(kind, nmt, lm, batch):
    model = nmt if kind == "nmt" else lm
    src, lengths = batch
    zero = [0, 3, UNITS + 1, model.neuron_map.size - 1]
    with torch.no_grad():
        states = model.states(src, lengths, zero=zero)
        if kind == "lm":
            inp = torch.nn.functional.pad(src, (1, 0), value=2)
            expected = [r[1:] for r in reference_states(model, inp, lengths + 1, zero)]
        else:
            expected = reference_states(model, src, lengths, zero)
    for row, (ref, length) in enumerate(zip(expected, lengths.tolist())):
        torch.testing.assert_close(states[row, :length], ref, rtol=1e-5, atol=1e-6)
        assert torch.all(states[row, length:] == 0)


@pytest.mark.parametrize("kind", ["nmt", "lm"])
def test_masked_units_are_exactly_zero_at_every_step_and_change_the_layer_above(kind, nmt, lm, batch):
    model = nmt if kind == "nmt" else lm
    nmap = model.neuron_map
    zero = nmap.to_id(np.array([0, 0]), np.array([0, nmap.directions - 1]), np.array([1, 2]))
    with torch.no_grad():
        plain = model.states(*batch)
        masked = model.states(*batch, zero=zero)
    assert torch.all(masked[..., zero] == 0)
    assert torch.all(plain[..., zero].abs().sum(dim=1) > 0)
    layer2 = slice(nmap.directions * nmap.units, nmap.size)
    assert not torch.allclose(plain[..., layer2], masked[..., layer2])


@pytest.mark.parametrize("kind", ["nmt", "lm"])
def test_mean_ablation_holds_the_neurons_at_their_values_like_the_reference(kind, nmt, lm, batch):
    model = nmt if kind == "nmt" else lm
    nmap = model.neuron_map
    zero = nmap.to_id(np.array([0, 1]), np.array([nmap.directions - 1, 0]), np.array([1, 3]))
    values = np.array([0.3, -0.2], dtype=np.float32)
    src, lengths = batch
    with torch.no_grad():
        states = model.states(src, lengths, zero=Ablation(zero, values))
        zeroed = model.states(src, lengths, zero=zero)
        expected = reference_states(model, src, lengths, zero, values) if kind == "nmt" else None
    for row, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(states[row, :length][:, zero], torch.as_tensor(values).expand(length, 2))
        if expected is not None:
            torch.testing.assert_close(states[row, :length], expected[row], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(states[..., nmap.directions * nmap.units:], zeroed[..., nmap.directions * nmap.units:])
    with pytest.raises(ValueError, match="one value per neuron"):
        Ablation(zero, values[:1])


@pytest.mark.parametrize("kind", ["nmt", "lm"])
def test_empty_mask_equals_the_fused_path(kind, nmt, lm, batch):
    model = nmt if kind == "nmt" else lm
    with torch.no_grad():
        torch.testing.assert_close(model.states(*batch, zero=[]), model.states(*batch), rtol=1e-5, atol=1e-6)


def test_empty_mask_gives_the_same_decoder_output(nmt, batch):
    tgt = torch.randint(4, 40, (3, 5))
    with torch.no_grad():
        torch.testing.assert_close(nmt(*batch, tgt, zero=[]), nmt(*batch, tgt), rtol=1e-5, atol=1e-5)


def test_attention_and_decoder_init_read_the_zeroed_states(nmt, batch):
    nmap = nmt.neuron_map
    top = nmap.to_id(np.ones(2 * UNITS, int), np.repeat([0, 1], UNITS), np.tile(np.arange(UNITS), 2))
    with torch.no_grad():
        memory, (h0, _) = nmt.encode(*batch, zero=top)
        plain_memory, _ = nmt.encode(*batch)
    assert torch.all(memory.values == 0) and torch.all(memory.keys == 0)
    assert not torch.all(plain_memory.values == 0)
    finals_zeroed = torch.zeros(3, 2 * UNITS)
    torch.testing.assert_close(h0[1], torch.tanh(nmt.bridge(finals_zeroed)))


def test_beam_of_one_is_greedy_and_beam_search_returns_one_output_per_sentence(nmt, batch):
    assert beam_search(nmt, *batch, beam=1, max_len=8) == greedy(nmt, *batch, max_len=8)
    out = beam_search(nmt, *batch, beam=3, max_len=8)
    assert len(out) == 3 and all(len(ids) <= 8 and all(3 < i < 40 for i in ids) for ids in out)
