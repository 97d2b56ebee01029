"""What lingua's models hold and what frees them (issue 11): dropping the detector object frees almost
nothing (lingua caches its models process-wide); ``unload_language_models`` does.

Run from the repository root: ``PYTHONPATH=. python docs/measurements/issue11/lingua_release_probe.py``.
"""

from __future__ import annotations

from lingotune.core.peak_memory import return_freed_memory, rss_mb
from lingotune.language.detect import _detector, detect_language, release_detectors

SENTENCE = "El gato está en la casa y no quiere salir de allí hoy."


def main() -> None:
    print("start", rss_mb())
    detect_language(SENTENCE)
    print("after one detection", rss_mb())
    detector = _detector("LATIN", False)
    _detector.cache_clear()
    del detector
    return_freed_memory()
    print("detector dropped", rss_mb())
    detect_language(SENTENCE)
    release_detectors()
    return_freed_memory()
    print("after release_detectors (unload)", rss_mb())


if __name__ == "__main__":
    main()
