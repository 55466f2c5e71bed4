"""Character corpora: finding input files, reading them as text, and the vocabulary.

Text is read as UTF-8 with universal newlines (``\\r\\n`` and ``\\r`` become ``\\n``) and
every non-empty file ends with a newline (one is added if missing): exactly the characters
a line-by-line reader such as Hadoop Streaming sees, so the vocabulary job
(:mod:`jobs.mr.char_count`) and the encoder below count the same characters.

The vocabulary is a list of symbols sorted by code point; a symbol's index is its token id.
With a size cap, the most frequent characters are kept (ties broken by code point) and the
rest map to :data:`UNKNOWN`.
"""
import fnmatch
import glob
import os
import posixpath

import numpy as np

from jobs.storage import is_hdfs, open_store

UNKNOWN = "\ufffd"  # the Unicode replacement character stands for every dropped character


class CorpusError(ValueError):
    """An input file is missing, unreadable as text, or the corpus cannot make a vocabulary."""


def expand_inputs(inputs):
    """Files named by ``inputs`` (files, directories, globs; local or ``hdfs://``), sorted
    within each argument.

    Directories give the regular files directly inside them (hidden files and, on HDFS,
    ``_``-prefixed ones such as ``_SUCCESS`` skipped). A directory inside one, or matched by
    a glob, is an error (:func:`refuse_directories`). A local file named twice (also by
    another path, e.g. ``a.txt ./a.txt``) is read once. Standard input (``-``), devices and
    pipes are refused: every input is read more than once. On HDFS only the last component
    of a path may be a glob (``hdfs:///raw/2026-*/x.txt`` is refused).
    """
    files, seen = [], set()
    for item in inputs:
        found = expand_hdfs(item) if is_hdfs(item) else expand_local(item)
        for path in found:
            identity = path if is_hdfs(path) else os.path.realpath(path)
            if identity not in seen:
                seen.add(identity)
                files.append(path)
    if not files:
        raise CorpusError(f"no input files in {' '.join(inputs)}")
    return files


def refuse_directories(paths):
    """A CorpusError naming the first of ``paths``, directories met while listing the inputs.

    Inputs are read one level deep, as Hadoop's FileInputFormat reads an input directory
    (it fails on a directory inside: "Not a file"). Reading them recursively would take in
    whatever lies below (old runs, ``_temporary`` directories, partitions whose values are
    in the directory names); skipping them would drop data without a word."""
    if paths:
        raise CorpusError(f"{paths[0]} is a directory: inputs are read one level deep, not "
                          "recursively; name the files (or a glob that matches files only) "
                          f"and {paths[0]} itself if its files are wanted")


def expand_local(item):
    if os.path.isdir(item):
        found = [os.path.join(item, name) for name in sorted(os.listdir(item))
                 if not name.startswith(".")]
    elif os.path.isfile(item):
        return [item]
    elif item == "-" or os.path.exists(item):
        raise CorpusError(f"{item}: not a regular file (standard input, pipes and devices "
                          "are not supported: save the data to a file first)")
    else:
        found = sorted(glob.glob(item))
        if not found:
            raise CorpusError(f"{item}: no such file, directory or matching glob")
    refuse_directories([path for path in found if os.path.isdir(path)])
    return [path for path in found if os.path.isfile(path)]


def expand_hdfs(item):
    parent, pattern = posixpath.split(item.rstrip("/"))
    if glob.has_magic(parent):
        raise CorpusError(f"{item}: only the last component of an HDFS path may be a glob")
    is_glob = glob.has_magic(pattern)
    store = open_store(parent if is_glob else item)
    if not is_glob and store.exists() and not store.is_dir():
        return [item]
    if not store.is_dir():
        raise CorpusError(f"{item}: no such file, directory or matching glob")

    def chosen(names):
        return sorted(name for name in names if not name.startswith((".", "_"))
                      and (not is_glob or fnmatch.fnmatch(name, pattern)))

    refuse_directories([store.uri(name) for name in chosen(store.directories())])
    names = chosen(store.files())
    if is_glob and not names:
        raise CorpusError(f"{item}: no such file, directory or matching glob")
    return [store.uri(name) for name in names]


def input_size(path):
    """The length in bytes of an input file (local or ``hdfs://``)."""
    if is_hdfs(path):
        parent, name = posixpath.split(path)
        return open_store(parent).size(name)
    return os.path.getsize(path)


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


def line_text(line):
    """The characters one line of a line reader (its ``\\n`` stripped) stands for.

    line: bytes. Universal newlines as :func:`normalize_text` (a ``\\r`` left by a CRLF line
    end is dropped), plus the line's ``\\n``: the text of a file is the concatenation of its
    lines' texts. Raises UnicodeDecodeError for bytes that are not UTF-8.
    """
    text = line.decode("utf-8")
    if text.endswith("\r"):  # a CRLF line end whose \n the reader stripped
        text = text[:-1]
    return text.replace("\r\n", "\n").replace("\r", "\n") + "\n"


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
