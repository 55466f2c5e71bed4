"""Character corpora: finding input files, reading them as text, and the vocabulary.

Text is read as UTF-8 with universal newlines (``\\r\\n`` and ``\\r`` become ``\\n``) and
every non-empty file ends with a newline (one is added if missing): exactly the characters
a line-by-line reader such as Hadoop Streaming sees, so the vocabulary job
(:mod:`jobs.mr.char_count`) and the encoder below count the same characters.

The vocabulary is a list of symbols sorted by code point; a symbol's index is its token id.
With a size cap, the most frequent characters are kept (ties broken by code point) and the
rest map to :data:`UNKNOWN`.
"""
import glob
import os

import numpy as np

UNKNOWN = "\ufffd"  # the Unicode replacement character stands for every dropped character


class CorpusError(ValueError):
    """An input file is missing, unreadable as text, or the corpus cannot make a vocabulary."""


def expand_inputs(inputs):
    """Files named by ``inputs`` (files, directories, globs), sorted within each argument.

    Directories give the regular files directly inside them (hidden files skipped). A file
    named twice (also by another path, e.g. ``a.txt ./a.txt``) is read once. Standard input
    (``-``), devices and pipes are refused: every input is read more than once.
    """
    files, seen = [], set()
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(os.path.join(item, name) for name in os.listdir(item)
                           if not name.startswith(".") and os.path.isfile(os.path.join(item, name)))
        elif os.path.isfile(item):
            found = [item]
        elif item == "-" or os.path.exists(item):
            raise CorpusError(f"{item}: not a regular file (standard input, pipes and devices "
                              "are not supported: save the data to a file first)")
        else:
            found = sorted(path for path in glob.glob(item) if os.path.isfile(path))
            if not found:
                raise CorpusError(f"{item}: no such file, directory or matching glob")
        for path in found:
            if os.path.realpath(path) not in seen:
                seen.add(os.path.realpath(path))
                files.append(path)
    if not files:
        raise CorpusError(f"no input files in {' '.join(inputs)}")
    return files


def normalize_text(text):
    """Universal newlines, and a final newline on non-empty text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text + "\n" if text and not text.endswith("\n") else text


def decode_text(data, name):
    """Decode bytes as UTF-8 text (see normalize_text); name the byte offset of bad bytes."""
    try:
        return normalize_text(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CorpusError(f"{name}: not UTF-8 text: byte 0x{data[e.start]:02x} at offset "
                          f"{e.start} ({e.reason})") from None


def read_text(path):
    with open(path, "rb") as f:
        return decode_text(f.read(), path)


def build_vocab(counts, max_vocab=None):
    """The vocabulary from character counts.

    counts: {char: n} over the corpus. Returns (vocab, vocab_counts): symbols sorted by code
    point, and for each the number of corpus characters it stands for (the unknown symbol
    sums every dropped character).
    """
    counts = {char: int(n) for char, n in counts.items() if n > 0}
    if max_vocab is not None and max_vocab < 2:
        raise CorpusError(f"--max-vocab must be at least 2, got {max_vocab}")
    if len(counts) < 2:
        only = ", ".join(repr(c) for c in counts) or "none"
        raise CorpusError(f"the corpus has {len(counts)} distinct character(s) ({only}): "
                          "a character model needs at least 2")
    kept = dict(counts)
    if max_vocab is not None and len(counts) > max_vocab:
        ranked = sorted(counts, key=lambda c: (-counts[c], c))
        kept = {c: counts[c] for c in ranked[:max_vocab - 1]}
        kept[UNKNOWN] = kept.get(UNKNOWN, 0) + sum(counts[c] for c in ranked[max_vocab - 1:])
    vocab = sorted(kept)
    return vocab, [kept[c] for c in vocab]


def encode(text, vocab):
    """Token ids (len(text),) int64 of ``text``; characters outside ``vocab`` become UNKNOWN.

    Raises CorpusError if a character is outside the vocabulary and it has no UNKNOWN.
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    table = np.array([ord(c) for c in vocab], dtype=np.uint32)  # sorted: vocab is by code point
    ids = np.minimum(np.searchsorted(table, codes), len(table) - 1)
    unknown = table[ids] != codes
    if unknown.any():
        if UNKNOWN not in vocab:
            char = chr(int(codes[np.argmax(unknown)]))
            raise CorpusError(f"character {char!r} is not in the vocabulary")
        ids[unknown] = vocab.index(UNKNOWN)
    return ids.astype(np.int64)


def decode(ids, vocab):
    """The text of token ids."""
    return "".join(vocab[i] for i in ids)
