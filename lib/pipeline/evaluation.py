"""Evaluating trained models, optionally with neurons zeroed: translations, BLEU and perplexity.

BLEU is sacrebleu's corpus BLEU (13a tokenisation) of the detokenised output against the raw references of
Multi30K ``test_2016_flickr``; perplexity is exp of the mean negative log-likelihood per subword piece (eos
included, bos not predicted) on the English side of the same test set.
Used in: 00_data_and_models, 03_ablation_in_the_model.
"""
from __future__ import annotations

import functools
import math
from typing import Iterable, Sequence

import numpy as np
import sacrebleu
import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU

from lib.methods.damage import metric_interval
from lib.methods.intervals import Interval
from lib.pipeline.corpora import multi30k
from lib.pipeline.decoding import beam_search
from lib.pipeline.profiles import Profile, get_profile
from lib.pipeline.subwords import PAD
from lib.pipeline.training import batches, collate

BATCH_SIZE = 256
"""Sentences decoded (or scored) together. Greedy en→fr over the 1,000 test sentences on one thread: 3.4 s in batches
of 64, 2.65 s in 256 (fewer steps of the step-by-step decoder; ``benchmarks/bench_decoding.py``), 4.5 s in 1,000
(longer padding, measured once); 4 of 1,000 translations differ by float rounding (BLEU 28.56 against 28.53), so
ablation points record it in their key."""


def translate(trained, sentences: Sequence[str], zero: Iterable[int] | None = None, beam: int = 1) -> list[str]:
    """Detokenised translations of ``sentences`` (greedy if ``beam`` is 1), with neurons ``zero`` zeroed.

    An empty or untokenisable sentence translates to "". Sentences are decoded in batches of similar length.
    """
    if trained.tgt_vocab is None:
        raise ValueError(f"model {trained.name!r} is a language model; translate needs an NMT model")
    model = trained.model.eval()
    zero = trained.model.neuron_map.ablation(zero)
    max_len = trained.config["sizes"]["max_len"]
    encoded = [ids[:max_len] for ids in trained.src_vocab.encode(list(sentences))]
    out = [""] * len(encoded)
    todo = [i for i, ids in enumerate(encoded) if ids]
    todo.sort(key=lambda i: len(encoded[i]))
    dev = str(next(model.parameters()).device)
    for start in range(0, len(todo), BATCH_SIZE):
        idx = todo[start:start + BATCH_SIZE]
        src, lengths = collate([(encoded[i], []) for i in idx], dev)[:2]
        ids = beam_search(model, src, lengths, beam, max_len, zero)
        for i, text in zip(idx, trained.tgt_vocab.decode(ids)):
            out[i] = text
    return out


def bleu(trained, profile: str | Profile, zero: Iterable[int] | None = None) -> float:
    """Corpus BLEU on the profile's slice of Multi30K test_2016_flickr, beam ``profile.nmt.beam``."""
    return score_bleu(*_test_translations(trained, profile, zero))


def bleu_interval(trained, profile: str | Profile, n_boot: int = 1000, seed: int = 0) -> Interval:
    """:func:`bleu` with its 95 % bootstrap interval over the test sentences (sacrebleu's per-sentence statistics
    resampled, :func:`lib.methods.damage.metric_interval`). Used in: 00_data_and_models."""
    return metric_interval(bleu_statistics(*_test_translations(trained, profile)), "bleu", n_boot, seed)


def _test_translations(trained, profile: str | Profile, zero: Iterable[int] | None = None
                       ) -> tuple[list[str], list[str]]:
    """The beam-search translations of the profile's test slice and their references."""
    p = get_profile(profile)
    if trained.tgt_vocab is None:
        raise ValueError(f"model {trained.name!r} is a language model; BLEU needs an NMT model")
    src, tgt = trained.spec.langs
    test = multi30k("test_2016_flickr", [src, tgt], p)
    return translate(trained, test[src], zero, beam=p.nmt.beam), list(test[tgt])


