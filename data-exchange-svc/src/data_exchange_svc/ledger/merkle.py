"""The ledger's Merkle tree (RFC 6962 / RFC 9162 shape), as pure functions.

Leaf hash ``SHA-256(0x00 || entry)``, node hash ``SHA-256(0x01 || left || right)``; a tree of
``n`` leaves splits at the largest power of two below ``n``. Every hash a proof needs is the
hash of a leaf range ``[start, end)`` that the split rule produces, and every such range is a
run of *complete* subtrees aligned to their size (sizes = the binary digits of the range's
length, largest first). The store therefore keeps each complete subtree once, addressed by
``(level, index)`` (it covers leaves ``[index * 2**level, (index + 1) * 2**level)``), and a
proof is a handful of key lookups, never a rebuild.

Proof generation is split in two so that the store can fetch everything in one query:
``inclusion_ranges`` / ``consistency_ranges`` name the ranges, ``nodes_for`` the stored nodes
they need, ``range_hash`` folds them. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence

NodeKey = tuple[int, int]
Range = tuple[int, int]


def node_id(key: NodeKey) -> int:
    """One integer per node, for storage: the level in the top bits, the index below."""
    level, index = key
    return level << 56 | index


def node_key(node: int) -> NodeKey:
    return node >> 56, node & ((1 << 56) - 1)


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` ≥ 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The tree hash of ``leaves`` (already leaf-hashed) by the definition: the reference the
    efficient paths are tested against, and the offline rebuild."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def subtrees(start: int, end: int) -> list[NodeKey]:
    """The aligned complete subtrees that make up ``[start, end)``, left to right. Valid for
    the ranges the split rule produces (``start`` aligned to a power of two ≥ the length)."""
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its complete subtrees: the right edge folds from the right."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hash(span: Range, nodes: Mapping[NodeKey, bytes]) -> bytes:
    return fold([nodes[key] for key in subtrees(*span)])


def nodes_for(spans: Iterable[Range]) -> set[NodeKey]:
    return {key for span in spans for key in subtrees(*span)}


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form the audit path of leaf ``index`` in a tree of ``size``,
    leaf end first (RFC 6962 PATH)."""
    if not 0 <= index < size:
        raise ValueError("the leaf is not in the tree")
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    path.reverse()
    return path


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The ranges whose hashes prove the tree of ``first`` leaves is a prefix of the tree of
    ``second`` (RFC 6962 PROOF / SUBPROOF)."""
    if not 0 <= first <= second:
        raise ValueError("the first tree must not be larger than the second")
    if first in (0, second):
        return []
    proof: list[Range] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append((start + k, end))
            end = start + k
        else:
            proof.append((start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        proof.append((start, end))
    proof.reverse()
    return proof


def _shift_until_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves that ``leaf`` is leaf ``index`` of the tree ``(size, root)``."""
    if not 0 <= index < size:
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and result == root


def verify_consistency(
    first: int, first_root: bytes, second: int, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``(first, first_root)`` is a prefix of ``(second,
    second_root)``. An empty first tree is a prefix of anything."""
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not proof
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first_hash = second_hash = path[0]
    for step in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first_hash = node_hash(step, first_hash)
            second_hash = node_hash(step, second_hash)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            second_hash = node_hash(second_hash, step)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and first_hash == first_root and second_hash == second_root


class Frontier:
    """The right edge of a growing tree: the complete subtrees of its size (one per set bit),
    enough to append leaves and to compute the root without reading the tree."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError("a frontier holds one hash per set bit of its size")
        self.size = size
        self.hashes = list(hashes)

    @classmethod
    def decode(cls, size: int, packed: bytes) -> "Frontier":
        return cls(size, [packed[i : i + 32] for i in range(0, len(packed), 32)])

    def encode(self) -> bytes:
        return b"".join(self.hashes)

    def append(self, leaf: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add a leaf; return every node it completes, the leaf itself first."""
        index = self.size
        completed = [((0, index), leaf)]
        node, level = leaf, 0
        while index >> level & 1:
            node = node_hash(self.hashes.pop(), node)
            level += 1
            completed.append(((level, index >> level), node))
        self.hashes.append(node)
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self.hashes) if self.hashes else hashlib.sha256(b"").digest()
