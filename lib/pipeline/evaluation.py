"""Evaluating trained models, optionally with neurons zeroed: translations, BLEU and perplexity.

BLEU is sacrebleu's corpus BLEU (13a tokenisation) of the detokenised output against the raw references of
Multi30K ``test_2016_flickr``; perplexity is exp of the mean negative log-likelihood per subword piece (eos
included, bos not predicted) on the English side of the same test set.
Used in: 00_data_and_models, 03_ablation_in_the_model (re-exported by lib.pipeline.training).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import sacrebleu
import torch

from lib.pipeline.profiles import Profile, get_profile

BATCH_SIZE = 64


def translate(trained, sentences: Sequence[str], zero: Iterable[int] | None = None, beam: int = 1) -> list[str]:
    """Detokenised translations of ``sentences`` (greedy if ``beam`` is 1), with neurons ``zero`` zeroed.

    An empty or untokenisable sentence translates to "". Sentences are decoded in batches of similar length.
    """
    from lib.pipeline.decoding import beam_search
    from lib.pipeline.training import collate

    if trained.tgt_vocab is None:
        raise ValueError(f"model {trained.name!r} is a language model; translate needs an NMT model")
    model = trained.model.eval()
    zero = None if zero is None else trained.model.neuron_map.check(zero)
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
    from lib.pipeline.corpora import multi30k
    from lib.pipeline.training import parse_name

    p = get_profile(profile)
    if trained.tgt_vocab is None:
        raise ValueError(f"model {trained.name!r} is a language model; BLEU needs an NMT model")
    tgt = parse_name(trained.name)[0][1]
    test = multi30k("test_2016_flickr", ["en", tgt], p)
    return score_bleu(translate(trained, test["en"], zero, beam=p.nmt.beam), test[tgt])


def score_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu corpus BLEU (0-100) of detokenised ``hypotheses`` against one reference each."""
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


@torch.no_grad()
def perplexity(trained, profile: str | Profile, zero: Iterable[int] | None = None) -> float:
    """LM perplexity per subword piece (eos included) on the English side of the test set, neurons ``zero`` off."""
    from lib.pipeline.corpora import multi30k

    p = get_profile(profile)
    return sentence_perplexity(trained, multi30k("test_2016_flickr", ["en"], p)["en"], zero)


@torch.no_grad()
def sentence_perplexity(trained, sentences: Sequence[str], zero: Iterable[int] | None = None) -> float:
    """Perplexity per piece of the LM over ``sentences`` (empty ones skipped)."""
    from lib.pipeline.training import batch_loss, batches, collate

    if trained.tgt_vocab is not None:
        raise ValueError(f"model {trained.name!r} is an NMT model; perplexity needs the language model 'lm'")
    model = trained.model.eval()
    zero = None if zero is None else model.neuron_map.check(zero)
    max_len = trained.config["sizes"]["max_len"]
    examples = [(ids[:max_len],) for ids in trained.src_vocab.encode(list(sentences)) if ids]
    if not examples:
        raise ValueError("perplexity needs at least one non-empty sentence")
    dev = str(next(model.parameters()).device)
    total, count = 0.0, 0
    for idx in batches(examples, BATCH_SIZE, None):
        loss, n = batch_loss(model, collate([examples[i] for i in idx], dev), zero=zero)
        total, count = total + float(loss), count + n
    return math.exp(total / count)
