"""Words as runs of subword pieces: a corpus encoded for extraction, with long sentences split at word boundaries.

Each word is encoded on its own (``Vocab.encode_words``) so every piece knows its word. A sentence longer than the
model's ``max_len`` pieces (the longest it was trained on) is split, by default, into chunks of whole words of at
most ``max_len`` pieces, each run as its own sequence; every word keeps its row and the number of split sentences is
recorded; a single word longer than ``max_len`` pieces is run whole as a chunk of its own.
``long_sentences="refuse"`` raises instead, naming the sentence. Nothing is ever truncated (NeuroX
truncates silently). Used by: lib.pipeline.extraction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lib.pipeline.corpora import Sentence
from lib.pipeline.subwords import Vocab

LONG_SENTENCES = ("split", "refuse")


@dataclass(frozen=True)
class Pieces:
    """A corpus encoded for extraction: one entry per chunk (a whole sentence unless it was split).

    ``ids[c]`` piece ids of chunk c, ``word[c]`` the word index (within the chunk) of each piece, ``first_row[c]``
    the row of the chunk's first word, ``n_words[c]`` its word count; ``sentence_offsets`` [n_sentences + 1] rows
    where each sentence starts; ``n_split`` how many sentences were split into several chunks; ``max_len`` the
    chunk length aimed at.
    """

    ids: list[np.ndarray]
    word: list[np.ndarray]
    first_row: np.ndarray
    n_words: np.ndarray
    sentence_offsets: np.ndarray
    n_split: int
    max_len: int

    @property
    def n_rows(self) -> int:
        """Number of words, i.e. rows of the activation matrix."""
        return int(self.sentence_offsets[-1])


def encode_corpus(vocab: Vocab, sentences: Sequence[Sentence], max_len: int,
                  long_sentences: str = "split") -> Pieces:
    """Encode every sentence word by word (``Vocab.encode_words``), splitting or refusing those over ``max_len``.

    An empty sentence or a word that encodes to no piece raises a ``ValueError`` naming the sentence index, its
    source and the word.
    """
    if long_sentences not in LONG_SENTENCES:
        raise ValueError(f"long_sentences={long_sentences!r}; use one of {', '.join(LONG_SENTENCES)}")
    ids, word, first_row, n_words, n_split = [], [], [], [], 0
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    for index, sentence in enumerate(sentences):
        where = f"sentence {index} ({getattr(sentence, 'source', '?')})"
        if not sentence.words:
            raise ValueError(f"{where} has no words")
        try:
            piece_ids, piece_word = (np.asarray(a, dtype=np.int64) for a in vocab.encode_words(sentence.words))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        offsets[index + 1] = offsets[index] + len(sentence.words)
        bounds = _chunk_bounds(piece_word, len(sentence.words), max_len, long_sentences, where)
        n_split += len(bounds) > 1
        for start_word, end_word in bounds:
            keep = (piece_word >= start_word) & (piece_word < end_word)
            ids.append(piece_ids[keep])
            word.append(piece_word[keep] - start_word)
            first_row.append(offsets[index] + start_word)
            n_words.append(end_word - start_word)
    return Pieces(ids, word, np.array(first_row, dtype=np.int64), np.array(n_words, dtype=np.int64), offsets,
                  n_split, max_len)


def _chunk_bounds(piece_word: np.ndarray, n_words: int, max_len: int, long_sentences: str,
                  where: str) -> list[tuple[int, int]]:
    """Word ranges [start, end) of chunks of at most ``max_len`` pieces, filled greedily (one step per chunk); a
    single word longer than ``max_len`` pieces (a URL, say) becomes a chunk of its own, whole."""
    if piece_word.size <= max_len:
        return [(0, n_words)]
    if long_sentences == "refuse":
        raise ValueError(f"{where} has {piece_word.size} subword pieces, more than the model's max_len {max_len}; "
                         "shorten or drop it, or extract with long_sentences='split'")
    ends = np.cumsum(np.bincount(piece_word, minlength=n_words))
    bounds, start, done = [], 0, 0
    while start < n_words:
        end = max(int(np.searchsorted(ends, done + max_len, side="right")), start + 1)
        bounds.append((start, end))
        start, done = end, int(ends[end - 1])
    return bounds
