# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Token counting of the ``chatgpt`` client: tiktoken ``cl100k_base`` (``@dqbd/tiktoken``), or an estimate.

With the cl100k_base ranks file (see ``ranks.py``) the count is exact: the cl100k pre-tokenizer below follows
the encoding's regular expression and each piece is merged by byte-pair encoding over the ranks, lowest rank
first and leftmost first, like tiktoken. Without the file, ``estimate`` runs the same pre-tokenizer and guesses
the tokens of each piece (see the README for how close that is).
"""

from __future__ import annotations

import base64
import heapq
import os
import threading
import unicodedata

from . import ranks as ranks_mod

# Special tokens of cl100k_base. The client removes <|endoftext|> before counting; any other one makes
# @dqbd/tiktoken refuse the text (encode's default disallowed_special is "all").
SPECIAL_TOKENS = ("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>")

# Unicode White_Space (what \s means in the encoding's regex engine); str.isspace() also takes U+001C..U+001F.
_WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


class SpecialTokenError(ValueError):
    """The text holds a special token: the client's tokenizer throws and the chat fails with this message."""


def _is_letter(char):
    return char.isalpha()  # general category L*, i.e. \p{L}


def _is_number(char):
    # \p{N}; str.isnumeric() would also take CJK numerals such as 一 or 五, which are letters (Lo)
    return unicodedata.category(char)[0] == "N"


def _is_space(char):
    return char in _WHITE_SPACE


def _contraction_at(text, i):
    """Length of ``(?i:'s|'t|'re|'ve|'m|'ll|'d)`` at i, or 0."""
    if text[i] != "'":
        return 0
    for suffix in _CONTRACTIONS:
        candidate = text[i + 1 : i + 1 + len(suffix)]
        if len(candidate) == len(suffix) and all(
            c.lower() == s or (s == "s" and c == "\u017f") for c, s in zip(candidate, suffix)
        ):
            return 1 + len(suffix)
    return 0


def pre_tokenize(text):
    """Split text like cl100k_base's pattern (leftmost-first alternation, backtracking as the regex does):

    ``(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|``
    ``\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+``
    """
    pieces = []
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        end = i + _contraction_at(text, i)
        if end == i:
            # [^\r\n\p{L}\p{N}]?\p{L}+
            j = i
            if (
                char not in "\r\n"
                and not _is_letter(char)
                and not _is_number(char)
                and i + 1 < n
                and _is_letter(text[i + 1])
            ):
                j = i + 1
            if _is_letter(text[j]):
                j += 1
                while j < n and _is_letter(text[j]):
                    j += 1
                end = j
        if end == i and _is_number(char):
            # \p{N}{1,3}
            j = i + 1
            while j < n and j < i + 3 and _is_number(text[j]):
                j += 1
            end = j
        if end == i:
            # ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            j = i + 1 if char == " " and i + 1 < n else i
            if j < n and not _is_space(text[j]) and not _is_letter(text[j]) and not _is_number(text[j]):
                j += 1
                while j < n and not _is_space(text[j]) and not _is_letter(text[j]) and not _is_number(text[j]):
                    j += 1
                while j < n and text[j] in "\r\n":
                    j += 1
                end = j
        if end == i and _is_space(char):
            run_end = i + 1
            while run_end < n and _is_space(text[run_end]):
                run_end += 1
            last_newline = max(text.rfind("\r", i, run_end), text.rfind("\n", i, run_end))
            if last_newline >= 0:
                end = last_newline + 1  # \s*[\r\n]+
            elif run_end == n or run_end - i == 1:
                end = run_end  # \s+(?!\S) at the end of the text, or \s+ for a single space
            else:
                end = run_end - 1  # \s+(?!\S): leave the last space to the next piece
        if end == i:  # not reached: every character fits one of the branches above
            end = i + 1
        pieces.append(text[i:end])
        i = end
    return pieces


