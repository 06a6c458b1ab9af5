"""Subword vocabularies: one sentencepiece unigram model per language, trained on the Multi30K training side.

Every model reads English through the same vocabulary, so all models see identical source pieces and their neurons
can be compared word by word; each target language has its own. Training is deterministic (one thread, no input
sampling, fixed seed), and the model file is cached under ``models_dir(profile)`` keyed by what made it.
Ids 0-3 are the specials ``pad``, ``unk``, ``bos``, ``eos``.
Used in: 00_data_and_models (training), extraction of activations (``encode_words``).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm

from lib.pipeline.artifacts import config_key, write_bytes
from lib.pipeline.profiles import Profile, get_profile, models_dir

PAD, UNK, BOS, EOS = 0, 1, 2, 3


@dataclass(frozen=True)
class Vocab:
    """A trained sentencepiece model with the Grains specials (``pad``=0, ``unk``=1, ``bos``=2, ``eos``=3)."""

    path: Path
    processor: spm.SentencePieceProcessor = field(repr=False, compare=False)

    pad: int = PAD
    unk: int = UNK
    bos: int = BOS
    eos: int = EOS

    @property
    def size(self) -> int:
        """Number of pieces, specials included."""
        return self.processor.get_piece_size()

    def encode(self, sentences: Sequence[str]) -> list[list[int]]:
        """Piece ids of each sentence (no bos/eos); an empty sentence gives an empty list."""
        return self.processor.encode(list(sentences), out_type=int)

    def decode(self, ids: Iterable[Sequence[int]]) -> list[str]:
        """Detokenised text of each id sequence; specials and anything after the first eos are dropped."""
        return [self.processor.decode(_strip(seq, self.eos)) for seq in ids]

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """The piece strings of ``ids`` (for display)."""
        return [self.processor.id_to_piece(int(i)) for i in ids]

    def encode_words(self, words: Sequence[str]) -> tuple[list[int], list[int]]:
        """Encode each word on its own: piece ids and, for each piece, the index of its word.

        Sentencepiece never merges across spaces, so this equals encoding the words joined by spaces, while telling
        exactly which run of pieces belongs to which word. A word that encodes to no piece (empty or whitespace)
        is an error naming it.
        """
        encoded = self.processor.encode(list(words), out_type=int)
        ids: list[int] = []
        word_index: list[int] = []
        for index, (word, word_ids) in enumerate(zip(words, encoded)):
            if not word_ids:
                raise ValueError(f"word {index} ({word!r}) encodes to no subword piece; "
                                 "words must be non-empty and contain a non-space character")
            ids.extend(word_ids)
            word_index.extend([index] * len(word_ids))
        return ids, word_index


def _strip(ids: Sequence[int], eos: int) -> list[int]:
    out = []
    for i in ids:
        i = int(i)
        if i == eos:
            break
        if i > EOS:
            out.append(i)
    return out


def train_vocab(sentences: Sequence[str], size: int, path: str | Path, seed: int) -> Vocab:
    """Train a unigram sentencepiece model of ``size`` pieces on ``sentences`` and write it atomically to ``path``.

    Deterministic: one thread, every sentence used in order, the given ``seed``. ``size`` is an upper bound: a
    small corpus may yield fewer pieces.
    """
    sentences = [s for s in sentences if s.strip()]
    if not sentences:
        raise ValueError(f"cannot train a vocabulary for {path}: no non-empty sentences")
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=size, model_type="unigram",
        character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, hard_vocab_limit=False,
        num_threads=1, shuffle_input_sentence=False, input_sentence_size=0, minloglevel=2)
    write_bytes(path, model.getvalue())
    return load_vocab(path)


def load_vocab(path: str | Path) -> Vocab:
    """Load a sentencepiece model file written by :func:`train_vocab`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sentencepiece model at {path}")
    return Vocab(path=path, processor=spm.SentencePieceProcessor(model_file=str(path)))


def vocab_config(profile: str | Profile, lang: str) -> dict:
    """What determines the vocabulary of ``lang`` in ``profile`` (the cache key)."""
    p = get_profile(profile)
    size = p.nmt.src_vocab if lang == "en" else p.nmt.tgt_vocab
    return {"lang": lang, "size": size, "train_sentences": p.corpora.multi30k_train, "seed": p.seed}


def vocab_for(profile: str | Profile, lang: str) -> Vocab:
    """The cached vocabulary of ``lang`` for ``profile``, trained on its Multi30K training side if missing.

    English is one vocabulary shared by every model of the profile (NMT encoders and the LM).
    """
    from lib.pipeline.corpora import multi30k

    config = vocab_config(profile, lang)
    path = models_dir(profile) / f"spm-{lang}-{config_key(config)}.model"
    if path.is_file():
        return load_vocab(path)
    sentences = multi30k("train", [lang], get_profile(profile))[lang]
    return train_vocab(sentences, config["size"], path, config["seed"])