def perplexity_interval(trained, profile: str | Profile, n_boot: int = 1000, seed: int = 0) -> Interval:
    """:func:`perplexity` with its 95 % bootstrap interval over the test sentences. Used in: 00_data_and_models."""
    p = get_profile(profile)
    stats = nll_statistics(trained, multi30k("test_2016_flickr", ["en"], p)["en"])
    return metric_interval(stats[stats[:, 1] > 0], "perplexity", n_boot, seed)


def score_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu corpus BLEU (0-100) of detokenised ``hypotheses`` against one reference each."""
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


@torch.no_grad()
def perplexity(trained, profile: str | Profile, zero: Iterable[int] | None = None) -> float:
    """LM perplexity per subword piece (eos included) on the English side of the test set, neurons ``zero`` off."""
    p = get_profile(profile)
    return sentence_perplexity(trained, multi30k("test_2016_flickr", ["en"], p)["en"], zero)


@torch.no_grad()
def sentence_perplexity(trained, sentences: Sequence[str], zero: Iterable[int] | None = None) -> float:
    """Perplexity per piece of the LM over ``sentences`` (empty ones skipped)."""
    nll, pieces = nll_statistics(trained, sentences, zero).sum(0)
    return math.exp(nll / pieces)


@torch.no_grad()
def nll_statistics(trained, sentences: Sequence[str], zero: Iterable[int] | None = None) -> np.ndarray:
    """Per sentence, the LM's summed negative log-likelihood of its pieces (eos included) and their number
    [sentences, 2], in the order given, with neurons ``zero`` ablated; an empty sentence gets [0, 0]. Their sums
    give the perplexity; resampling their rows gives its bootstrap. Used in: 03_ablation_in_the_model."""
    if trained.tgt_vocab is not None:
        raise ValueError(f"model {trained.name!r} is an NMT model; perplexity needs a language model")
    model = trained.model.eval()
    zero = model.neuron_map.ablation(zero)
    max_len = trained.config["sizes"]["max_len"]
    encoded = [ids[:max_len] for ids in trained.src_vocab.encode(list(sentences))]
    todo = [i for i, ids in enumerate(encoded) if ids]
    if not todo:
        raise ValueError("perplexity needs at least one non-empty sentence")
    out = np.zeros((len(encoded), 2))
    dev = str(next(model.parameters()).device)
    examples = [(encoded[i],) for i in todo]
    for idx in batches(examples, BATCH_SIZE, None):
        seq, lengths = collate([examples[i] for i in idx], dev)
        target = seq[:, 1:]
        nll = F.cross_entropy(model(seq[:, :-1], lengths, zero).transpose(1, 2), target, ignore_index=PAD,
                              reduction="none")
        out[np.asarray(todo)[idx]] = torch.stack([nll.sum(1), (target != PAD).sum(1)], dim=1).double().cpu().numpy()
    return out


def bleu_statistics(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-sentence sufficient statistics of corpus BLEU [sentences, 10]: hypothesis and reference length, matching
    and total n-grams for n = 1..4 (sacrebleu's own extraction, the one its paired bootstrap resamples); summed over
    sentences they give :func:`score_bleu`. The references are tokenised and counted once per set
    (:func:`_scorer`): an ablation sweep scores the same 1,000 test references at every point. Used in:
    03_ablation_in_the_model."""
    references = tuple(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"bleu_statistics: {len(hypotheses)} hypotheses for {len(references)} references")
    return np.asarray(_scorer(references)._extract_corpus_statistics(list(hypotheses), None), dtype=np.int64)


@functools.lru_cache(maxsize=4)
def _scorer(references: tuple[str, ...]) -> BLEU:
    """A sacrebleu BLEU holding the n-gram counts of ``references`` (one per sentence)."""
    return BLEU(references=[list(references)])