def byte_pair_count(piece, ranks):
    """Number of tokens of one pre-tokenized piece (bytes) under byte-pair encoding with ``ranks``."""
    if piece in ranks:
        return 1
    size = len(piece)
    if size < 2:
        return size
    # Doubly linked parts [start, end) over the bytes; a heap of (rank, start) for adjacent pairs.
    ends = list(range(1, size + 1))
    prevs = list(range(-1, size - 1))
    alive = [True] * size
    heap = []
    for start in range(size - 1):
        rank = ranks.get(piece[start : start + 2])
        if rank is not None:
            heap.append((rank, start, start + 2))
    heapq.heapify(heap)
    count = size
    while heap:
        rank, start, pair_end = heapq.heappop(heap)
        if not alive[start]:
            continue
        middle = ends[start]
        if middle >= size or not alive[middle] or ends[middle] != pair_end:
            continue  # stale: one of the two parts changed since the pair was queued
        # merge start's part with the next one
        ends[start] = pair_end
        alive[middle] = False
        count -= 1
        if pair_end < size:
            prevs[pair_end] = start
            merged = ranks.get(piece[start : ends[pair_end]])
            if merged is not None:
                heapq.heappush(heap, (merged, start, ends[pair_end]))
        before = prevs[start]
        if before >= 0:
            merged = ranks.get(piece[before:pair_end])
            if merged is not None:
                heapq.heappush(heap, (merged, before, pair_end))
    return count


def utf8_like_js(text):
    """The UTF-8 that a JavaScript string becomes (lone surrogates turn into U+FFFD)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


class Tokenizer:
    """``cl100k_base`` counting when the ranks file is there, the estimate otherwise."""

    def __init__(self, ranks_path=None):
        self.ranks_path = ranks_path
        self._ranks = None
        self._cache = {}
        self._lock = threading.Lock()
        self.exact = False
        if ranks_path and os.path.isfile(ranks_path):
            self._ranks = load_ranks(ranks_path)
            self.exact = True

    def count(self, text):
        """``_getTokenCount``: <|endoftext|> removed, then encode(text).length."""
        text = text.replace("<|endoftext|>", "")
        for special in SPECIAL_TOKENS[1:]:
            if special in text:
                raise SpecialTokenError("The text contains a special token that is not allowed: %s" % special)
        if not self.exact:
            return estimate(text)
        total = 0
        cache = self._cache
        for piece in pre_tokenize(text):
            tokens = cache.get(piece)
            if tokens is None:
                tokens = byte_pair_count(utf8_like_js(piece), self._ranks)
                if len(piece) < 64:
                    with self._lock:
                        if len(cache) > 200000:
                            cache.clear()
                        cache[piece] = tokens
            total += tokens
        return total


def load_ranks(path):
    """Read a ``.tiktoken`` file (base64 token, space, rank per line) into {bytes: rank}."""
    ranks = {}
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _estimate_piece(piece):
    """Tokens of one piece without the ranks: ASCII words are mostly one token, other scripts cost more."""
    core = piece.lstrip(" ")
    if not core:
        return 1 if len(piece) <= 16 else (len(piece) + 15) // 16
    first = core[0]
    if _is_space(first):
        return 1 if len(piece) <= 16 else (len(piece) + 15) // 16
    if _is_number(first):
        return 1
    if core.isascii():
        if _is_letter(first):
            # common English words are single tokens; long or odd ones split every ~5 letters
            return 1 if len(core) <= 7 else (len(core) + 4) // 5
        return max(1, (len(core) + 2) // 3)  # punctuation runs
    tokens = 0
    for char in core:
        if char.isascii():
            tokens += 0.3
        elif "\u4e00" <= char <= "\u9fff" or "\u3040" <= char <= "\u30ff":
            tokens += 1.2  # CJK: the common characters are one token, the rarer ones two or three
        else:
            tokens += len(utf8_like_js(char)) / 2.0
    return max(1, int(round(tokens)))


def estimate(text):
    """cl100k_base estimate used when the ranks file is missing (same pre-tokenizer, guessed piece costs)."""
    return sum(_estimate_piece(piece) for piece in pre_tokenize(text))


def default_tokenizer(environ):
    """The tokenizer for this process: CHATGPT_WEB_STANDIN_CL100K names the ranks file, else the package's.
    A file that is not tiktoken's cl100k_base (size and SHA-256) is not used: the counts are then estimated."""
    path = environ.get("CHATGPT_WEB_STANDIN_CL100K") or ranks_mod.default_path()
    tokenizer = Tokenizer(path if ranks_mod.check(path) else None)
    tokenizer.ranks_path = path
    return tokenizer
