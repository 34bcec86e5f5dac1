"""Face templates of the synthetic population: 128-dimensional unit vectors.

A real template is the embedding a face-recognition model computes from a photo; no such model
runs here. Every synthetic person instead carries a ``face_seed``, and their template is drawn
from it deterministically, so that the registry, the tests and the demo "phone capture" agree.
The comparison itself (cosine similarity of unit vectors) is the one real systems use.
"""

import math
import random
import struct
from collections.abc import Sequence

TEMPLATE_DIMENSIONS = 128
_PACKED = struct.Struct(f"<{TEMPLATE_DIMENSIONS}d")


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector]


def template_from_seed(face_seed: int) -> list[float]:
    """The stored template of the person whose ``face_seed`` this is."""
    rng = random.Random(face_seed)
    return _unit([rng.gauss(0.0, 1.0) for _ in range(TEMPLATE_DIMENSIONS)])


def simulated_capture(template: Sequence[float], *, noise_seed: int, noise: float) -> list[float]:
    """What a phone might capture of the same face: the template plus Gaussian noise of standard
    deviation ``noise`` per dimension, renormalised (cosine ≈ 1 / sqrt(1 + 128·noise²))."""
    rng = random.Random(noise_seed)
    return _unit([x + rng.gauss(0.0, noise) for x in template])


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        raise ValueError("templates of different dimensions cannot be compared")
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norms


def pack_template(template: Sequence[float]) -> bytes:
    """Stored as 128 little-endian doubles: exact, and a quarter of the size of JSON text."""
    return _PACKED.pack(*template)


def unpack_template(packed: bytes) -> list[float]:
    return list(_PACKED.unpack(packed))
